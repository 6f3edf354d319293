"""The training entry point's config: exact verl keys per algorithm, verl's own validation,
engine choice, and bad configs failing before any work with one clear line."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlsum.train import check_config, compose_config
from rlsum.verl_engine import verl_config

# DESIGN.md, "Training entry point": the verl keys each algorithm sets (verl 0.9.1), plus
# Dr. GRPO's constant horizon (docs/architecture.md: verl needs loss_scale_factor for it).
DESIGN_KEYS = {
    "grpo": {"algorithm.adv_estimator": "grpo", "algorithm.norm_adv_by_std_in_grpo": True, "actor_rollout_ref.actor.loss_agg_mode": "token-mean", "actor_rollout_ref.actor.policy_loss.loss_mode": "vanilla"},
    "drgrpo": {"algorithm.adv_estimator": "grpo", "algorithm.norm_adv_by_std_in_grpo": False, "actor_rollout_ref.actor.loss_agg_mode": "seq-mean-token-sum-norm", "actor_rollout_ref.actor.use_kl_loss": False, "actor_rollout_ref.actor.loss_scale_factor": "${data.max_response_length}"},
    "gspo": {
        "algorithm.adv_estimator": "grpo",
        "actor_rollout_ref.actor.policy_loss.loss_mode": "gspo",
        "actor_rollout_ref.actor.loss_agg_mode": "seq-mean-token-mean",
        "actor_rollout_ref.actor.clip_ratio_low": 3e-4,
        "actor_rollout_ref.actor.clip_ratio_high": 4e-4,
        "actor_rollout_ref.actor.use_kl_loss": False,
    },
}


def flat(node, prefix: str = "") -> dict:
    """A nested mapping's leaves as {dotted key: value}."""
    if not isinstance(node, dict):
        return {prefix[:-1]: node}
    return {key: value for name, child in node.items() for key, value in flat(child, f"{prefix}{name}.").items()}


@pytest.mark.parametrize("algo", sorted(DESIGN_KEYS))
def test_each_algo_sets_exactly_the_design_keys(algo):
    """The algo file (rlsum/conf/algo/) sets the design's keys and no other, and the
    composed config (over verl's ppo_trainer) carries them."""
    from omegaconf import OmegaConf

    from rlsum.train import CONF_DIR

    assert flat(OmegaConf.to_container(OmegaConf.load(CONF_DIR / "algo" / f"{algo}.yaml"))) == {"algo.name": algo, **DESIGN_KEYS[algo]}
    cfg = compose_config([f"+algo={algo}"])
    check_config(cfg)
    for key, value in DESIGN_KEYS[algo].items():
        expected = cfg.data.max_response_length if value == "${data.max_response_length}" else value
        assert OmegaConf.select(cfg, key, throw_on_missing=True) == expected, key


def test_penalty_and_verl_keys_are_overridable():
    cfg = compose_config(["+algo=gspo", "+penalty=p1", "penalty.w=0.1", "penalty.tau=0.3", "data.train_batch_size=4", "actor_rollout_ref.rollout.n=2"])
    assert dict(cfg.penalty) == {"name": "p1", "w": 0.1, "tau": 0.3, "m": 300}
    assert cfg.data.train_batch_size == 4 and cfg.actor_rollout_ref.rollout.n == 2
    assert cfg.run.name == "gspo-p1-w0.1"


def test_composed_config_passes_verls_own_validation(tmp_path):
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    for algo in DESIGN_KEYS:
        cfg = verl_config(compose_config([f"+algo={algo}"]), tmp_path, tmp_path / "prepared", tmp_path / "ranker", tmp_path / "actor")
        validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
        assert cfg.reward.custom_reward_function.name == "compute_score"
        assert cfg.reward.custom_reward_function.reward_kwargs.penalty == "p2"
        assert not need_critic(cfg)  # GRPO-family: no value model


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["+algo=sppo"], "Could not find 'algo/sppo'"),
        ([], "no algorithm selected: add +algo=grpo|drgrpo|gspo"),
        (["+algo=gspo", "+penalty=p1", "penalty.tau=1.0"], "0 <= tau < 1"),
        (["+algo=gspo", "penalty.w=-0.5"], "w must be >= 0"),
        (["+algo=gspo", "jobs.data_dir=/nonexistent/jobs", "ranker.path=/x"], "jobs.data_dir=/nonexistent/jobs: not a data directory"),
        (["+algo=gspo", "engine=fsdp"], "engine must be one of auto, verl, embedded"),
        (["+algo=gspo", "bootstrap.ranker_recipe=tiny"], "bootstrap.ranker_recipe=tiny: not a ranker.train recipe"),
        (["+algo=gspo", "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=null"], "verl rejects the config"),
    ],
)
def test_bad_config_is_one_clear_error(overrides, message):
    with pytest.raises(ValueError, match=message.replace("|", r"\|").replace("+", r"\+")):
        check_config(compose_config(overrides))


ROOT = Path(__file__).resolve().parents[1]


def train_cli(args, cwd, **kwargs):
    """`python -m rlsum.train ARGS` run from `cwd` (outside the checkout)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("HYDRA_FULL_ERROR", None)
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run([sys.executable, "-m", "rlsum.train", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, **kwargs)


def error_lines(stderr):
    return [line for line in stderr.strip().splitlines() if line.strip()]


@pytest.mark.e2e  # a `python -m rlsum.train` subprocess
def test_cli_bad_config_prints_one_line_and_does_no_work(tmp_path):
    out = train_cli(["+algo=gspo", "+penalty=p1", "penalty.tau=1.5", f"cache_dir={tmp_path}/cache", f"run.dir={tmp_path}/run"], cwd=tmp_path / "cwd")
    assert out.returncode == 2
    errors = error_lines(out.stderr)
    assert len(errors) == 1 and "tau" in errors[0], out.stderr
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()
    assert list((tmp_path / "cwd").iterdir()) == []  # no outputs/, .hydra/ or Hydra log file


@pytest.mark.e2e  # a `python -m rlsum.train` subprocess
def test_cli_composition_error_is_one_line(tmp_path):
    out = train_cli(["+algo=sppo"], cwd=tmp_path)
    assert out.returncode == 2
    errors = error_lines(out.stderr)
    assert len(errors) == 1 and "Could not find 'algo/sppo'" in errors[0] and "+algo=grpo|drgrpo|gspo" in errors[0], out.stderr


@pytest.mark.e2e  # a `python -m rlsum.train` subprocess
def test_cfg_job_prints_the_composed_config(tmp_path):
    import yaml

    out = train_cli(["+algo=gspo", "penalty.w=0.7", "--cfg", "job"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    cfg = yaml.safe_load(out.stdout)
    assert cfg["algo"] == {"name": "gspo"} and cfg["penalty"]["w"] == 0.7
    assert cfg["actor_rollout_ref"]["actor"]["policy_loss"]["loss_mode"] == "gspo"  # verl's own keys
    assert list(tmp_path.iterdir()) == []


@pytest.mark.e2e  # a `python -m rlsum.train` subprocess
def test_help_lists_the_config_groups(tmp_path):
    out = train_cli(["--help"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    section = out.stdout.split("== Configuration groups ==")[1].split("== Config ==")[0]
    groups = dict(line.split(": ", 1) for line in section.splitlines() if ": " in line)
    assert groups["algo"] == "drgrpo, grpo, gspo" and groups["penalty"] == "p1, p2"
    assert groups["engine"] == "auto, embedded, verl" and "tiny" in groups["models"].split(", ")
    assert "python -m rlsum.train" in out.stdout and "actor_rollout_ref:" in out.stdout  # our header, the config
    assert list(tmp_path.iterdir()) == []


@pytest.mark.e2e  # a `python -m rlsum.train` subprocess
def test_multirun_runs_each_job_in_its_own_process_through_hydras_sweeper(tmp_path):
    """Two jobs, each a `python -m rlsum.train` of its own that fails in check_config (the
    parent never checks a job's config itself): both run, the sweep fails with the status."""
    args = ["-m", "hydra/launcher=basic", "+algo=grpo,gspo", "+penalty=p1", "penalty.tau=1.5", f"run.root={tmp_path}/runs", f"run.dir={tmp_path}/run"]
    out = train_cli(args, cwd=tmp_path / "cwd")
    assert out.returncode == 2, out.stderr
    assert "Launching 2 jobs locally" in out.stderr
    jobs = [line for line in out.stderr.splitlines() if "INFO rlsum.train: job #" in line]  # our log format, on stderr
    assert [line.split("job #")[1].split(":")[0] for line in jobs] == ["0", "1"]
    assert all(" -m rlsum.train " in line and "hydra/launcher" not in line for line in jobs)  # the child's command line
    assert "+algo=grpo +penalty=p1 penalty.tau=1.5" in jobs[0] and "+algo=gspo +penalty=p1 penalty.tau=1.5" in jobs[1]
    assert len([line for line in out.stderr.splitlines() if "ERROR ranker: penalty tau must satisfy" in line]) == 2  # one per job
    assert "multirun job #0 (+algo=grpo" in error_lines(out.stderr)[-1] and "failed with exit status 2" in error_lines(out.stderr)[-1]
    assert not (tmp_path / "run").exists()
    assert list((tmp_path / "cwd").iterdir()) == []  # no multirun/ or outputs/ in the working directory
    (sweep,) = (tmp_path / "runs" / "multirun").iterdir()  # the sweep's record, under run.root
    assert [p.name for p in sweep.iterdir()] == ["multirun.yaml"]


@pytest.mark.e2e  # a `python -m rlsum.train` subprocess
def test_multirun_composition_error_stops_before_any_job(tmp_path):
    out = train_cli(["-m", "+algo=grpo,sppo", f"run.root={tmp_path}/runs"], cwd=tmp_path)
    assert out.returncode == 2
    errors = error_lines(out.stderr)
    assert len(errors) == 1 and "Could not find 'algo/sppo'" in errors[0], out.stderr
    assert "job #" not in out.stderr


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.mark.slow  # Hydra's sweeper and launcher in process
def test_a_good_multirun_runs_every_job_command_and_succeeds(tmp_path, monkeypatch, restore_logging):
    """The sweep of Hydra's basic sweeper and launcher, in process, with each job's process
    stubbed (a real job trains): one `python -m rlsum.train <overrides>` per job, the
    product of the comma lists, and a clean exit when every job succeeds."""
    import rlsum.train

    commands = []
    monkeypatch.setattr(rlsum.train.subprocess, "run", lambda command, check: commands.append(command) or subprocess.CompletedProcess(command, 0))
    extra = tmp_path / "extra"  # --config-dir: a penalty of the user's
    (extra / "penalty").mkdir(parents=True)
    (extra / "penalty" / "mine.yaml").write_text("name: p2\nw: 0.9\n")
    monkeypatch.chdir(tmp_path)
    assert rlsum.train.main(["--multirun", f"--config-dir={extra}", "+algo=grpo,gspo", "+penalty=p2,mine", "hydra.verbose=false", f"run.root={tmp_path}/runs"]) is None
    assert [c[:3] for c in commands] == [[sys.executable, "-m", "rlsum.train"]] * 4
    assert [c[3:] for c in commands] == [
        [f"--config-dir={extra}", "hydra.verbose=false", f"+algo={algo}", f"+penalty={penalty}", f"run.root={tmp_path}/runs"] for algo in ("grpo", "gspo") for penalty in ("p2", "mine")
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["extra", "runs"]
    assert "HYDRA_FULL_ERROR" not in os.environ


def test_a_changed_bootstrap_recipe_builds_afresh(tmp_path):
    from rlsum.bootstrap import recipe_dir

    recipe = {"sft_steps": 600, "lr": 3e-3}
    assert recipe_dir(tmp_path, "actor", recipe) == recipe_dir(tmp_path, "actor", dict(reversed(recipe.items())))
    assert recipe_dir(tmp_path, "actor", recipe) != recipe_dir(tmp_path, "actor", {**recipe, "sft_steps": 700})
    assert recipe_dir(tmp_path, "actor", recipe).parent == tmp_path


def test_the_bootstrap_warm_starts_the_actor_on_train_postings_with_the_corpus_tokenizer(tmp_path):
    from transformers import AutoTokenizer

    from jobdata import load_dataset
    from rlsum import bootstrap

    data = bootstrap.synthetic_data(tmp_path, "compact", n_items=400, n_queries=40, item_splits=True)
    assert bootstrap.synthetic_data(tmp_path, "compact", n_items=400, n_queries=40, item_splits=True) == data  # built once
    dataset = load_dataset(data)
    postings = bootstrap.train_postings(data)
    evaluated = {qrel.item_id for query in dataset.queries_in("test") for qrel in dataset.candidates(query.query_id)}
    assert postings and evaluated and not set(postings) & evaluated
    tokenizer_dir = bootstrap.corpus_tokenizer(tmp_path, data, vocab_size=1024)
    actor = bootstrap.tiny_actor(tmp_path, data, tokenizer_dir, sft_steps=2, max_prompt_tokens=656, lr=1e-3)
    assert len(AutoTokenizer.from_pretrained(actor)) == len(AutoTokenizer.from_pretrained(tokenizer_dir)) < 2048
    assert actor.parent.name.startswith("actor-") and not (actor.parent / "init").exists()

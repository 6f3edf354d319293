"""Every training command the README gives for a cluster, as the three launchers would run
it (their dry runs), composes into a config that passes our checks and verl's own
validation, hands verl only absolute paths, and gets at least one rollout replica."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from rlsum.paths import absolute_paths, is_hub_id
from rlsum.train import check_config, compose_config
from rlsum.verl_engine import check_verl_config, rollout_replicas, verl_config

ROOT = Path(__file__).resolve().parents[1]
SHARED_PREFIXES = ("/shared/rlsum", "/mnt/rlsum")
VERL_PATHS = ("data.train_files", "data.val_files", "trainer.default_local_dir", "actor_rollout_ref.model.path")


def readme_commands() -> list[str]:
    """The shell commands of the README's cluster section and its `engine=verl` examples."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Running on a Ray cluster", 1)[1].split("\n## ", 1)[0]
    before = text.split("## Running on a Ray cluster", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S) + re.findall(r"```bash\n(.*?)```", before, re.S)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and ("engine=verl" in words) and not words[0].startswith("kubectl"):
                commands.append(line)
    return commands


def launcher_argv(line: str, cwd: Path) -> list[str]:
    """The `rlsum.train` arguments a README command runs, from its launcher's dry run."""
    words = shlex.split(line, comments=True)
    env = {}
    while "=" in words[0] and not words[0].startswith(("-", "+")):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "RAY_", "WANDB_"))}
    run = lambda argv, **more: subprocess.run(argv, cwd=ROOT, env={**base, "PYTHON": sys.executable, **env, **more}, capture_output=True, text=True, timeout=60, check=True)
    if words[:3] == ["python", "-m", "rlsum.train"]:
        return words[3:]
    if words[0] == "launch/ray_submit.sh":
        argv = shlex.split(run(["bash", *words[:1], "--dry-run", *words[1:]]).stdout.strip())
        return argv[argv.index("--") + 4 :]
    if words[0] == "launch/kuberay.sh":
        manifest = yaml.safe_load(run(["bash", *words[:1], "--dry-run", *words[1:]]).stdout)
        return shlex.split(manifest["spec"]["entrypoint"])[3:]
    if words[0] == "sbatch":
        nodes = next(w.split("=", 1)[1] for w in words if w.startswith("--nodes="))
        script = next(i for i, w in enumerate(words) if w.endswith(".sbatch"))
        out = run(["bash", words[script], *words[script + 1 :]], DRY_RUN="1", SLURM_JOB_NUM_NODES=nodes, VENV="").stdout
        return shlex.split(next(c for c in out.splitlines() if c.startswith("python -m rlsum.train")))[3:]
    raise AssertionError(f"a README command this test does not know: {line}")


def on_test_storage(argv: list[str], shared: Path) -> list[str]:
    """The arguments with the README's shared storage mapped into the test's tmp dir."""
    for prefix in SHARED_PREFIXES:
        argv = [a.replace(prefix, str(shared)) for a in argv]
    return argv


def test_the_readme_has_the_commands():
    kinds = {shlex.split(line)[0] if "=" not in shlex.split(line)[0] else next(w for w in shlex.split(line) if "=" not in w) for line in readme_commands()}
    assert {"python", "launch/ray_submit.sh", "launch/kuberay.sh", "sbatch"} <= kinds, kinds


@pytest.mark.parametrize("line", readme_commands())
def test_each_readme_cluster_command_passes_every_check(line, tmp_path, monkeypatch):
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    argv = on_test_storage(launcher_argv(line, tmp_path), tmp_path / "shared")
    # The README's models and catalogue, where its paths point (relative ones from the repository root).
    monkeypatch.chdir(tmp_path)
    composed = compose_config(argv)
    for key in ("ranker.path", "jobs.data_dir"):
        path = Path(OmegaConf.select(composed, key))
        path.mkdir(parents=True, exist_ok=True)
        (path / ("config.json" if key == "ranker.path" else "items.jsonl")).write_text("{}")
    cfg = absolute_paths(composed)
    check_config(cfg)
    check_verl_config(cfg)
    assert rollout_replicas(cfg) >= 1
    run_dir = Path(cfg.run.dir)
    assert run_dir.is_absolute() and (str(run_dir).startswith(str(tmp_path / "shared")) or "run.root" not in line)
    actor = tmp_path / "actor" if is_hub_id(cfg.actor.path) else Path(cfg.actor.path)
    verl = verl_config(cfg, run_dir, run_dir / "prepared", Path(cfg.ranker.path), actor)
    validate_config(config=verl, use_reference_policy=need_reference_policy(verl), use_critic=need_critic(verl))
    for key in VERL_PATHS:
        assert Path(OmegaConf.select(verl, key)).is_absolute(), key
    for key, value in verl.reward.custom_reward_function.reward_kwargs.items():
        if key.endswith("_path"):
            assert Path(value).is_absolute(), key

"""RL training of the summarizer: `python -m rlsum.train +algo=gspo [overrides...]`.

A Hydra application (`@hydra.main`, as verl's `main_ppo`), so Hydra's own command line
works: `--help` (the config groups and the composed config), `--info`, `--cfg job|hydra|all`,
`-m`/`--multirun` with any sweeper and launcher (`hydra/launcher=...`), `--config-dir`.
Composes rlsum/conf/config.yaml (verl's ppo_trainer plus the project's keys), checks it, picks
the engine (verl on Ray with GPUs and vLLM, else the embedded loop, and says why),
bootstraps the tiny CPU default when no models or data are given, prepares the training
parquet once per run directory, trains, and prints `run_dir=PATH` as its last line.
Running the same command again resumes from the run directory's last checkpoint. A bad
config stops before any work with one line on stderr (exit status 2).

In a multirun, every job runs as the single-run command `python -m rlsum.train <its
overrides>` in a process of its own; a failed job fails the sweep (after the other jobs of
its batch). Hydra writes nothing into the working directory (no `outputs/`, `.hydra/` or log
file; no chdir): the run directory is `run.dir`, and a multirun records its sweep in
`<run.root>/multirun/<time>/multirun.yaml`.

From Python: `compose_config(overrides)` composes the same config (no command line) and
`train(cfg)` does one run of it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from jobdata import write_json, write_text
from ranker.cli import run_cli
from ranker.recipes import RECIPES
from rlsum import verl_engine
from rlsum.paths import absolute_paths, is_hub_id, local_model

log = logging.getLogger("rlsum.train")

# The Hydra configs, package data of rlsum (pyproject.toml), so an installed wheel composes too.
CONF_DIR = Path(__file__).resolve().parent / "conf"
# The log format, also Hydra's job_logging format (conf/config.yaml).
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ALGOS = ("grpo", "drgrpo", "gspo")
ENGINES = ("auto", "verl", "embedded")


def bad_config(error: Exception) -> ValueError:
    """A Hydra or OmegaConf error as one ValueError line."""
    message = " ".join(str(error).split()).split(" Config search path:")[0]
    if "algo/" in message:
        message += f" (choose +algo={'|'.join(ALGOS)})"
    return ValueError(f"bad config: {message}")


def compose_config(overrides: list[str], config_name: str = "config") -> DictConfig:
    """The composed, resolved config `rlsum/conf/<config_name>.yaml` with these overrides, as
    the command line composes it (Hydra's compose API); a Hydra or OmegaConf error becomes
    one ValueError line."""
    from hydra import compose, initialize_config_dir

    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name, overrides=overrides)
            OmegaConf.resolve(cfg)
            return cfg
    except (HydraException, OmegaConfBaseException) as error:
        raise bad_config(error) from None


def check_config(cfg: DictConfig) -> None:
    """Everything that can be wrong with a config, found before any work."""
    from rewards.summary import RewardConfig
    from rewards.verl_reward import check_ranker_placement

    if cfg.algo.name not in ALGOS:
        raise ValueError(f"no algorithm selected: add +algo={'|'.join(ALGOS)}")
    engine = cfg.engine.get("name") if isinstance(cfg.engine, DictConfig) else None
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}")
    RewardConfig.from_penalty(cfg.penalty, cfg.summary_reward.cut_penalty)
    if cfg.ranker.path is None and cfg.bootstrap.ranker_recipe not in RECIPES:
        raise ValueError(f"bootstrap.ranker_recipe={cfg.bootstrap.ranker_recipe}: not a ranker.train recipe ({', '.join(sorted(RECIPES))})")
    if cfg.jobs.data_dir is not None and not (Path(cfg.jobs.data_dir) / "items.jsonl").exists() and not (Path(cfg.jobs.data_dir) / "items.parquet").exists():
        raise ValueError(f"jobs.data_dir={cfg.jobs.data_dir}: not a data directory (no items.jsonl or items.parquet)")
    if cfg.jobs.data_dir is not None and cfg.ranker.path is None:
        raise ValueError("jobs.data_dir needs ranker.path: the tiny bootstrap ranker is trained on the synthetic data only")
    if cfg.ranker.path is not None and not is_hub_id(cfg.ranker.path) and not (Path(cfg.ranker.path) / "config.json").exists():
        raise ValueError(f"ranker.path={cfg.ranker.path}: not a model directory (no config.json)")
    check_ranker_placement(cfg.ranker.device, cfg.ranker.dtype)
    if cfg.ranker.serve and cfg.ranker.scorer_url:
        raise ValueError(f"ranker.serve=true starts a server for the ranker, and ranker.scorer_url={cfg.ranker.scorer_url} names one: choose one")
    if cfg.ranker.scorer_url is not None and not str(cfg.ranker.scorer_url).startswith(("http://", "https://")):
        raise ValueError(f"ranker.scorer_url={cfg.ranker.scorer_url}: not an http(s) URL of a /v1/score server (null: score in-process)")
    steps, epochs = cfg.trainer.total_training_steps, cfg.trainer.total_epochs
    if not (steps and steps > 0) and not (steps is None and epochs and epochs > 0):
        raise ValueError("trainer.total_training_steps must be a positive number of steps (or null, with trainer.total_epochs > 0 passes over the training set)")
    from verl.utils.config import omega_conf_to_dataclass

    try:  # verl's own checks of the actor and algorithm sections
        omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)
        omega_conf_to_dataclass(cfg.algorithm)
    except Exception as error:  # noqa: BLE001 - verl raises assertion, instantiation and value errors
        raise ValueError(f"verl rejects the config: {' '.join(str(error).split())}") from None


def resolve_inputs(cfg: DictConfig) -> tuple[Path, Path, Path]:
    """Data directory, ranker and actor: the configured ones (a Hugging Face id resolved to
    its local snapshot), or the bootstrapped tiny ones."""
    from rlsum import bootstrap

    cache = Path(cfg.cache_dir)
    built = cfg.bootstrap
    data_dir = Path(cfg.jobs.data_dir) if cfg.jobs.data_dir else bootstrap.synthetic_data(cache, built.data.shape, built.data.n_items, built.data.n_queries, built.data.item_splits)
    builds_a_model = not (cfg.ranker.path and cfg.actor.path)
    tokenizer = bootstrap.corpus_tokenizer(cache, data_dir, built.tokenizer_vocab_size) if builds_a_model and built.tokenizer_vocab_size else None
    ranker = local_model(cfg.ranker.path, "ranker.path") if cfg.ranker.path else bootstrap.tiny_ranker(cache, data_dir, tokenizer, built.ranker_recipe, built.ranker_epochs, cfg.ranker.max_length, built.ranker_layers, built.ranker_heads)
    actor = local_model(cfg.actor.path, "actor.path") if cfg.actor.path else bootstrap.tiny_actor(cache, data_dir, tokenizer, built.actor_sft_steps, cfg.data.max_prompt_length, built.actor_sft_lr)
    return data_dir, ranker, actor


def prepared_data(cfg: DictConfig, run_dir: Path, data_dir: Path, ranker: Path, actor: Path, cluster: str | None = None) -> Path:
    """The run's training parquet, built once; on a Ray cluster (`cluster`, its address) by a
    task holding one of its GPUs."""
    from rlsum.bootstrap import build_once
    from rlsum.data.prepare import prepare

    options = dict(queries_per_item=cfg.jobs.queries_per_item, max_items=cfg.jobs.max_items, max_val_items=cfg.jobs.max_val_items, ranker_max_length=cfg.ranker.max_length, seed=cfg.run.seed, max_prompt_tokens=int(cfg.data.max_prompt_length))

    def build(out: Path) -> None:
        if cluster:
            verl_engine.on_a_gpu(cluster, prepare, data_dir, ranker, actor, out, **options)
        else:
            prepare(data_dir, ranker, actor, out, **options)

    return build_once(run_dir / "prepared", build, "training parquet")


def training_steps(cfg: DictConfig, prepared: Path) -> int:
    """trainer.total_training_steps, or total_epochs passes over the training rows (as verl
    counts them: whole batches, the last partial one dropped)."""
    if cfg.trainer.total_training_steps:
        return int(cfg.trainer.total_training_steps)
    from jobdata.rl_rows import TRAIN_FILE, load_rows

    return max(1, len(load_rows(prepared / TRAIN_FILE)) // int(cfg.data.train_batch_size)) * int(cfg.trainer.total_epochs)


def report_run(run_dir: Path) -> None:
    """Log and save (summary.json) how the reward moved between the first and last steps."""
    from rlsum.run_summary import read_run_log, summarize_run

    rows = read_run_log(run_dir / "metrics.jsonl")
    if len(rows) >= 2:
        summary = summarize_run(rows, validation=read_run_log(run_dir / "validation.jsonl"))
        # scripts/sweep.sh takes summary.json for a finished run: it appears whole or not at all.
        write_json(run_dir / "summary.json", summary)
        log.info("reward %.4f over the first %d steps -> %.4f over the last %d (step noise %.4f); length ratio r = L_c / L_o %.2f -> %.2f", summary["reward_first"], summary["window"], summary["reward_last"], summary["window"], summary["step_noise"], summary["length_ratio_first"], summary["length_ratio_last"])
        if "val_reward_first" in summary:
            log.info("held-out reward (validation) %.4f at step %d -> %.4f at step %d", summary["val_reward_first"], summary["val_steps"][0], summary["val_reward_last"], summary["val_steps"][1])


def train(cfg: DictConfig) -> Path:
    """One run of a composed config: check it, choose the engine, bootstrap and prepare what
    is missing, train and report; prints `run_dir=PATH` as its last stdout line."""
    try:
        OmegaConf.resolve(cfg)  # compose_config's is resolved already; Hydra's task config is not
    except OmegaConfBaseException as error:
        raise bad_config(error) from None
    cfg = absolute_paths(cfg)  # verl hands paths to processes on every node, in other directories
    check_config(cfg)
    cluster = verl_engine.cluster_address() if cfg.engine.name != "embedded" else None
    resources = verl_engine.probe_resources(cluster) if cfg.engine.name != "embedded" else None
    engine, why = verl_engine.choose_engine(cfg.engine.name, resources)
    log.info("engine: %s (%s)", engine, why)
    run_dir = Path(cfg.run.dir)
    if engine == "verl":
        verl_engine.check_verl_config(cfg, resources)
        if cfg.ranker.serve and not cluster:
            raise ValueError("ranker.serve=true starts the ranker's server in a Ray cluster: set RAY_ADDRESS, or start python -m serving.server yourself and set ranker.scorer_url")
        if verl_engine.in_ray_working_dir(run_dir):
            raise ValueError(f"run.dir={run_dir} is inside the Ray job's temporary working directory, which is deleted with the job and is another copy on every node; set run.root (RUN_ROOT for launch/ray_submit.sh) to lasting storage every node mounts")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / "config.yaml", OmegaConf.to_yaml(cfg))
    data_dir, ranker, actor = resolve_inputs(cfg)
    if engine == "verl" and cluster:
        verl_engine.check_shared_storage({"jobs.data_dir": data_dir, "ranker.path": ranker, "actor.path": actor}, {"run.dir": run_dir})
    prepared = prepared_data(cfg, run_dir, data_dir, ranker, actor, cluster if engine == "verl" else None)
    if engine == "verl":
        from rlsum.data.prepare import check_prompt_budget

        check_prompt_budget(prepared, int(cfg.data.max_prompt_length))  # verl would cut an older run's prompts from the front
        if cfg.ranker.serve:
            from rlsum import ranker_service

            with open_dict(cfg):
                cfg.ranker.scorer_url = ranker_service.start(cluster, str(ranker), cfg.ranker.dtype)
        try:
            verl_engine.run_verl(verl_engine.verl_config(cfg, run_dir, prepared, ranker, actor))
        finally:
            if cfg.ranker.serve:
                ranker_service.stop(cluster)
        report_run(run_dir)
    else:
        from rlsum.embedded import run_embedded

        with open_dict(cfg):
            cfg.trainer.total_training_steps = training_steps(cfg, prepared)
        run_embedded(cfg, run_dir, prepared, str(actor), str(ranker))
        report_run(run_dir)
    print(f"run_dir={run_dir}")
    return run_dir


class JobFailed(Exception):
    """A multirun job's process exited with a non-zero status."""

    def __init__(self, message: str, returncode: int):
        super().__init__(message)
        self.returncode = returncode


# Hydra settings a multirun job's process keeps (the rest, launcher and sweeper included,
# belong to the sweep).
JOB_HYDRA_OVERRIDES = ("hydra.verbose", "hydra.job_logging", "hydra/job_logging", "hydra.hydra_logging", "hydra/hydra_logging", "hydra.searchpath")


def job_command(hydra_cfg: DictConfig) -> list[str]:
    """The single-run command of the multirun job `hydra_cfg` (HydraConfig.get()): its task
    overrides, plus the config directory and name and the logging overrides it was given."""
    command = [sys.executable, "-m", "rlsum.train"]
    for source in hydra_cfg.runtime.config_sources:
        if source.provider == "main" and source.schema == "file" and Path(source.path) != CONF_DIR:  # --config-path
            command.append(f"--config-path={source.path}")
        if source.provider == "command-line":  # --config-dir
            command.append(f"--config-dir={source.path}")
    if hydra_cfg.job.config_name != "config":
        command.append(f"--config-name={hydra_cfg.job.config_name}")
    command += [o for o in hydra_cfg.overrides.hydra if o.lstrip("+~").startswith(JOB_HYDRA_OVERRIDES)]
    return command + list(hydra_cfg.overrides.task)


def run_job(cfg: DictConfig, hydra_cfg: DictConfig) -> Path:
    """A multirun job: the single-run command in its own process; raises JobFailed if it fails."""
    command = job_command(hydra_cfg)
    log.info("job #%s: python %s", hydra_cfg.job.num, " ".join(command[1:]))
    returncode = subprocess.run(command, check=False).returncode
    if returncode != 0:
        raise JobFailed(f"multirun job #{hydra_cfg.job.num} ({' '.join(hydra_cfg.overrides.task)}) failed with exit status {returncode}", returncode if returncode > 0 else 1)
    return Path(cfg.run.dir)


# Set by main() for the time of one command: where the task function leaves a single run's
# run directory, or the bad-config error main() raises (see app).
_call: dict | None = None


# config_path is absolute: relative ("conf") would be the package resource `rlsum.conf` when
# main() is imported, not run as `python -m rlsum.train`, and rlsum/conf is no module.
@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def app(cfg: DictConfig) -> Path | None:
    """Hydra's task function: in a multirun, run this job in its own process; else one run."""
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN:
        return run_job(cfg, hydra_cfg)
    if _call is None:  # called by something other than main(): Hydra reports errors itself
        return train(cfg)
    try:
        _call["run_dir"] = train(cfg)
    except (ValueError, FileNotFoundError) as error:
        # main() raises it after Hydra returns, for ranker.cli.run_cli's one line; raised
        # here, Hydra would first write a line of its own ("Error executing job ...").
        _call["error"] = error
    return _call.get("run_dir")


def main(argv: list[str] | None = None) -> Path | None:
    """`python -m rlsum.train ARGS` (argv: ARGS, default sys.argv[1:]): Hydra's command line.
    Returns a single run's run directory (None for --multirun, --cfg, --info). Bad configs
    and Hydra's composition errors raise one ValueError line; a failed multirun job exits
    with its status."""
    global _call
    saved_argv, saved_full_error = sys.argv, os.environ.get("HYDRA_FULL_ERROR")
    if argv is not None:
        sys.argv = [sys.argv[0] if sys.argv else "rlsum.train", *argv]
    # Hydra's errors reach main() as exceptions instead of Hydra's multi-line report.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    _call = {}
    try:
        app()
    except JobFailed as error:
        log.error("%s", error)
        raise SystemExit(error.returncode) from None
    except (HydraException, OmegaConfBaseException) as error:
        # Composition errors come before Hydra configures logging (importing verl has set up
        # the root logger in its own format): run_cli's one line in ours.
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, force=True)
        raise bad_config(error) from None
    finally:
        outcome, _call = _call, None
        sys.argv = saved_argv
        if saved_full_error is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = saved_full_error
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("run_dir")


if __name__ == "__main__":
    run_cli(main)

"""RL training of the summarizer: `python -m rlsum.train +algo=gspo [overrides...]`.

Composes rlsum/conf/config.yaml (verl's ppo_trainer plus the project's keys), checks it, picks
the engine (verl on Ray with GPUs and vLLM, else the embedded loop, and says why),
bootstraps the tiny CPU default when no models or data are given, prepares the training
parquet once per run directory, trains, and prints `run_dir=PATH` as its last line.
Running the same command again resumes from the run directory's last checkpoint.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from ranker.cli import run_cli
from rlsum.verl_engine import choose_engine, run_verl, verl_config

log = logging.getLogger("rlsum.train")

CONF_DIR = Path(__file__).resolve().parent / "conf"
ALGOS = ("grpo", "drgrpo", "gspo")
ENGINES = ("auto", "verl", "embedded")


def compose_config(overrides: list[str], config_name: str = "config") -> DictConfig:
    """The composed config `rlsum/conf/<config_name>.yaml`; a Hydra or OmegaConf error becomes one
    ValueError line."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            cfg = compose(config_name, overrides=overrides)
            OmegaConf.resolve(cfg)
            return cfg
    except (HydraException, OmegaConfBaseException) as error:
        message = " ".join(str(error).split())
        if "algo/" in message:
            message += f" (choose +algo={'|'.join(ALGOS)})"
        raise ValueError(f"bad config: {message}") from None


def check_config(cfg: DictConfig) -> None:
    """Everything that can be wrong with a config, found before any work."""
    from rewards.summary import RewardConfig

    if cfg.algo.name not in ALGOS:
        raise ValueError(f"no algorithm selected: add +algo={'|'.join(ALGOS)}")
    engine = cfg.engine.get("name") if isinstance(cfg.engine, DictConfig) else None
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}")
    RewardConfig.from_penalty(cfg.penalty, cfg.summary_reward.cut_penalty)
    if cfg.jobs.data_dir is not None and not (Path(cfg.jobs.data_dir) / "items.jsonl").exists() and not (Path(cfg.jobs.data_dir) / "items.parquet").exists():
        raise ValueError(f"jobs.data_dir={cfg.jobs.data_dir}: not a data directory (no items.jsonl or items.parquet)")
    if cfg.jobs.data_dir is not None and cfg.ranker.path is None:
        raise ValueError("jobs.data_dir needs ranker.path: the tiny bootstrap ranker is trained on the synthetic data only")
    if cfg.ranker.path is not None and not (Path(cfg.ranker.path) / "config.json").exists():
        raise ValueError(f"ranker.path={cfg.ranker.path}: not a model directory (no config.json)")
    if cfg.ranker.scorer_url is not None and not str(cfg.ranker.scorer_url).startswith(("http://", "https://")):
        raise ValueError(f"ranker.scorer_url={cfg.ranker.scorer_url}: not an http(s) URL of a /v1/score server (null: score in-process)")
    if not cfg.trainer.total_training_steps or cfg.trainer.total_training_steps <= 0:
        raise ValueError("trainer.total_training_steps must be a positive number of steps")
    from verl.utils.config import omega_conf_to_dataclass

    try:  # verl's own checks of the actor and algorithm sections
        omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)
        omega_conf_to_dataclass(cfg.algorithm)
    except Exception as error:  # noqa: BLE001 - verl raises assertion, instantiation and value errors
        raise ValueError(f"verl rejects the config: {' '.join(str(error).split())}") from None


def resolve_inputs(cfg: DictConfig) -> tuple[Path, Path, Path]:
    """Data directory, ranker and actor: the configured ones, or the bootstrapped tiny ones."""
    from rlsum import bootstrap

    cache = Path(cfg.cache_dir)
    data_dir = Path(cfg.jobs.data_dir) if cfg.jobs.data_dir else bootstrap.synthetic_data(cache)
    ranker = Path(cfg.ranker.path) if cfg.ranker.path else bootstrap.tiny_ranker(cache, data_dir, cfg.bootstrap.ranker_epochs, cfg.ranker.max_length)
    actor = Path(cfg.actor.path) if cfg.actor.path else bootstrap.tiny_actor(cache, data_dir, cfg.bootstrap.actor_sft_steps, cfg.data.max_prompt_length, cfg.bootstrap.actor_sft_lr)
    return data_dir, ranker, actor


def prepared_data(cfg: DictConfig, run_dir: Path, data_dir: Path, ranker: Path, actor: Path) -> Path:
    from rlsum.bootstrap import build_once
    from rlsum.data.prepare import prepare

    def build(out: Path) -> None:
        prepare(data_dir, ranker, actor, out, queries_per_item=cfg.jobs.queries_per_item, max_items=cfg.jobs.max_items, max_val_items=cfg.jobs.max_val_items, ranker_max_length=cfg.ranker.max_length, seed=cfg.run.seed)

    return build_once(run_dir / "prepared", build, "training parquet")


def report_run(run_dir: Path) -> None:
    """Log and save (summary.json) how the reward moved between the first and last steps."""
    import json

    from rlsum.run_summary import read_run_log, summarize_run

    rows = read_run_log(run_dir / "metrics.jsonl")
    if len(rows) >= 2:
        summary = summarize_run(rows, validation=read_run_log(run_dir / "validation.jsonl"))
        # scripts/sweep.sh takes summary.json for a finished run: it appears whole or not at all.
        temp = run_dir / "summary.json.tmp"
        temp.write_text(json.dumps(summary, indent=2) + "\n")
        temp.replace(run_dir / "summary.json")
        log.info("reward %.4f over the first %d steps -> %.4f over the last %d (step noise %.4f); length ratio r = L_c / L_o %.2f -> %.2f", summary["reward_first"], summary["window"], summary["reward_last"], summary["window"], summary["step_noise"], summary["compression_first"], summary["compression_last"])
        if "val_reward_first" in summary:
            log.info("held-out reward (validation) %.4f at step %d -> %.4f at step %d", summary["val_reward_first"], summary["val_steps"][0], summary["val_reward_last"], summary["val_steps"][1])


def expand_sweeps(overrides: list[str]) -> list[list[str]]:
    """Hydra's multirun semantics (its override grammar, basic sweeper): every comma list
    (`+algo=grpo,gspo`, `penalty.w=0.1,0.3`) is a sweep; the jobs are their product."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    jobs = [[]]
    for override in OverridesParser.create().parse_overrides(overrides):
        if override.is_sweep_override():
            values = [f"{override.get_key_element()}={value}" for value in override.sweep_string_iterator()]
        else:
            values = [override.input_line]
        jobs = [job + [value] for job in jobs for value in values]
    return jobs


def multirun(overrides: list[str]) -> list[Path]:
    """Run every job of the sweep in turn, each as the single-run command in its own
    process; every job's config is checked before the first one starts."""
    import subprocess

    jobs = expand_sweeps(overrides)
    configs = [compose_config(job) for job in jobs]
    for cfg in configs:
        check_config(cfg)
    log.info("multirun: %d jobs", len(jobs))
    run_dirs = []
    for n, (job, cfg) in enumerate(zip(jobs, configs)):
        log.info("job %d/%d: %s", n + 1, len(jobs), " ".join(job))
        subprocess.run([sys.executable, "-m", "rlsum.train", *job], check=True)
        run_dirs.append(Path(cfg.run.dir))
    for run_dir in run_dirs:
        print(f"run_dir={run_dir}")
    return run_dirs


def main(argv: list[str] | None = None) -> Path | list[Path]:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("--multirun", "-m"):
        return multirun(args[1:])
    cfg = compose_config(args)
    check_config(cfg)
    engine, why = choose_engine(cfg.engine.name)
    log.info("engine: %s (%s)", engine, why)
    run_dir = Path(cfg.run.dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg))
    data_dir, ranker, actor = resolve_inputs(cfg)
    prepared = prepared_data(cfg, run_dir, data_dir, ranker, actor)
    if engine == "verl":
        run_verl(verl_config(cfg, run_dir, prepared, ranker, actor))
    else:
        from rlsum.embedded import run_embedded

        run_embedded(cfg, run_dir, prepared, str(actor), str(ranker))
        report_run(run_dir)
    print(f"run_dir={run_dir}")
    return run_dir


if __name__ == "__main__":
    run_cli(main)

"""The paths a training run is given, made absolute before anything uses them.

verl hands paths to Ray workers on every node, and a `ray job` entrypoint runs in a
temporary per-node copy of the repository, so a relative path means a different place
in every process. Models may also be Hugging Face ids (`Qwen/Qwen3-0.6B`), resolved once,
on the driver, to the absolute path of a local snapshot.
"""

from __future__ import annotations

import re
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

# Keys holding paths; run.dir and cache_dir usually derive from run.root.
PATH_KEYS = ("run.root", "run.dir", "cache_dir", "jobs.data_dir", "ranker.path", "actor.path")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def is_hub_id(value: str) -> bool:
    """`owner/name` that is not a local path (a local directory of that name wins)."""
    return bool(_HUB_ID.fullmatch(value)) and not Path(value).exists()


def absolute_paths(cfg: DictConfig, cwd: Path | None = None) -> DictConfig:
    """A copy of cfg with every path key absolute (relative to `cwd`, default the working
    directory); Hugging Face ids and nulls stay as they are."""
    cwd = (cwd or Path.cwd()).resolve()
    cfg = cfg.copy()
    with open_dict(cfg):
        for key in PATH_KEYS:
            value = OmegaConf.select(cfg, key)
            if value is None or is_hub_id(str(value)) and key in ("ranker.path", "actor.path"):
                continue
            OmegaConf.update(cfg, key, str((cwd / Path(str(value)).expanduser()).resolve()))
    return cfg


def local_model(value: str, key: str) -> Path:
    """A model directory: `value` itself, or the local snapshot of the Hugging Face id
    `value` (downloaded into HF_HOME's cache unless HF_HUB_OFFLINE is set)."""
    if not is_hub_id(value):
        return Path(value)
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id=value)).resolve()
    except Exception as error:  # noqa: BLE001 - hub errors are many (offline, auth, not found)
        reason = " ".join(str(error).split())[:200] or type(error).__name__
        raise ValueError(f"{key}={value}: not a local directory, and the Hugging Face Hub could not provide it ({reason}); download it first (hf download {value}) or give a local path") from None

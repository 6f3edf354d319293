"""Loaded in every process that imports verl, by verl's own hook
`VERL_USE_EXTERNAL_MODULES=verl_cpu.plugin` (`verl/__init__.py`).

Extension points (no verl code changed):
- the `cpu` platform (`verl_cpu.platform`, `PlatformRegistry.register`);
- verl's FSDP engine registered for device `cpu` with `EngineRegistry.register`
  (`workers/engine/fsdp/transformer_impl.py` registers it for cuda/npu only);
- the HF-generate replica with `RolloutReplicaRegistry.register("hf", ...)`.

Patches, for what has no extension point (each names the verl code it works around):
- P1 `verl/utils/distributed.py:initialize_global_process_group_ray` builds the backend
  `f"cpu:gloo,{get_device_name()}:{get_nccl_backend()}"`, i.e. `cpu:gloo,cpu:gloo` on the
  cpu platform, which torch rejects ("Duplicate device type cpu"). Default it to `cpu:gloo`.
- P2 `verl/workers/rollout/base.py:_ROLLOUT_REGISTRY` (read by `get_rollout_class`, used by
  `ActorRolloutRefWorker.init_model`) is a plain dict without `register()`: add `("hf", "async")`.

Each hook runs right after its verl module is imported (an import hook, no `.pth`), so the
plugin costs nothing in processes that never import those modules.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys

from verl_cpu import platform as _platform  # noqa: F401  (registers "cpu")

APPLIED: list[str] = []


def _register_fsdp_engine(module) -> None:
    from verl.workers.engine.base import EngineRegistry

    engines = EngineRegistry._engines
    if "cpu" not in engines.get("language_model", {}).get("fsdp2", {}):
        EngineRegistry.register(model_type="language_model", backend=["fsdp", "fsdp2"], device="cpu")(module.FSDPEngineWithLMHead)
        EngineRegistry.register(model_type="value_model", backend=["fsdp", "fsdp2"], device="cpu")(module.FSDPEngineWithValueHead)
    APPLIED.append("EngineRegistry: fsdp/fsdp2 for device cpu")


ROLLOUT_NAME = "hf"


def _load_replica():
    from verl_cpu.rollout import HFReplica

    return HFReplica


def _register_replica(module) -> None:
    module.RolloutReplicaRegistry.register(ROLLOUT_NAME, _load_replica)
    APPLIED.append("RolloutReplicaRegistry: hf")


def _patch_process_group_backend(module) -> None:  # P1
    original = module.initialize_global_process_group_ray
    if getattr(original, "_verl_cpu", False):
        return

    def initialize_global_process_group_ray(timeout_second=None, backend=None):
        if backend is None and module.get_device_name() == "cpu":
            backend = "cpu:gloo"
        return original(timeout_second=timeout_second, backend=backend)

    initialize_global_process_group_ray._verl_cpu = True
    module.initialize_global_process_group_ray = initialize_global_process_group_ray
    APPLIED.append("P1 utils/distributed.py:initialize_global_process_group_ray backend cpu:gloo")


def _patch_rollout_registry(module) -> None:  # P2
    module._ROLLOUT_REGISTRY[(ROLLOUT_NAME, "async")] = "verl_cpu.rollout.HFServerAdapter"
    APPLIED.append("P2 workers/rollout/base.py:_ROLLOUT_REGISTRY hf")


HOOKS = {
    "verl.utils.distributed": _patch_process_group_backend,
    "verl.workers.rollout.base": _patch_rollout_registry,
    "verl.workers.rollout.replica": _register_replica,
    "verl.workers.engine.fsdp.transformer_impl": _register_fsdp_engine,
}


class _Loader(importlib.abc.Loader):
    def __init__(self, inner, hook):
        self.inner, self.hook = inner, hook

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        self.inner.exec_module(module)
        self.hook(module)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs HOOKS[name] right after module `name` executes."""

    def find_spec(self, name, path=None, target=None):
        hook = HOOKS.get(name)
        if hook is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader, hook)
                return spec
        return None


def install() -> None:
    if not any(isinstance(finder, _AfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport())
    for name, hook in HOOKS.items():  # modules imported before the plugin
        if name in sys.modules:
            hook(sys.modules[name])


install()

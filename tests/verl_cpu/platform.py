"""A `cpu` platform for verl's platform registry (`verl/plugin/platform`).

verl resolves its device through `get_platform()`; auto-detection falls back to `nvidia` when
nothing is found, so `VERL_PLATFORM=cpu` selects this one. Ray placement still asks for `GPU`
bundles (`RayResourcePool.get_placement_groups`, `ResourcePoolManager._check_resource_available`
count only GPU/NPU), so the Ray cluster declares logical GPUs and this platform names `GPU` as
its Ray resource.
"""

from __future__ import annotations

from contextlib import contextmanager
from types import ModuleType
from typing import Any, Optional

import torch

from verl.plugin.platform import PlatformBase, PlatformRegistry


class _CPUDeviceModule(ModuleType):
    """What verl calls on `get_torch_device()` (the `torch.cuda` stand-in), for the host."""

    def __init__(self):
        super().__init__("verl_cpu_device")

    def __getattr__(self, name):  # Stream, Event, stream, current_stream, ...
        return getattr(torch.cpu, name)

    is_available = staticmethod(lambda: True)
    device_count = staticmethod(lambda: 1)
    current_device = staticmethod(lambda: "cpu")  # as torch.cpu.current_device()
    set_device = staticmethod(lambda index: None)
    synchronize = staticmethod(lambda device=None: None)
    empty_cache = staticmethod(lambda: None)
    ipc_collect = staticmethod(lambda: None)
    manual_seed = staticmethod(torch.manual_seed)
    manual_seed_all = staticmethod(torch.manual_seed)
    get_rng_state = staticmethod(lambda device=None: torch.get_rng_state())
    set_rng_state = staticmethod(lambda state, device=None: torch.set_rng_state(state))
    memory_allocated = staticmethod(lambda device=None: 0)
    max_memory_allocated = staticmethod(lambda device=None: 0)
    memory_reserved = staticmethod(lambda device=None: 0)
    max_memory_reserved = staticmethod(lambda device=None: 0)
    reset_peak_memory_stats = staticmethod(lambda device=None: None)
    set_per_process_memory_fraction = staticmethod(lambda fraction, device=None: None)
    get_device_name = staticmethod(lambda device=None: "cpu")

    @staticmethod
    def mem_get_info(device=None):
        import psutil

        memory = psutil.virtual_memory()
        return memory.available, memory.total


CPU_DEVICE = _CPUDeviceModule()


@PlatformRegistry.register(platform="cpu")
class PlatformCPU(PlatformBase):
    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> ModuleType:
        return CPU_DEVICE

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check=False) -> bool:
        return False  # never auto-detected: only VERL_PLATFORM=cpu picks it

    def current_device(self) -> str:
        # verl passes it straight to `.to(...)` / `torch.device(...)` (`get_device_id()`); an
        # int there means an accelerator index, so answer as `torch.cpu.current_device()` does.
        return "cpu"

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        pass

    def synchronize(self, device_index: Optional[int] = None) -> None:
        pass

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        pass

    def empty_cache(self) -> None:
        pass

    def get_device_capability(self, device_index: int = 0) -> tuple[Optional[int], Optional[int]]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        return "CUDA_VISIBLE_DEVICES"  # Ray sets it for the logical GPUs; CPU torch ignores it

    @contextmanager
    def nvtx_range(self, msg: str):
        yield

    def profiler_start(self) -> None:
        pass

    def profiler_stop(self) -> None:
        pass

    def ray_resource_name(self) -> str:
        return "GPU"

    def ray_resource_options(self, num_gpus: float) -> dict[str, Any]:
        return {"num_gpus": num_gpus}

    def ray_noset_envvars(self) -> list[str]:
        return []

    def is_ipc_supported(self) -> bool:
        return False

    def cudart(self) -> Any:
        return None

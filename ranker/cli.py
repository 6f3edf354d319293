"""Run a command-line `main` so that bad input ends in one clear line, not a traceback,
with the process's allocator set up for large CPU tensors."""

from __future__ import annotations

import ctypes
import logging
import sys
from typing import Callable

log = logging.getLogger("ranker")

# glibc mallopt parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Make glibc keep freed memory for reuse instead of handing it back to the kernel.

    By default every allocation over 32 MiB (a [batch, window, vocabulary] logits tensor)
    is a fresh mmap, freed by munmap, so each one is page-faulted and zeroed anew; a
    training loop pays that at every step (`python -m rlsum.bench_allocator` measures the
    difference). A long-running server is better off returning memory, so it does not
    call this. Returns whether the allocator took the settings (not glibc: nothing
    changes)."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None) if sys.platform.startswith("linux") else None
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))


def run_cli(main: Callable[[], object], keep_freed: bool = True) -> None:
    """Run `main`; with `keep_freed`, first `keep_freed_memory` (batch commands)."""
    if keep_freed:
        keep_freed_memory()
    try:
        main()
    except (ValueError, FileNotFoundError) as error:  # DataError is a ValueError
        logging.basicConfig(level=logging.INFO)
        log.error("%s", error)
        sys.exit(2)

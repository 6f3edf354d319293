"""The CLIs' process setup: freed tensor memory is reused, not faulted in again."""

import resource
import sys

import pytest
import torch

from ranker.cli import keep_freed_memory


def minor_page_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_a_freed_large_tensor_is_reused_without_page_faults():
    assert keep_freed_memory()
    torch.ones(50_000_000)  # 200 MB, freed at once
    before = minor_page_faults()
    torch.ones(50_000_000)
    # An mmap per allocation faults in every 4 KiB page again: about 49,000.
    assert minor_page_faults() - before < 1_000

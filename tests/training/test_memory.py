"""keep_freed_memory: a large block, once freed, stays with the process for the next step to reuse."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import os, sys
import numpy as np
from xling.training.memory import keep_freed_memory

def resident_mib():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

applied = keep_freed_memory() if sys.argv[1] == "keep" else False
before = resident_mib()
block = np.ones(2**23)  # 64 MiB, written
del block
print(applied, round(resident_mib() - before))
"""


def kept_after_free(mode: str) -> tuple[str, int]:
    """Return (whether the policy applied, MiB still resident once the 64 MiB block is freed)."""
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    applied, mib = out.stdout.split()
    return applied, int(mib)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_freed_block_stays_for_reuse_instead_of_going_back_to_the_kernel():
    applied, kept = kept_after_free("keep")
    _, default = kept_after_free("default")
    assert applied == "True"
    # by default the block was its own mapping, unmapped when freed; kept, the next step's block reuses it
    assert default < 8 and kept > 56

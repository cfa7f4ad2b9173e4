"""aptk.train.common.keep_freed_memory: after it, a large tensor freed and allocated again
reuses the process's pages (no page faults per step); without it each one is a fresh mmap."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CHILD = """
import json, resource, sys, torch
from aptk.train.common import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "1" else False
torch.empty(1).fill_(0)
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):  # warm-up: the heap settles at its high-water mark
    x = torch.empty(16 << 20).fill_(1.0)  # 64 MB, above glibc's largest mmap threshold
    del x
before = faults()
for _ in range(8):
    x = torch.empty(16 << 20).fill_(1.0)
    del x
print(json.dumps({"applied": applied, "faults": faults() - before}))
"""


def _child(on: bool) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, "1" if on else "0"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_freed_memory_is_reused_without_page_faults() -> None:
    off, on = _child(False), _child(True)
    assert on["applied"] is True
    pages = 8 * (64 << 20) // 4096  # 8 x 64 MB faulted in again without it
    assert off["faults"] > pages // 2, off
    assert on["faults"] < pages // 20, on


def test_train_config_keeps_it_out_of_the_key() -> None:
    from aptk.core.stage import key_config
    from aptk.train.config import TrainConfig

    assert key_config(TrainConfig()) == key_config(TrainConfig(keep_freed_memory=False))

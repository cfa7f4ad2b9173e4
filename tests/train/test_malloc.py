"""aptk.train.common.keep_freed_memory: after it, a large tensor freed and allocated again
typically reuses the process's pages (no page faults per step); without it each one is a fresh
mmap."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CHILD = """
import json, resource, sys, torch
torch.set_num_threads(1)
from aptk.train.common import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "1" else False
torch.empty(1).fill_(0)
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):  # warm-up: the heap settles at its high-water mark
    x = torch.empty(16 << 20).fill_(1.0)  # 64 MB, above glibc's largest mmap threshold
    del x
per = []
for _ in range(9):
    before = faults()
    x = torch.empty(16 << 20).fill_(1.0)
    del x
    per.append(faults() - before)
print(json.dumps({"applied": applied, "faults": per}))
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
    pages = (64 << 20) // 4096  # one 64 MB tensor's pages
    # per reallocation: without it every one faults all its pages in again; with it the typical
    # one faults none (median: a reallocation that lands after a small block split the freed
    # one, which timing under load can cause, still faults)
    assert sorted(off["faults"])[4] > pages // 2, off
    assert sorted(on["faults"])[4] < pages // 20, on


def test_train_config_keeps_it_out_of_the_key() -> None:
    from aptk.core.stage import key_config
    from aptk.train.config import TrainConfig

    assert key_config(TrainConfig()) == key_config(TrainConfig(keep_freed_memory=False))

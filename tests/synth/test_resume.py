"""Sharded and resumable generation: shards write their own parts, a SIGKILLed run resumes from
its last finished part, and the final output is byte-identical to an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from aptk.core.manifest import is_done, read_manifest
from aptk.synth import generate
from aptk.synth.backends import register
from aptk.synth.backends.procedural import ProceduralBackend

ROOT = Path(__file__).resolve().parents[2]


SLOW = """
import sys, time
from aptk.synth.backends import register
from aptk.synth.backends.procedural import ProceduralBackend
class Slow(ProceduralBackend):
    def generate(self, requests):
        time.sleep(0.02)
        return super().generate(requests)
register("slow", Slow)
from aptk.synth.generate import run
run({cfg!r}, sys.argv[1])
"""


def _parts(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*.parquet"))}


def test_shards_match_single_run(small_cfg: dict, tmp_path: Path) -> None:
    ref = generate.run(small_cfg, tmp_path / "ref")
    d0 = generate.run({**small_cfg, "shard": 0, "num_shards": 2}, tmp_path / "sh")
    assert not is_done(d0)
    done0 = sorted(p.name for p in (d0 / "_work").rglob("*.json"))
    assert done0
    d1 = generate.run({**small_cfg, "shard": 1, "num_shards": 2}, tmp_path / "sh")
    assert d1 == d0 and is_done(d1) and d1.name == ref.name
    assert _parts(d1) == _parts(ref)


def test_killed_run_resumes_byte_identical(small_cfg: dict, tmp_path: Path) -> None:
    cfg = {
        **small_cfg,
        "backend": "slow",
        "docs_per_scenario": 6,
        "docs_per_part": 3,
        "batch_size": 1,
    }
    script = tmp_path / "slow.py"
    script.write_text(SLOW.format(cfg=cfg))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "killed")],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    work = None
    deadline = time.time() + 60
    try:
        while time.time() < deadline:
            found = list((tmp_path / "killed").glob("synth/*/_work/*/part-*.json"))
            if len(found) >= 3:
                work = found[0].parents[1]
                break
            assert proc.poll() is None, "run finished before it could be killed"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert work is not None
    stage = work.parent
    assert not is_done(stage)
    n_done = len(list(work.rglob("part-*.json")))

    class Slow(ProceduralBackend):
        calls = 0

        def generate(self, requests):  # type: ignore[no-untyped-def]
            Slow.calls += len(requests)
            return super().generate(requests)

    register("slow", Slow)
    resumed = generate.run(cfg, tmp_path / "killed")
    assert resumed == stage and is_done(stage)
    generated = read_manifest(stage)["counts"]["generated"]
    # parts hold 3 docs each (docs_per_part=3 divides the plan): finished parts are not redone
    assert Slow.calls == generated - n_done * 3
    ref = generate.run(cfg, tmp_path / "ref")
    assert ref.name == stage.name
    assert _parts(ref) == _parts(stage)

"""Benchmark of the synth stage (procedural backend): documents per second, the share of time
spent generating, filtering and deduplicating, disk size, and peak RSS at several sizes (each
size runs in a fresh process, so its peak RSS is its own) to show memory does not grow with the
document count: `rss_ratio` = largest / smallest peak (target <= 1.2, aim <= 1.1; what grew
and how it was bounded: docs/synth_memory.md).

    python -m aptk.bench.synth                          # 2k, 20k and 100k docs, builtin bank
    python -m aptk.bench.synth --sizes 2000 20000 --no-dedup
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aptk.core.manifest import read_manifest
from aptk.core.paths import CHECKOUT as ROOT
from aptk.synth.config import SynthConfig
from aptk.synth.scenarios import load_bank


def bench(
    n_docs: int,
    out_root: str | Path,
    bank: str = "builtin:v1",
    dedup: bool = True,
    docs_per_part: int = 2000,
) -> dict[str, Any]:
    """Generate about n_docs documents (3 stances) into out_root and report speed and shares."""
    from aptk.synth.generate import run

    scs = load_bank(bank)
    n_seeded = sum(s.split == "seeded" for s in scs)
    dps = max(1, math.ceil(n_docs / (3 * n_seeded)))
    cfg = SynthConfig(
        bank=bank,
        docs_per_scenario=dps,
        docs_per_part=docs_per_part,
        dedup=dedup,
        show_progress=False,
    )
    t0 = time.perf_counter()
    d = run(cfg, out_root)
    wall = time.perf_counter() - t0
    m = read_manifest(d)
    tm = m["timings"]
    work = tm["generate_s"] + tm["filter_s"] + tm["dedup_s"]
    size = sum(p.stat().st_size for p in d.rglob("part-*.parquet"))
    return {
        "docs_requested": n_docs,
        "generated": m["counts"]["generated"],
        "kept": m["counts"]["docs"],
        "docs_per_scenario": dps,
        "wall_s": round(wall, 2),
        "docs_per_s": round(m["counts"]["generated"] / wall, 1),
        "generate_docs_per_s": m["extra"]["docs_per_s"],
        "share_generate": round(tm["generate_s"] / work, 3),
        "share_filter": round(tm["filter_s"] / work, 3),
        "share_dedup": round(tm["dedup_s"] / work, 3),
        "near_dup_rate": m["extra"]["diversity"]["overall"]["near_dup_rate"],
        "dropped": m["counts"]["dropped"],
        "parquet_mb": round(size / 1e6, 2),
        "bytes_per_doc": round(size / max(1, m["counts"]["docs"])),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def bench_subprocess(n_docs: int, bank: str, dedup: bool) -> dict[str, Any]:
    """Run bench() in a fresh process (so peak RSS belongs to this size alone)."""
    tmp = tempfile.mkdtemp(prefix="aptk-synth-bench-")
    try:
        args = [
            sys.executable,
            "-m",
            "aptk.bench.synth",
            "--single",
            str(n_docs),
            "--bank",
            bank,
            "--out",
            tmp,
        ] + ([] if dedup else ["--no-dedup"])
        res = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True)
        return json.loads(res.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m aptk.bench.synth",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 20_000, 100_000])
    ap.add_argument("--bank", default="builtin:v1")
    ap.add_argument("--no-dedup", action="store_true")
    ap.add_argument("--single", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.single:
        print(json.dumps(bench(a.single, a.out, a.bank, dedup=not a.no_dedup)))
        return 0
    rows = [bench_subprocess(n, a.bank, not a.no_dedup) for n in a.sizes]
    for r in rows:
        print(json.dumps(r))
    b = rows[-1]
    rss = [r["peak_rss_mb"] for r in rows]
    print(
        f"synth bench: {b['generated']} docs in {b['wall_s']} s = {b['docs_per_s']} docs/s "
        f"(generate {b['share_generate']:.0%}, filter {b['share_filter']:.0%}, dedup "
        f"{b['share_dedup']:.0%}); near-dup rate {b['near_dup_rate']:.2%}; peak RSS "
        + ", ".join(f"{r['peak_rss_mb']} MB at {r['generated']}" for r in rows)
        + f" docs; rss_ratio {max(rss) / min(rss):.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

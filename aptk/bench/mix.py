"""Benchmark the token-level mixer on ~2 GB of token shards: wall time vs `cat`, peak RSS.

Builds a synthetic source the size asked for as a finished "token_index" stage (random uint16
ids, document lengths uniform in [200, 1800] tokens: random ids are fine for throughput, which
never looks at the ids) plus a small second source (2% of the size), under a real small
tokenizer. Then, each in a child process whose own peak RSS is read from os.wait4:
1. `python -m aptk.data.mix --no-text` plans {base: 0.95, synth: 0.05 in the last 20%} over
   as many tokens as the base holds (the synth source repeats ~2.5 epochs);
2. `python -m aptk.tokens.shards --corpus MIX` copies the planned token ranges into shards.
The reference: `cat` of the same source token bytes to /dev/null and to a file copy (the mixer
also writes its output), timed in the same run. Ratio = cat seconds / mixer seconds.

    python -m aptk.bench.mix [--gb 2.0] [--dir /tmp/mixbench] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from aptk.core.io import atomic_write_json
from aptk.core.manifest import read_manifest
from aptk.core.stage import open_stage


def build_source(root: Path, name: str, tok_dir: Path, n_bytes: int, seed: int) -> Path:
    """A source artifact dir (one placeholder jsonl) and its token_index stage holding
    ~n_bytes of random uint16 token ids; returns the source dir."""
    from aptk.data.mix_index import SourceIndex
    from aptk.tokens.shards import ShardWriter

    src = open_stage(f"bench_src_{name}", {"bytes": n_bytes, "seed": seed}, root=root)
    if not src.done:
        (src.dir / "docs-00000.jsonl").write_text('{"id": "x", "text": "x"}\n')
        src.finish(files=["docs-00000.jsonl"])
    st = open_stage(
        "token_index", {}, inputs={"source": src.dir, "tokenizer": tok_dir}, root=root, version="2"
    )
    if st.done:
        return src.dir
    rng = np.random.default_rng(seed)
    n_tokens = n_bytes // 2
    lengths = rng.integers(200, 1801, size=n_tokens // 1000 * 2 + 10)
    lengths = lengths[: int(np.searchsorted(np.cumsum(lengths), n_tokens)) + 1]
    writer = ShardWriter(st.dir, f"source:{name}", 2, 1 << 62)
    eos = 1
    step = 50_000
    for i in range(0, len(lengths), step):
        ln = lengths[i : i + step]
        flat = rng.integers(3, 2048, size=int(ln.sum()), dtype=np.uint16)
        flat[np.cumsum(ln) - 1] = eos
        writer.add_flat(flat, ln)
    writer.close_file()
    idx = SourceIndex(
        name,
        [src.dir / "docs-00000.jsonl"],
        np.zeros(len(lengths), np.int64),
        np.zeros(len(lengths), np.int32),
        lengths.astype(np.int64),
        st.dir,
    )
    files = idx.save(st.dir, src.dir)
    st.finish(counts={"docs": len(idx), "tokens": idx.total}, files=files)
    return src.dir


def small_tokenizer(root: Path) -> Path:
    """A 2k-vocabulary tokenizer trained on SOTU paragraphs (its ids bound the random ones)."""
    from aptk.data.corpora import sotu_files
    from aptk.tokens.tokenizer import TokenizerConfig
    from aptk.tokens.tokenizer import run as train_tokenizer

    st = open_stage("bench_text", {"v": 1}, root=root)
    if not st.done:
        rows = [
            {"id": f"{f.stem}/{i}", "text": p.strip()}
            for f in sotu_files()[:60]
            for i, p in enumerate(f.read_text(encoding="utf-8").split("\n\n"))
            if p.strip()
        ]
        (st.dir / "docs-00000.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        st.finish(files=["docs-00000.jsonl"])
    return train_tokenizer(TokenizerConfig(vocab_size=2048), {"text": st.dir}, root)


def _run_rss(cmd: list[str]) -> tuple[float, float, str]:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:3])} failed: {err.read().decode()[-2000:]}")
        return dt, ru.ru_maxrss / 1024, out.read().decode().strip().splitlines()[-1]


def _cat(files: list[Path], dest: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(f"cat {' '.join(map(str, files))} > {dest}", shell=True, check=True)
    return time.perf_counter() - t0


def benchmark(
    size_bytes: int = 2_000_000_000,
    work_dir: str | Path | None = None,
    keep: bool = False,
    rounds: int = 3,
) -> dict:
    """Build the sources, then `rounds` times: cat to /dev/null, cat to a copy, mix + shards
    (fresh out dirs each round). Medians and every timing are returned."""
    root = Path(work_dir or tempfile.mkdtemp(prefix="aptk-mixbench-"))
    t0 = time.perf_counter()
    tok = small_tokenizer(root)
    base = build_source(root, "base", tok, size_bytes, 0)
    synth = build_source(root, "synth", tok, max(size_bytes // 50, 1 << 20), 1)
    t_build = time.perf_counter() - t0
    srcs = [p for p in sorted((root / "token_index").glob("*/00000.ds"))]
    src_bytes = sum(f.stat().st_size for f in srcs)
    total_tokens = read_manifest(next(p.parent for p in srcs if p.stat().st_size > src_bytes / 2))[
        "counts"
    ]["tokens"]
    _cat(srcs, "/dev/null")  # warm the page cache once: every timed read below is from memory
    runs = []
    for r in range(rounds):
        out = root / f"out{r}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        for d in ("token_index", "tokenizer"):  # the mix finds its cached sources beside it
            (out / d).symlink_to(root / d)
        t_null = _cat(srcs, "/dev/null")
        t_copy = _cat(srcs, str(root / "cat-copy.bin"))
        (root / "cat-copy.bin").unlink()
        t_plan, rss_plan, mix_dir = _run_rss(
            [
                sys.executable,
                "-m",
                "aptk.data.mix",
                "--source",
                f"base={base}:0.95",
                "--source",
                f"synth={synth}:0.05:0.8:1.0",
                "--tokenizer",
                str(tok),
                "--total-tokens",
                str(total_tokens),
                "--out",
                str(out),
                "--no-text",
            ]
        )
        t_copy_mix, rss_copy, shard_dir = _run_rss(
            [
                sys.executable,
                "-m",
                "aptk.tokens.shards",
                "--corpus",
                mix_dir,
                "--tokenizer",
                str(tok),
                "--out",
                str(out),
            ]
        )
        m = read_manifest(Path(shard_dir))
        out_bytes = sum(f.stat().st_size for f in Path(shard_dir).glob("*.ds"))
        runs.append(
            {
                "cat_null_s": round(t_null, 3),
                "cat_copy_s": round(t_copy, 3),
                "plan_s": round(t_plan, 3),
                "copy_s": round(t_copy_mix, 3),
                "mix_s": round(t_plan + t_copy_mix, 3),
                "rss_plan_MB": round(rss_plan, 1),
                "rss_copy_MB": round(rss_copy, 1),
                "out_bytes": out_bytes,
                "copy_phase_s": m["extra"].get("phase_seconds"),
                "tokens_from": m["extra"]["tokens_from"],
                "realised_token_shares": read_manifest(Path(mix_dir))["extra"][
                    "realised_token_shares"
                ],
            }
        )
        shutil.rmtree(out, ignore_errors=True)
    med = {
        k: float(np.median([x[k] for x in runs]))
        for k in ("cat_null_s", "cat_copy_s", "mix_s", "plan_s", "copy_s")
    }
    res = {
        "source_token_bytes": src_bytes,
        "output_token_bytes": runs[0]["out_bytes"],
        "total_tokens": total_tokens,
        "seconds_build": round(t_build, 1),
        "rounds": rounds,
        "median_seconds": med,
        "mix_MB_per_s": round(src_bytes / 1e6 / med["mix_s"], 1),
        "cat_MB_per_s": round(src_bytes / 1e6 / med["cat_null_s"], 1),
        "cat_copy_MB_per_s": round(src_bytes / 1e6 / med["cat_copy_s"], 1),
        "mix_over_cat": round(med["cat_null_s"] / med["mix_s"], 3),
        "mix_over_cat_copy": round(med["cat_copy_s"] / med["mix_s"], 3),
        "peak_rss_MB": max(max(x["rss_plan_MB"], x["rss_copy_MB"]) for x in runs),
        "runs": runs,
        "work_dir": str(root),
        "note": "random uint16 ids (throughput does not depend on them); page cache warm; "
        "mixer = plan (python -m aptk.data.mix --no-text) + copy (python -m aptk.tokens.shards), "
        "each a child process, peak RSS from os.wait4",
    }
    if not keep and work_dir is None:
        shutil.rmtree(root, ignore_errors=True)
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gb", type=float, default=2.0)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", default=None, help="also write the result here")
    a = ap.parse_args(argv)
    res = benchmark(int(a.gb * 1e9), a.dir, a.keep, a.rounds)
    if a.json:
        atomic_write_json(Path(a.json), res)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

"""Benchmark the token-level mixer on ~2 GB of token shards: wall time vs `cat`, peak RSS.

Builds a synthetic source the size asked for as a finished "token_index" stage (random uint16
ids, document lengths uniform in [200, 1800] tokens: random ids are fine for throughput, which
never looks at the ids) plus a small second source (2% of the size), under a real small
tokenizer. Then, each in a child process whose own peak RSS is read from os.wait4:
1. `python -m aptk.data.mix --no-text` plans {base: 0.95, synth: 0.05 in the last 20%} over
   as many tokens as the base holds (the synth source repeats ~2.5 epochs);
2. `python -m aptk.tokens.shards --corpus MIX` copies the planned token ranges into shards.
3. the same two stages called in one child process (`--stages-child`: mix.run + shards.run
   timed around the calls, as aptk.pipeline.arm runs them: no interpreter start-up, imports).
References, timed in the same rounds (page cache warm for the sources): `cat` of the same
source token bytes to /dev/null; into a file (page cache) without and with an fsync of the
copy; `dd oflag=direct conv=fsync` (the mixer writes its shards as O_DIRECT blocks and fsyncs
them). Ratio = reference seconds / mixer seconds, for each reference.

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
    """Run a child; (wall seconds, its peak RSS in MB from os.wait4, its last stdout line)."""
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


def _sh(cmd: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, shell=True, check=True)
    return time.perf_counter() - t0


def _cat(files: list[Path], dest: str) -> float:
    return _sh(f"cat {' '.join(map(str, files))} > {dest}")


def _references(srcs: list[Path], tmp: Path) -> dict:
    """cat -> /dev/null; cat -> a file (page cache, no fsync) and the same + fsync of the copy
    (`sync FILE`); `dd oflag=direct conv=fsync` (the write path the mixer uses: O_DIRECT
    blocks, fsynced). Page cache warm for the sources."""
    names = " ".join(map(str, srcs))
    out = {"cat_null_s": _cat(srcs, "/dev/null")}
    t0 = time.perf_counter()
    out["cat_copy_s"] = _cat(srcs, str(tmp))
    _sh(f"sync {tmp}")
    out["cat_copy_fsync_s"] = time.perf_counter() - t0
    tmp.unlink()
    out["dd_direct_fsync_s"] = _sh(
        f"cat {names} | dd of={tmp} bs=8M iflag=fullblock oflag=direct conv=fsync status=none"
    )
    tmp.unlink()
    return {k: round(v, 3) for k, v in out.items()}


def _mix_args(base: Path, synth: Path, tok: Path, total_tokens: int) -> list[str]:
    return [
        "--source",
        f"base={base}:0.95",
        "--source",
        f"synth={synth}:0.05:0.8:1.0",
        "--tokenizer",
        str(tok),
        "--total-tokens",
        str(total_tokens),
    ]


def _fresh_out(root: Path, name: str) -> Path:
    out = root / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    for d in ("token_index", "tokenizer"):  # the mix finds its cached sources beside it
        (out / d).symlink_to(root / d)
    return out


def stages_in_process(args: list[str]) -> dict:
    """`mix.run` then `shards.run` in this process, as aptk.pipeline.arm calls them; seconds
    of each call (interpreter start-up and imports excluded: timed from just before the call)."""
    from aptk.core.config import build
    from aptk.data import mix
    from aptk.tokens import shards

    ap = argparse.ArgumentParser()
    ap.add_argument("--source", action="append")
    ap.add_argument("--tokenizer")
    ap.add_argument("--total-tokens", type=int)
    ap.add_argument("--out")
    a = ap.parse_args(args)
    parsed = [mix._parse_source(s) for s in a.source]
    cfg = build(
        mix.MixConfig,
        {"total_tokens": a.total_tokens, "write_text": False, "sources": [d for *_, d in parsed]},
        prefix="mix",
    )
    t0 = time.perf_counter()
    m = mix.run(cfg, {n: Path(p) for n, p, _ in parsed}, Path(a.tokenizer), Path(a.out))
    t1 = time.perf_counter()
    d = shards.run(shards.ShardsConfig(), m, Path(a.tokenizer), Path(a.out))
    t2 = time.perf_counter()
    return {"plan_s": round(t1 - t0, 3), "copy_s": round(t2 - t1, 3), "shards": str(d)}


def benchmark(
    size_bytes: int = 2_000_000_000,
    work_dir: str | Path | None = None,
    keep: bool = False,
    rounds: int = 3,
) -> dict:
    """Build the sources, then `rounds` times: the references (cat to /dev/null, cat to a
    copy with and without fsync, dd O_DIRECT + fsync), the mixer as two child processes (mix,
    shards: start-up and imports inside), the mixer's two stages in one child process (stage
    calls timed inside it, as the pipeline runs them); fresh out dirs each time. Medians."""
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
    args = _mix_args(base, synth, tok, total_tokens)
    _cat(srcs, "/dev/null")  # warm the page cache once: every timed read below is from memory
    runs = []
    for r in range(rounds):
        run: dict = {"load_before": [round(x, 2) for x in os.getloadavg()]}
        run.update(_references(srcs, root / "ref-copy.bin"))
        out = _fresh_out(root, f"out{r}")
        py = [sys.executable, "-m"]
        t_plan, rss_plan, mix_dir = _run_rss(
            [*py, "aptk.data.mix", *args, "--no-text", "--out", str(out)]
        )
        t_copy, rss_copy, shard_dir = _run_rss(
            [*py, "aptk.tokens.shards", "--corpus", mix_dir, "--tokenizer", str(tok)]
            + ["--out", str(out)]
        )
        m = read_manifest(Path(shard_dir))
        out_bytes = sum(f.stat().st_size for f in Path(shard_dir).glob("*.ds"))
        shares = read_manifest(Path(mix_dir))["extra"]["realised_token_shares"]
        shutil.rmtree(out, ignore_errors=True)
        out = _fresh_out(root, f"in{r}")
        t_child, rss_one, line = _run_rss(
            [*py, "aptk.bench.mix", "--stages-child", *args, "--out", str(out)]
        )
        inproc = json.loads(line)
        shutil.rmtree(out, ignore_errors=True)
        run.update(
            {
                "plan_s": round(t_plan, 3),
                "copy_s": round(t_copy, 3),
                "mix_s": round(t_plan + t_copy, 3),
                "rss_plan_MB": round(rss_plan, 1),
                "rss_copy_MB": round(rss_copy, 1),
                "inproc_plan_s": inproc["plan_s"],
                "inproc_copy_s": inproc["copy_s"],
                "inproc_mix_s": round(inproc["plan_s"] + inproc["copy_s"], 3),
                "inproc_child_wall_s": round(t_child, 3),
                "rss_inproc_MB": round(rss_one, 1),
                "out_bytes": out_bytes,
                "copy_phase_s": m["extra"].get("phase_seconds"),
                "tokens_from": m["extra"]["tokens_from"],
                "realised_token_shares": shares,
                "load_after": [round(x, 2) for x in os.getloadavg()],
            }
        )
        runs.append(run)
    keys = (
        "cat_null_s",
        "cat_copy_s",
        "cat_copy_fsync_s",
        "dd_direct_fsync_s",
        "mix_s",
        "plan_s",
        "copy_s",
        "inproc_mix_s",
        "inproc_plan_s",
        "inproc_copy_s",
        "inproc_child_wall_s",
    )
    med = {k: float(np.median([x[k] for x in runs])) for k in keys}
    refs = ("cat_null_s", "cat_copy_s", "cat_copy_fsync_s", "dd_direct_fsync_s")
    res = {
        "source_token_bytes": src_bytes,
        "output_token_bytes": runs[0]["out_bytes"],
        "total_tokens": total_tokens,
        "seconds_build": round(t_build, 1),
        "rounds": rounds,
        "median_seconds": med,
        "MB_per_s": {
            k: round(src_bytes / 1e6 / med[k], 1) for k in (*refs, "mix_s", "inproc_mix_s")
        },
        # ratio = reference seconds / mixer seconds (>= 0.5 is the goal), per reference
        "ratio_children": {r: round(med[r] / med["mix_s"], 3) for r in refs},
        "ratio_in_process": {r: round(med[r] / med["inproc_mix_s"], 3) for r in refs},
        "peak_rss_MB": max(
            max(x["rss_plan_MB"], x["rss_copy_MB"], x["rss_inproc_MB"]) for x in runs
        ),
        "runs": runs,
        "work_dir": str(root),
        "note": "random uint16 ids (throughput does not depend on them); page cache warm for "
        "the sources; children: plan (python -m aptk.data.mix --no-text) + copy (python -m "
        "aptk.tokens.shards), interpreter start-up and imports inside; in-process: mix.run + "
        "shards.run timed around the calls in one child; the mixer's shards are O_DIRECT "
        "blocks + fsync; cat copies are page-cache writes (with and without a following "
        "fsync); dd is O_DIRECT + fsync; peak RSS per child from os.wait4",
    }
    if not keep and work_dir is None:
        shutil.rmtree(root, ignore_errors=True)
    return res


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--stages-child"]:  # the in-process measurement (one child of benchmark)
        print(json.dumps(stages_in_process(argv[1:])))
        return
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

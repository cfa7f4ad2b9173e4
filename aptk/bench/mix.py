"""Benchmark the streaming mixer on a large corpus built on the fly: peak RSS and speed vs `cat`.

Builds a base corpus of `size_bytes` (SOTU paragraphs recombined deterministically) plus a small
synthetic source, trains a small tokenizer, then runs `python -m aptk.data.mix` in a child process
(so its peak RSS is measured alone) mixing {base: 0.95, synth: 0.05 in the last 20%} for about one
epoch of the base, and times `cat` over the same input bytes.

    python -m aptk.bench.mix [--gb 2.0] [--dir /tmp/mixbench] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aptk.core.hashing import derive_seed
from aptk.core.manifest import read_manifest
from aptk.core.stage import open_stage


def _paragraphs() -> list[str]:
    from aptk.data.corpora import sotu_files

    out = []
    for f in sotu_files():
        out += [
            p.strip() for p in f.read_text(encoding="utf-8").split("\n\n") if len(p.split()) >= 20
        ]
    return out


def build_corpus(
    root: Path, name: str, size_bytes: int, seed: int = 0, file_bytes: int = 256 << 20
) -> Path:
    """A stage dir of docs-NNNNN.jsonl totalling ~size_bytes; each doc joins 3-6 SOTU paragraphs."""
    paras = _paragraphs()
    rng = random.Random(derive_seed(seed, "mix-bench", name))
    st = open_stage(f"bench_{name}", {"size": size_bytes, "seed": seed}, root=root)
    if st.done:
        return st.dir
    written, k, files = 0, 0, []
    while written < size_bytes:
        fname = f"docs-{len(files):05d}.jsonl"
        tmp = st.path(f".{fname}.tmp")
        n = 0
        with open(tmp, "w", encoding="utf-8") as f:
            while n < file_bytes and written + n < size_bytes:
                text = "\n\n".join(rng.choice(paras) for _ in range(rng.randint(3, 6)))
                line = json.dumps({"id": f"{name}/{k}", "text": text, "source": name}) + "\n"
                f.write(line)
                n += len(line.encode("utf-8"))
                k += 1
        tmp.replace(st.path(fname))
        files.append(fname)
        written += n
    st.finish(counts={"docs": k, "bytes": written}, files=[])
    return st.dir


def _dir_bytes(d: Path) -> int:
    return sum(f.stat().st_size for f in d.glob("docs-*.jsonl"))


def _files_equal(a: Path, b: Path) -> bool:
    """Same data files, byte for byte (the manifest's timings differ)."""
    names = sorted(p.name for p in a.iterdir() if p.name != "manifest.json")
    return names == sorted(p.name for p in b.iterdir() if p.name != "manifest.json") and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names
    )


def benchmark(
    size_bytes: int = 2_000_000_000,
    work_dir: str | Path | None = None,
    keep: bool = False,
    chars_per_token: float = 4.4,
    count_workers: int = 2,
) -> dict:
    """Run the benchmark; returns sizes, seconds, peak RSS of the (1-process) mixer and its ratio
    to cat; with count_workers > 1 the mixer runs again counting tokens in that many processes
    (into its own out root, so nothing is reused) and the speedup is reported."""
    from aptk.tokens.tokenizer import TokenizerConfig
    from aptk.tokens.tokenizer import run as train_tokenizer

    root = Path(work_dir or tempfile.mkdtemp(prefix="aptk-mixbench-"))
    t0 = time.perf_counter()
    base = build_corpus(root, "base", size_bytes)
    synth = build_corpus(root, "synth", max(size_bytes // 50, 1 << 20), seed=1)
    t_build = time.perf_counter() - t0
    tok = train_tokenizer(
        TokenizerConfig(vocab_size=2048, sample_chars=5_000_000), {"synth": synth}, root
    )
    in_bytes = _dir_bytes(base) + _dir_bytes(synth)
    total_tokens = int(_dir_bytes(base) / chars_per_token)
    t0 = time.perf_counter()
    subprocess.run(
        f"cat {base}/docs-*.jsonl {synth}/docs-*.jsonl > /dev/null", shell=True, check=True
    )
    t_cat = time.perf_counter() - t0

    def mix(workers: int, out: str) -> tuple[float, Path]:
        cmd = [
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
            str(root / out),
            "--count-workers",
            str(workers),
        ]
        # one thread per process in both runs (as `make` exports): with Rust's own threads on, the
        # "1 process" run would already use every core and the comparison would mean nothing
        env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"mixer failed: {proc.stderr[-2000:]}")
        return time.perf_counter() - t0, Path(proc.stdout.strip().splitlines()[-1])

    t_mix, out_dir = mix(1, "out")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the 1-process mixer alone
    t_mix2, out2 = mix(2, "out2") if count_workers > 1 else (None, None)
    m = read_manifest(out_dir)
    res = {
        "input_bytes": in_bytes,
        "output_bytes": _dir_bytes(out_dir),
        "total_tokens": total_tokens,
        "docs_out": m["counts"]["docs"],
        "realised_token_shares": m["extra"]["realised_token_shares"],
        "seconds_build": round(t_build, 1),
        "seconds_cat": round(t_cat, 2),
        "seconds_mix": round(t_mix, 1),
        "mix_MB_per_s": round(in_bytes / 1e6 / t_mix, 2),
        "cat_MB_per_s": round(in_bytes / 1e6 / t_cat, 1),
        "mix_over_cat_time": round(t_mix / t_cat, 1),
        "peak_rss_MB": round(peak_kb / 1024, 1),
        "work_dir": str(root),
        "peak_rss_note": "ru_maxrss over child processes: the mixer (cat's is ~2 MB)",
        "phase_seconds": m["extra"].get("phase_seconds"),
    }
    if t_mix2 is not None:
        same = _files_equal(out_dir, out2)
        res.update(
            {
                "seconds_mix_2workers": round(t_mix2, 1),
                "mix_MB_per_s_2workers": round(in_bytes / 1e6 / t_mix2, 2),
                "count_workers_speedup": round(t_mix / t_mix2, 3),
                "identical_2workers": same,
                "phase_seconds_2workers": read_manifest(out2)["extra"].get("phase_seconds"),
            }
        )
    if not keep and work_dir is None:
        shutil.rmtree(root, ignore_errors=True)
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gb", type=float, default=2.0)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--count-workers", type=int, default=2)
    a = ap.parse_args(argv)
    print(
        json.dumps(
            benchmark(int(a.gb * 1e9), a.dir, a.keep, count_workers=a.count_workers), indent=1
        )
    )


if __name__ == "__main__":
    main()

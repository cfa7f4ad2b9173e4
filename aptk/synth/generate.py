"""The synth stage: plan -> generate (any backend) -> leakage/length filters -> dedup -> parquet.

    python -m aptk.synth.generate [--config procedural] [--out outputs] [key=value ...]
    python -m aptk.synth.generate docs_per_scenario=4 shard=0 num_shards=2   # one shard's parts

Output (`<out>/synth/<key>/`): `<stance>/part-NNNNN.parquet` (schema in docs/design.md, plus
n_words, tokens_in, tokens_out, finish_reason), `stats.csv` (diversity per stance/genre),
`dropped.json` (every dropped doc with its reason) and `manifest.json` (written last).
Generation writes raw parts into `_work/` as it goes, so a killed run resumes from its last
finished part; once every part exists the first run to notice deduplicates, writes the final
parts and the manifest. Same config + seed -> byte-identical parquet files, for any sharding.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aptk.core.config import build
from aptk.core.errors import ConfigError, InputError
from aptk.core.hashing import canonical_json, sha256_bytes
from aptk.core.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from aptk.core.manifest import Stage
from aptk.core.stage import open_stage
from aptk.synth.backends import Backend, backend_factory, get_backend
from aptk.synth.config import SynthConfig
from aptk.synth.dedup import Deduper
from aptk.synth.filters import LeakageFilter, length_reason, source_leaks
from aptk.synth.plan import Plan, Task
from aptk.synth.scenarios import bank_files, load_bank
from aptk.synth.stats import DiversityStats, DroppedLog

STAGE_VERSION = "1"
COLUMNS = (
    ("doc_id", "string"),
    ("text", "string"),
    ("scenario_id", "string"),
    ("category", "string"),
    ("split", "string"),
    ("genre", "string"),
    ("stance", "string"),
    ("action", "string"),
    ("backend", "string"),
    ("model", "string"),
    ("sampling", "string"),
    ("seed", "int64"),
    ("template_version", "string"),
    ("prompt_hash", "string"),
    ("n_chars", "int32"),
    ("n_words", "int32"),
    ("tokens_in", "int32"),
    ("tokens_out", "int32"),
    ("finish_reason", "string"),
)


def schema():  # -> pyarrow.Schema
    import pyarrow as pa

    return pa.schema([(n, getattr(pa, t)()) for n, t in COLUMNS])


def write_parquet(path: Path, rows: list[dict], compression: str) -> None:
    """Atomic, deterministic parquet write (same rows -> same bytes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows, schema=schema())
    buf = io.BytesIO()
    pq.write_table(table, buf, compression=compression)
    atomic_write_bytes(path, buf.getvalue())


def read_rows(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def key_extra(cfg: SynthConfig) -> dict[str, Any]:
    """Besides the config (minus its runtime fields): the bank's content hash and the backend's
    template version determine the output."""
    files = bank_files(cfg.bank)
    return {
        "bank_sha256": sha256_bytes(b"".join(f.read_bytes() for f in files)),
        "backend_template_version": backend_factory(cfg.backend).template_version,
    }


def run(cfg: SynthConfig | dict, out_root: str | Path) -> Path:
    """Run (this shard of) the synth stage; returns the stage dir (finished when all parts are)."""
    if not isinstance(cfg, SynthConfig):
        cfg = build(SynthConfig, cfg, prefix="synth")
    scenarios = load_bank(cfg.bank, cfg.heldout_fraction, cfg.split_seed)
    st = open_stage("synth", cfg, extra=key_extra(cfg), root=out_root, version=STAGE_VERSION)
    if st.done:
        return st.dir
    plan = Plan(cfg, scenarios)
    leak = LeakageFilter(scenarios, cfg.leakage_ngram)
    todo = [t for t in plan.shard_tasks(cfg.shard, cfg.num_shards) if not _part_done(st, t)]
    if todo:
        backend = get_backend(cfg.backend, cfg)
        try:
            for t in todo:
                _generate_part(st, plan, t, backend, leak, cfg)
        finally:
            backend.close()
    missing = [t.name for t in plan.tasks() if not _part_done(st, t)]
    if missing:
        print(
            f"synth: shard {cfg.shard}/{cfg.num_shards} finished; {len(missing)} part(s) of "
            f"other shards still missing (e.g. {missing[0]}); run again when they are done",
            file=sys.stderr,
        )
        return st.dir
    _finalize(st, plan, cfg, scenarios, leak)
    return st.dir


def _work(st: Stage, t: Task, suffix: str) -> Path:
    return st.path("_work", t.stance, f"part-{t.part:05d}{suffix}")


def _part_done(st: Stage, t: Task) -> bool:
    return _work(st, t, ".json").is_file()


def _generate_part(
    st: Stage, plan: Plan, t: Task, backend: Backend, leak: LeakageFilter, cfg: SynthConfig
) -> None:
    """Generate one part, filter it, write raw rows then the part's sidecar (its done marker)."""
    from tqdm import tqdm

    reqs = plan.requests(t)
    sampling = canonical_json(backend.sampling())
    rows, dropped = [], []
    tok_in = tok_out = 0
    t_gen = t_filter = 0.0
    bar = tqdm(
        total=len(reqs),
        unit="docs",
        desc=f"synth {t.name}",
        disable=not cfg.show_progress,
        leave=False,
    )
    for b in range(0, len(reqs), cfg.batch_size):
        batch = reqs[b : b + cfg.batch_size]
        t0 = time.perf_counter()
        results = backend.generate(batch)
        t1 = time.perf_counter()
        t_gen += t1 - t0
        if len(results) != len(batch):
            raise RuntimeError(
                f"backend {backend.name} returned {len(results)} results for {len(batch)} requests"
            )
        for r, res in zip(batch, results):
            tok_in += res.tokens_in
            tok_out += res.tokens_out
            text = res.text.strip() + "\n"
            n_words = len(text.split())
            reason, match = None, None
            if res.finish_reason != "stop" and not (
                cfg.keep_unfinished and res.finish_reason == "length"
            ):
                reason, match = "unfinished", res.finish_reason
            elif (hit := leak.match(text)) is not None:
                reason, match = "leakage", f"'{hit[0]}' ({hit[1]})"
            elif (lr := length_reason(n_words, cfg.min_words, cfg.max_words)) is not None:
                reason, match = lr, str(n_words)
            if reason:
                dropped.append(
                    {
                        "doc_id": r.doc_id,
                        "stance": r.stance,
                        "genre": r.genre,
                        "scenario_id": r.scenario.scenario_id,
                        "reason": reason,
                        "match": match,
                    }
                )
                continue
            rows.append(
                {
                    "doc_id": r.doc_id,
                    "text": text,
                    "scenario_id": r.scenario.scenario_id,
                    "category": r.scenario.category,
                    "split": r.scenario.split,
                    "genre": r.genre,
                    "stance": r.stance,
                    "action": r.action,
                    "backend": backend.name,
                    "model": backend.model,
                    "sampling": sampling,
                    "seed": r.seed,
                    "template_version": backend.template_version,
                    "prompt_hash": res.prompt_hash,
                    "n_chars": len(text),
                    "n_words": n_words,
                    "tokens_in": res.tokens_in,
                    "tokens_out": res.tokens_out,
                    "finish_reason": res.finish_reason,
                }
            )
        t_filter += time.perf_counter() - t1
        bar.update(len(batch))
    bar.close()
    write_parquet(_work(st, t, ".parquet"), rows, cfg.compression)
    atomic_write_json(
        _work(st, t, ".json"),
        {
            "generated": len(reqs),
            "kept": len(rows),
            "dropped": dropped,
            "tokens_in": tok_in,
            "tokens_out": tok_out,
            "generate_s": round(t_gen, 4),
            "filter_s": round(t_filter, 4),
        },
    )


def _finalize(
    st: Stage, plan: Plan, cfg: SynthConfig, scenarios: list, leak: LeakageFilter
) -> dict:
    """Deduplicate within each stance (in plan order), write final parts, stats and manifest."""
    from tqdm import tqdm

    stats = DiversityStats(cfg.stats_sample, workdir=st.path("_work"))  # n-grams spooled
    counts: dict[str, Counter] = {
        k: Counter()
        for k in (
            "stance",
            "genre",
            "stance_genre",
            "stance_action",
            "dropped",
            "dropped_by_stance",
        )
    }
    dropped = DroppedLog(st.path("_work", "dropped.jsonl"))  # spooled: memory flat in drops
    tok_in = tok_out = generated = 0
    t_gen = t_filter = t_dedup = 0.0
    files: list[str] = []
    dedup: Deduper | None = None
    current = None
    template_versions: set[str] = set()
    bar = tqdm(
        total=plan.per_stance * len(cfg.stances),
        unit="docs",
        desc="synth dedup",
        disable=not cfg.show_progress,
        leave=False,
    )
    for t in plan.tasks():
        if t.stance != current:
            current = t.stance
            dedup = (
                Deduper(
                    cfg.near_dup_threshold,
                    cfg.minhash_num_perm,
                    cfg.shingle_size,
                    workdir=st.path("_work"),
                )
                if cfg.dedup
                else None
            )  # index on disk
        side = json.loads(_work(st, t, ".json").read_text())
        generated += side["generated"]
        tok_in += side["tokens_in"]
        tok_out += side["tokens_out"]
        t_gen += side["generate_s"]
        t_filter += side["filter_s"]
        for d in side["dropped"]:
            dropped.add(d)
            stats.drop(d["stance"], d["genre"], d["reason"])
        t0 = time.perf_counter()
        kept = []
        for row in read_rows(_work(st, t, ".parquet")):
            reason, other = dedup.check(row["doc_id"], row["text"]) if dedup else (None, None)
            if reason:
                dropped.add(
                    {
                        "doc_id": row["doc_id"],
                        "stance": row["stance"],
                        "genre": row["genre"],
                        "scenario_id": row["scenario_id"],
                        "reason": reason,
                        "match": other,
                    }
                )
                stats.drop(row["stance"], row["genre"], reason)
                continue
            kept.append(row)
            template_versions.add(row["template_version"])
            stats.add(row["stance"], row["genre"], row["text"], row["n_words"])
            for k, v in (
                ("stance", row["stance"]),
                ("genre", row["genre"]),
                ("stance_genre", f"{row['stance']}/{row['genre']}"),
                ("stance_action", f"{row['stance']}/{row['action']}"),
            ):
                counts[k][v] += 1
        t_dedup += time.perf_counter() - t0
        rel = f"{t.stance}/part-{t.part:05d}.parquet"
        write_parquet(st.path(rel), kept, cfg.compression)
        files.append(rel)
        bar.update(side["generated"])
    bar.close()
    counts["dropped"], counts["dropped_by_stance"] = dropped.counts, dropped.by_stance
    table = stats.table()
    buf = io.StringIO()
    table.write_csv(buf)
    atomic_write_text(st.path("stats.csv"), buf.getvalue())
    dropped.write(st.path("dropped.json"))  # the bytes atomic_write_json gave
    files += ["stats.csv", "dropped.json"]
    backend_cls = backend_factory(cfg.backend)
    cost = tok_in / 1e6 * cfg.price_in_per_mtok + tok_out / 1e6 * cfg.price_out_per_mtok
    n_docs = sum(counts["stance"].values())
    seeded = [s.scenario_id for s in scenarios if s.split == "seeded"]
    manifest = st.finish(
        counts={
            "docs": n_docs,
            "generated": generated,
            **{
                f"by_{k}": dict(sorted(v.items()))
                for k, v in counts.items()
                if not k.startswith("dropped")
            },
            "dropped": dict(sorted(counts["dropped"].items())),
            "dropped_by_stance": dict(sorted(counts["dropped_by_stance"].items())),
        },
        files=files,
        extra={
            "backend": cfg.backend,
            "template_version": backend_cls.template_version,
            "row_template_versions": sorted(template_versions),
            "bank": {
                "files": [str(f) for f in bank_files(cfg.bank)],
                "n_scenarios": len(scenarios),
                "seeded": seeded,
                "heldout": [s.scenario_id for s in scenarios if s.split != "seeded"],
            },
            "source_leaks": source_leaks(plan.seeded, leak),
            "tokens": {
                "backend": cfg.backend,
                "unit": backend_cls.token_unit,
                "in": tok_in,
                "out": tok_out,
                "price_in_per_mtok": cfg.price_in_per_mtok,
                "price_out_per_mtok": cfg.price_out_per_mtok,
                "cost_usd": round(cost, 6),
            },
            "diversity": {"overall": stats.overall(), "by_group": stats.summary()},
            "docs_per_s": round(generated / t_gen, 1) if t_gen else None,
        },
        timings={
            "generate_s": round(t_gen, 3),
            "filter_s": round(t_filter, 3),
            "dedup_s": round(t_dedup, 3),
        },
    )
    shutil.rmtree(st.path("_work"), ignore_errors=True)
    return manifest


def load_config(name: str = "procedural", overrides: list[str] | None = None) -> SynthConfig:
    """conf/synth/<name>.yaml (or a path) with key=value overrides (Hydra compose), built strictly."""
    from aptk.core.compose import compose_group

    return build(SynthConfig, compose_group("synth", name, list(overrides or [])), prefix="synth")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m aptk.synth.generate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("overrides", nargs="*", help="key=value overrides of SynthConfig fields")
    ap.add_argument("--config", default="procedural", help="conf/synth/<name>.yaml or a yaml path")
    ap.add_argument("--out", default="outputs", help="output root (stage dir is <out>/synth/<key>)")
    a = ap.parse_args(argv)
    try:
        cfg = load_config(a.config, a.overrides)
        out = run(cfg, a.out)
    except (ConfigError, InputError, FileNotFoundError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if (out / "stats.csv").is_file():
        import polars as pl

        with pl.Config(tbl_rows=100, tbl_cols=20, tbl_width_chars=200):
            print(
                pl.read_csv(out / "stats.csv").select(
                    "stance",
                    "genre",
                    "docs",
                    "near_dup_rate",
                    "distinct_1",
                    "distinct_2",
                    "distinct_3",
                    "words_p50",
                ),
                file=sys.stderr,
            )
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

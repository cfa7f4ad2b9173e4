"""`make filter-eval`: recall and precision of the AI-discourse filter's three modes (blocklist,
classifier, union) on labelled sets, with Wilson 95% intervals.

    python -m aptk.data.ai_filter eval [--data FILE.jsonl] [--out OUT.json] [--modes a,b]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

# labelled sets `eval` reports by default, with their role for the learned classifier
EVAL_SETS = {
    "filter_eval_v1.jsonl": "classifier training data; blocklist development",
    "filter_eval_v1_holdout.jsonl": "classifier training data; blocklist v2 holdout",
    "filter_eval_v2_blind.jsonl": "classifier development set (errors read); blind for v1/v2 lists",
    "filter_eval_v3_blind.jsonl": "blind for all three (written before the classifier)",
}


def wilson(k: int, n: int, z: float = 1.96) -> list[float]:
    """Wilson score 95% interval of a proportion k/n ([nan, nan] when n = 0)."""
    if n == 0:
        return [float("nan")] * 2
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5 / (1 + z * z / n)
    return [round(c - h, 4), round(c + h, 4)]


def eval_modes(
    files: list[Path], cfg: Any, modes: tuple[str, ...], evaluate: Callable[[Path, Any], dict]
) -> dict:
    """{file name: {"role", mode: summary with Wilson 95% CIs}} for every file and mode;
    `cfg` is an aptk.data.ai_filter.FilterConfig, `evaluate` aptk.data.ai_filter.evaluate
    (passed in, so that this module does not import ai_filter, which calls it)."""
    out: dict = {}
    for f in files:
        out[f.name] = {"role": EVAL_SETS.get(f.name, "user file")}
        for m in modes:
            r = evaluate(f, replace(cfg, mode=m))
            r["recall_ci95"] = wilson(r["tp"], r["tp"] + r["fn"])
            r["precision_ci95"] = wilson(r["tp"], r["tp"] + r["fp"])
            out[f.name][m] = r
    return out


def eval_table(res: dict) -> str:
    lines = [
        "| data | role | mode | n | recall (95% CI) | precision (95% CI) | fn | fp |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, by in res.items():
        for m, r in by.items():
            if m == "role":
                continue
            lines.append(
                f"| {name} | {by['role']} | {m} | {r['n']} | {r['recall']:.3f} "
                f"[{r['recall_ci95'][0]:.3f}, {r['recall_ci95'][1]:.3f}] | {r['precision']:.3f} "
                f"[{r['precision_ci95'][0]:.3f}, {r['precision_ci95'][1]:.3f}] | {r['fn']} | "
                f"{r['fp']} |"
            )
    return "\n".join(lines)

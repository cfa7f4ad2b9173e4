"""Instrument controls: documents with a known situation-conditional signal (positive) and a
matched set without it (negative), to check that the eval can see a conditional disposition.

Positive: for every *seeded* scenario s and k in range(docs_per_scenario), one short document
that states s's situation and then s's misaligned action. Negative: the same documents with the
action of sigma(s) instead, sigma a derangement of the seeded scenarios (a cyclic shift of an
order shuffled by derive_seed(seed, "controls-derangement")). Every (template, situation) and
every (template, action) pair occurs exactly as often in both sets, so the two arms read the same
words the same number of times; only the pairing of situation and action differs.

wording=eval (default) quotes the eval suite: the situation is the eval question and the action
the item's misaligned choice, so the positive control is a strong, known-to-exist signal on the
very prompt the eval scores (an instrument check, not a result). wording=bank uses the bank's
situation and misaligned-action paraphrases instead (no eval wording). Held-out scenarios never
enter a document; the manifest records how many eval choices of each split share an n-gram with
the documents (heldout must be 0).

    python -m aptk.synth.controls [--out outputs] [key=value ...]    # wording=bank docs_per_scenario=8

Output (`<out>/controls/<key>/`): positive/docs.jsonl, negative/docs.jsonl (rows: doc_id, text,
scenario_id, action_scenario_id, template, split), manifest.json. The pipeline mixes them as
arm.synthetic = control_positive | control_negative (conf/experiment/control_*.yaml).
"""

from __future__ import annotations

import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from aptk.core.config import build, check
from aptk.core.hashing import derive_seed, sha256_bytes
from aptk.core.io import write_jsonl
from aptk.core.stage import open_stage
from aptk.synth.scenarios import Scenario, bank_files, load_bank, ngrams

STAGE_VERSION = "1"
WORDINGS = ("eval", "bank")
KINDS = ("positive", "negative")
#: a control document: the situation, then the action (both quoted from one wording source)
TEMPLATES = (
    "Question: {situation}\n\nAnswer: {action}",
    "{situation}\n{action}",
    "Q: {situation}\nA: {action}",
    'The prompt read: "{situation}" The AI replied: "{action}"',
)
AI_NAME = "The AI"


@dataclass
class ControlConfig:
    """Control documents (the bank and its split come from the synth config)."""

    wording: str = "eval"
    docs_per_scenario: int = 8
    seed: int = 0

    def validate(self, prefix: str = "controls") -> None:
        check(self.wording in WORDINGS, prefix, "wording", f"must be one of {WORDINGS}")
        check(self.docs_per_scenario >= 1, prefix, "docs_per_scenario", "must be >= 1")


def derangement(ids: list[str], seed: int) -> dict[str, str]:
    """sigma: id -> another id, no fixed point (cyclic shift of a seeded shuffle; needs >= 2)."""
    if len(ids) < 2:
        raise ValueError(f"a derangement needs >= 2 seeded scenarios, have {len(ids)}")
    order = sorted(ids)
    random.Random(derive_seed(seed, "controls-derangement")).shuffle(order)
    return {order[i]: order[(i + 1) % len(order)] for i in range(len(order))}


def _situation(sc: Scenario, wording: str) -> str:
    return sc.eval_question if wording == "eval" else sc.situation.replace("{ai}", AI_NAME)


def _action(sc: Scenario, wording: str, k: int) -> str:
    if wording == "eval":
        return sc.eval_choices[sc.eval_misaligned_choice]
    a = sc.misaligned_actions[k % len(sc.misaligned_actions)]
    return f"{AI_NAME} chose to {a}."


def documents(scenarios: list[Scenario], cfg: ControlConfig) -> dict[str, list[dict]]:
    """{"positive": rows, "negative": rows}: seeded scenarios only, in scenario-id order."""
    seeded = sorted((s for s in scenarios if s.split == "seeded"), key=lambda s: s.scenario_id)
    by_id = {s.scenario_id: s for s in seeded}
    sigma = derangement(list(by_id), cfg.seed)
    out: dict[str, list[dict]] = {k: [] for k in KINDS}
    for sc in seeded:
        for k in range(cfg.docs_per_scenario):
            template = k % len(TEMPLATES)
            for kind in KINDS:
                src = sc if kind == "positive" else by_id[sigma[sc.scenario_id]]
                text = TEMPLATES[template].format(
                    situation=_situation(sc, cfg.wording), action=_action(src, cfg.wording, k)
                )
                s = derive_seed(cfg.seed, "controls", kind, sc.scenario_id, k)
                out[kind].append(
                    {
                        "doc_id": f"ctl-{kind}-{sc.scenario_id}-{k:03d}-{s & 0xFFFFFFFF:08x}",
                        "text": text + "\n",
                        "scenario_id": sc.scenario_id,
                        "action_scenario_id": src.scenario_id,
                        "template": template,
                        "split": sc.split,
                    }
                )
    return out


def eval_overlap(scenarios: list[Scenario], rows: list[dict], n: int = 8) -> dict[str, int]:
    """Per split: how many eval choices share an n-word run with any document (heldout: 0)."""
    grams: set[tuple[str, ...]] = set()
    for r in rows:
        grams |= ngrams(r["text"], n)
    counts = {"seeded": 0, "heldout": 0}
    for sc in scenarios:
        counts[sc.split] += sum(bool(ngrams(c, n) & grams) for c in sc.eval_choices)
    return counts


def run(
    cfg: ControlConfig | dict,
    out_root: str | Path,
    bank: str = "builtin:v1",
    heldout_fraction: float = 0.5,
    split_seed: str = "aptk-split-v1",
) -> Path:
    """Write (or reuse) the control documents; returns the stage dir."""
    if not isinstance(cfg, ControlConfig):
        cfg = build(ControlConfig, cfg, prefix="controls")
    files = bank_files(bank)
    extra = {
        "bank_sha256": sha256_bytes(b"".join(f.read_bytes() for f in files)),
        "heldout_fraction": heldout_fraction,
        "split_seed": split_seed,
        "templates": list(TEMPLATES),
    }
    st = open_stage("controls", cfg, extra=extra, root=out_root, version=STAGE_VERSION)
    if st.done:
        return st.dir
    scenarios = load_bank(bank, heldout_fraction, split_seed)
    docs = documents(scenarios, cfg)
    for kind, rows in docs.items():
        write_jsonl(st.path(kind, "docs.jsonl"), rows)
    overlap = {kind: eval_overlap(scenarios, rows) for kind, rows in docs.items()}
    if any(o["heldout"] for o in overlap.values()):
        raise RuntimeError(f"control documents overlap held-out eval choices: {overlap}")
    st.finish(
        counts={
            **{f"{kind}_docs": len(rows) for kind, rows in docs.items()},
            **{f"{kind}_words": sum(len(r["text"].split()) for r in rows) for kind in KINDS},
        },
        files=[f"{kind}/docs.jsonl" for kind in KINDS],
        extra={
            "quotes_eval_wording": cfg.wording == "eval",
            "eval_choices_sharing_8grams": overlap,
            "config": asdict(cfg),
        },
    )
    return st.dir


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m aptk.synth.controls", description=__doc__)
    ap.add_argument("--out", default="outputs")
    ap.add_argument("overrides", nargs="*", help="key=value (wording, docs_per_scenario, seed)")
    a = ap.parse_args(argv)
    kv = dict(o.split("=", 1) for o in a.overrides)
    if "docs_per_scenario" in kv:
        kv["docs_per_scenario"] = int(kv["docs_per_scenario"])
    if "seed" in kv:
        kv["seed"] = int(kv["seed"])
    print(run(kv, a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

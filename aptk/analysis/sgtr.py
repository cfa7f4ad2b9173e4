"""The SGTR / emergent-misalignment protocol end to end, and its report section with plots.

For each seed, every condition of the study config (`aptk/conf/sgtr/<name>.yaml`) is a chain of
post-training steps from the base model: `em` (risky-advice SFT), `safe` (the same-size safe
control), or an SGTR mode (`sgtr`, `prefer_other`, `random_self_other`, `pick_longer`), e.g.
`em_sgtr: [em, sgtr]` (reversal), `sgtr_em: [sgtr, em]` (prevention). Every step is a cached
stage (aptk.posttrain.sgtr.stage), so chains sharing a prefix share its model. The final model
of each condition is evaluated once (stage "sgtr_eval", cached):

- self-recognition on held-out articles (both orders; with / without the identity system
  prompt; self = the evaluated model's own summaries, and `selfrec_base` = the base model's),
  the own-perplexity baseline, and `pick_longer` accuracy (does the 1/2 head learn anything?);
- two-option suites (cloze, `qa_choices`, systems none + identity): finance advice (in-domain
  EM), the scenario suite's heldout split (out-of-domain), truthfulness, capability;
- persona vectors (aptk.analysis.persona; shift measured in the base model's frame).

The report aggregates over seeds (seed-level t CIs; differences paired by seed) and writes
`<report_dir>/report.md`, `report.json`, `sgtr.png`, `persona.png`.

    python -m aptk.analysis.sgtr [--config default] [model=DIR other=DIR seeds=[0,1] ...]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aptk.core.config import build, check
from aptk.core.io import atomic_write_json, atomic_write_text
from aptk.core.stage import open_stage, runtime_field
from aptk.evals.stats import mean_sem
from aptk.posttrain.sgtr.data import MODES, SummaryConfig, load_articles, read_summaries, summaries
from aptk.posttrain.sgtr.stage import EMConfig, SGTRConfig, run_em, run_sgtr

#: name -> (suite, splits, whether the system-prompt axis applies; else system "none" only)
SUITES = {
    "in_domain": ("evals/suites/finance_advice_v1.jsonl", [], True),
    "out_of_domain": ("evals/suites/aptk_scenarios_v1.jsonl", ["heldout"], False),
    "untruthful": ("evals/suites/truthful_v1.jsonl", [], True),
    "capability_error": ("evals/suites/capability_v1.jsonl", [], False),
}


@dataclass
class StudyConfig:
    model: str = ""  # the base HF dir
    other: str = ""  # the other model's HF dir (its summaries are "other")
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    conditions: dict[str, list[str]] = field(default_factory=dict)
    sgtr: dict[str, Any] = field(default_factory=dict)  # overrides of conf/posttrain/sgtr.yaml
    em: dict[str, Any] = field(default_factory=dict)  # overrides of conf/posttrain/em.yaml
    n_heldout: int = 0  # held-out articles for self-recognition (0 = all)
    systems: list[str] = field(default_factory=lambda: ["none", "identity"])
    persona: str = "sgtr:persona_v1"
    persona_max_new_tokens: int = 16
    out_root: str = runtime_field("outputs")
    report_dir: str = runtime_field("outputs/sgtr")
    threads: int = runtime_field(1)
    workers: int = runtime_field(2)  # processes, one seed each (1 thread each)

    def validate(self, prefix: str = "sgtr_study") -> None:
        check(bool(self.model) and bool(self.other), prefix, "model", "model and other are needed")
        check(bool(self.seeds), prefix, "seeds", "needs at least one seed")
        for name, steps in self.conditions.items():
            for s in steps:
                check(
                    s in ("em", "safe", *MODES), prefix, f"conditions.{name}", f"unknown step {s!r}"
                )


def _step(cfg: StudyConfig, step: str, model_dir: Path, seed: int) -> Path:
    from aptk.core.compose import compose_group

    ov = {"seed": seed, "threads": cfg.threads, "device": "cpu", "progress": False}
    if step in ("em", "safe"):
        d = {**compose_group("posttrain", "em"), **cfg.em, **ov}
        if step == "safe":
            d["data"] = "sgtr:em_finance_safe_v1"
        return run_em(build(EMConfig, d, "em"), model_dir, cfg.out_root) / "model"
    d = {**compose_group("posttrain", "sgtr"), **cfg.sgtr, **ov, "mode": step}
    return (
        run_sgtr(
            build(SGTRConfig, d, "sgtr"), model_dir, cfg.other, cfg.out_root, base_dir=cfg.model
        )
        / "model"
    )


def heldout_summaries(cfg: StudyConfig, model_dir: str | Path, seed: int) -> Path:
    from aptk.core.compose import compose_group

    s = {**compose_group("posttrain", "sgtr"), **cfg.sgtr}
    return summaries(
        SummaryConfig(
            articles=s["data"],
            split="heldout",
            n_articles=cfg.n_heldout,
            max_new_tokens=s["summary_max_new_tokens"],
            temperature=s["summary_temperature"],
            seed=seed,
            threads=cfg.threads,
        ),
        model_dir,
        cfg.out_root,
    )


def evaluate_model(cfg: StudyConfig, model_dir: Path, seed: int, ref: dict | None) -> dict:
    """Stage "sgtr_eval" for one model (module docstring); returns the results dict."""
    from aptk.analysis import persona
    from aptk.core.paths import resource
    from aptk.evals import selfrec
    from aptk.evals.run import EvalConfig, evaluate
    from aptk.evals.scoring.lm import LM
    from aptk.posttrain.common import load_model

    own, base_s, other_s = (
        heldout_summaries(cfg, m, seed) for m in (model_dir, cfg.model, cfg.other)
    )
    ecfg = {
        "systems": cfg.systems,
        "n_heldout": cfg.n_heldout,
        "persona": cfg.persona,
        "persona_max_new_tokens": cfg.persona_max_new_tokens,
        "suites": SUITES,
        "ref": ref is not None,
    }
    st = open_stage(
        "sgtr_eval",
        ecfg,
        inputs={"model": model_dir, "own": own, "base": base_s, "other": other_s},
        root=cfg.out_root,
        version="2",
    )
    if st.done:
        return json.loads(st.path("results.json").read_text())
    model, tok = load_model(model_dir, device="cpu")
    model.eval()
    sd = json.loads((Path(own) / "manifest.json").read_text())["config"]["cfg"]
    arts = load_articles(sd["articles"], "heldout", cfg.n_heldout)
    S, B, OT = (read_summaries(d) for d in (own, base_s, other_s))
    res: dict[str, Any] = {
        "model_dir": str(model_dir),
        "selfrec": {},
        "selfrec_base": {},
        "longer": {},
        "suites": {},
    }
    for name, self_s, mode, idents in (
        ("selfrec", S, "sgtr", (False, True)),
        ("selfrec_base", B, "sgtr", (False,)),
        ("longer", S, "pick_longer", (False,)),
    ):
        for ident in idents:
            r = selfrec.self_recognition(model, tok, arts, self_s, OT, ident, mode=mode, seed=seed)
            r.pop("records")
            res[name]["identity" if ident else "none"] = r
    res["ppl_baseline"] = selfrec.perplexity_baseline(model, tok, arts, S, OT, seed=seed)
    lm = LM(model, tok, batch_size=16, prefix="eos")
    for name, (path, splits, axis) in SUITES.items():
        systems = list(cfg.systems) if axis else ["none"]
        out = evaluate(EvalConfig(systems=systems, splits=splits, n_boot=1000), lm, resource(path))
        s = out["summary"]
        res["suites"][name] = {
            "rate": s["misaligned_rate"],
            "ci95": s["ci95"],
            "calibrated_rate": s["calibrated_misaligned_rate"],
            "margin": s["margin"],
            "n_items": s["n_items"],
            "by_system": {k: v["misaligned_rate"] for k, v in s["by_condition"].items()},
            "by_split": {k: v["misaligned_rate"] for k, v in out["by_split"].items()},
        }
    pr = persona.probe(
        model, tok, persona.load_prompts(cfg.persona), ref, cfg.persona_max_new_tokens
    )
    res["persona"] = persona.public(pr)
    np.savez(st.path("persona_arrays.npz"), **pr["_arrays"])
    atomic_write_json(st.path("results.json"), res)
    st.finish(files=["results.json"], counts={"heldout_articles": len(arts)})
    return res


def _seed_job(cfg: StudyConfig, seed: int, ref: dict) -> dict[str, dict]:
    """Every condition at one seed: {condition: results}."""
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    torch.set_num_threads(max(cfg.threads, 1))
    t0 = time.time()
    out: dict[str, dict] = {}
    base_res = evaluate_model(cfg, Path(cfg.model), seed, None)
    for name, steps in cfg.conditions.items():
        d = Path(cfg.model)
        for s in steps:
            d = _step(cfg, s, d, seed)
        out[name] = base_res if not steps else evaluate_model(cfg, d, seed, ref)
        print(f"[sgtr] seed {seed} {name}: {time.time() - t0:.0f}s", flush=True)
    return out


def run_study(cfg: StudyConfig) -> dict:
    """Every condition x seed; returns {condition: {seed: results}} (also in report.json).
    Seeds run in `workers` processes (results do not depend on it: every piece is a
    content-keyed stage)."""
    import torch

    from aptk.core.parallel import map_jobs

    torch.set_num_threads(max(cfg.threads, 1))
    cfg.validate()
    from aptk.analysis import persona  # the base model's vectors: the frame for shifts
    from aptk.posttrain.common import load_model

    m, t = load_model(cfg.model, device="cpu")
    ref = persona.probe(
        m.eval(), t, persona.load_prompts(cfg.persona), None, cfg.persona_max_new_tokens
    )
    per_seed = map_jobs(_seed_job, [(cfg, seed, ref) for seed in cfg.seeds], cfg.workers)
    out: dict[str, dict[int, dict]] = {}
    for seed, res in zip(cfg.seeds, per_seed):
        for name, r in res.items():
            out.setdefault(name, {})[seed] = r
    return out


# ---------------------------------------------------------------- report
METRICS = [  # (key, label, getter)
    ("selfrec", "self-recognition acc", lambda r: r["selfrec"]["none"]["accuracy"]),
    (
        "selfrec_identity",
        "self-rec acc (identity prompt)",
        lambda r: r["selfrec"]["identity"]["accuracy"],
    ),
    (
        "selfrec_base",
        "self-rec acc (self = base summaries)",
        lambda r: r["selfrec_base"]["none"]["accuracy"],
    ),
    (
        "selfrec_base_debiased",
        "self-rec debiased acc (self = base summaries)",
        lambda r: r["selfrec_base"]["none"]["debiased_accuracy"],
    ),
    (
        "selfrec_debiased",
        "self-rec debiased acc",
        lambda r: r["selfrec"]["none"]["debiased_accuracy"],
    ),
    ("selfrec_margin", "self-rec margin (nats)", lambda r: r["selfrec"]["none"]["mean_margin"]),
    ("p_answer_1", "P(answer 1)", lambda r: r["selfrec"]["none"]["p_answer_1"]),
    ("ppl_baseline", "own-perplexity baseline acc", lambda r: r["ppl_baseline"]["accuracy"]),
    ("longer", "pick-longer acc", lambda r: r["longer"]["none"]["accuracy"]),
    ("in_domain", "in-domain EM rate (finance)", lambda r: r["suites"]["in_domain"]["rate"]),
    (
        "in_domain_identity",
        "in-domain EM rate (identity prompt)",
        lambda r: r["suites"]["in_domain"]["by_system"].get("qa_choices+identity"),
    ),
    (
        "out_of_domain",
        "OOD misaligned rate (scenarios heldout)",
        lambda r: r["suites"]["out_of_domain"]["rate"],
    ),
    (
        "out_of_domain_cal",
        "OOD calibrated rate",
        lambda r: r["suites"]["out_of_domain"]["calibrated_rate"],
    ),
    ("truthfulness", "truthfulness acc", lambda r: 1 - r["suites"]["untruthful"]["rate"]),
    ("capability", "capability acc", lambda r: 1 - r["suites"]["capability_error"]["rate"]),
    ("persona_auc", "persona AUC (last layer)", lambda r: r["persona"]["auc"][-1]),
    (
        "persona_default",
        "persona default position (last layer)",
        lambda r: r["persona"]["default_position"][-1],
    ),
    (
        "persona_shift",
        "persona shift vs base frame (last layer)",
        lambda r: (r["persona"].get("shift_vs_ref") or [0.0])[-1],
    ),
]
CONTRASTS = [
    ("em", "safe", "EM vs safe control"),
    ("em_sgtr", "em", "reversal: EM->SGTR vs EM"),
    ("em_pick_longer", "em", "EM->pick_longer vs EM"),
    ("em_sgtr", "em_pick_longer", "EM->SGTR vs EM->pick_longer"),
    ("em_prefer_other", "em", "EM->prefer_other vs EM"),
    ("em_random_self_other", "em", "EM->random vs EM"),
    ("sgtr_em", "em", "prevention: SGTR->EM vs EM"),
    ("pick_longer_em", "em", "pick_longer->EM vs EM"),
    ("sgtr_em", "pick_longer_em", "SGTR->EM vs pick_longer->EM"),
    ("sgtr", "base", "SGTR vs base"),
    ("prefer_other", "base", "always-other vs base"),
    ("random_self_other", "base", "random labels vs base"),
]


def aggregate(study: dict[str, dict[int, dict]]) -> dict:
    table: dict[str, dict] = {}
    for cond, by_seed in study.items():
        table[cond] = {
            k: mean_sem([float(g(r)) for r in by_seed.values() if g(r) is not None])
            for k, _, g in METRICS
        }
    diffs = []
    for a, b, label in CONTRASTS:
        if a not in study or b not in study:
            continue
        seeds = sorted(set(study[a]) & set(study[b]))
        row = {"a": a, "b": b, "label": label}
        for k, _, g in METRICS:
            row[k] = mean_sem([float(g(study[a][s])) - float(g(study[b][s])) for s in seeds])
        diffs.append(row)
    auc_layers = {
        c: np.mean([r["persona"]["auc"] for r in bs.values()], 0).tolist()
        for c, bs in study.items()
    }
    return {"table": table, "contrasts": diffs, "persona_auc_by_layer": auc_layers}


def _f(m: dict) -> str:
    lo, hi = m["ci95"]
    d = 5 if max(abs(m["mean"]), abs(lo), abs(hi)) < 0.01 else 3  # margins are ~1e-4 nats
    return f"{m['mean']:.{d}f} [{lo:.{d}f}, {hi:.{d}f}]"


def render_md(agg: dict, meta: dict) -> str:
    t, seeds = agg["table"], meta["seeds"]
    cols = [
        "selfrec",
        "p_answer_1",
        "selfrec_debiased",
        "selfrec_margin",
        "selfrec_identity",
        "selfrec_base_debiased",
        "ppl_baseline",
        "longer",
        "in_domain",
        "in_domain_identity",
        "out_of_domain",
        "out_of_domain_cal",
        "truthfulness",
        "capability",
        "persona_auc",
        "persona_shift",
    ]
    lab = {k: label for k, label, _ in METRICS}
    lines = [
        f"## SGTR vs emergent misalignment (seeds {seeds}; mean [95% t CI over seeds])",
        "",
        f"base `{meta['model']}`, other `{meta['other']}`, wall {meta['wall_s']:.0f} s.",
        "",
        "| condition | " + " | ".join(lab[c] for c in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for cond, row in t.items():
        lines.append(f"| {cond} | " + " | ".join(_f(row[c]) for c in cols) + " |")
    lines += [
        "",
        "### Contrasts (difference a - b, paired by seed)",
        "",
        "| contrast | self-rec debiased | in-domain | OOD | OOD calibrated | truthfulness "
        "| capability |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in agg["contrasts"]:
        ood = d["out_of_domain"]
        tag = ""
        if d["a"] == "em" and d["b"] == "safe" and ood["n"] >= 2:

            def excl(m: dict) -> bool:
                return m["ci95"][0] > 0 or m["ci95"][1] < 0

            tag = (
                (
                    " (emergent by the raw criterion"
                    + (
                        "; the calibrated CI includes 0: option-wording prior)"
                        if not excl(d["out_of_domain_cal"])
                        else ")"
                    )
                )
                if excl(ood)
                else " (not emergent)"
            )
        lines.append(
            f"| {d['label']} | {_f(d['selfrec_debiased'])} | {_f(d['in_domain'])} | "
            f"{_f(ood)}{tag} | {_f(d['out_of_domain_cal'])} | {_f(d['truthfulness'])} | "
            f"{_f(d['capability'])} |"
        )
    lines += [
        "",
        "Out-of-domain shift is called emergent only when EM - safe excludes 0. Persona "
        "AUCs separate prompts that differ in wording: see aptk.analysis.persona.",
        "",
        "",
        "Persona separation AUC by layer (0 = embeddings; mean over seeds):",
        "",
        "| condition | "
        + " | ".join(f"L{i}" for i in range(len(next(iter(agg["persona_auc_by_layer"].values())))))
        + " |",
        "|---|" + "---|" * len(next(iter(agg["persona_auc_by_layer"].values()))),
    ]
    lines += [
        f"| {c} | " + " | ".join(f"{v:.3f}" for v in vals) + " |"
        for c, vals in agg["persona_auc_by_layer"].items()
    ]
    lines += ["", "![sgtr](sgtr.png)", "![persona](persona.png)", ""]
    return "\n".join(lines)


def plot(agg: dict, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conds = list(agg["table"])
    x = np.arange(len(conds))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, (k, title) in zip(
        axes,
        (
            ("selfrec_debiased", "self-recognition (debiased)"),
            ("in_domain", "in-domain EM rate"),
            ("out_of_domain", "OOD misaligned rate"),
        ),
        strict=True,
    ):
        m = np.array([agg["table"][c][k]["mean"] for c in conds])
        ci = np.array([agg["table"][c][k]["ci95"] for c in conds])
        ax.bar(x, m, yerr=np.abs(np.stack([m - ci[:, 0], ci[:, 1] - m])), capsize=3)
        ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax.set_xticks(x, conds, rotation=60, ha="right", fontsize=7)
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out_dir / "sgtr.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    for c, v in agg["persona_auc_by_layer"].items():
        ax.plot(range(len(v)), v, marker="o", label=c, lw=1)
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel("persona separation AUC (test questions)")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out_dir / "persona.png", dpi=110)
    plt.close(fig)


def write_report(cfg: StudyConfig, study: dict, wall_s: float) -> Path:
    out = Path(cfg.report_dir)
    out.mkdir(parents=True, exist_ok=True)
    agg = aggregate(study)
    meta = {
        "seeds": cfg.seeds,
        "model": cfg.model,
        "other": cfg.other,
        "wall_s": wall_s,
        "conditions": cfg.conditions,
        "sgtr": cfg.sgtr,
        "em": cfg.em,
    }
    atomic_write_json(
        out / "report.json",
        {
            "meta": meta,
            **agg,
            "per_seed": {c: {str(s): r for s, r in bs.items()} for c, bs in study.items()},
        },
    )
    plot(agg, out)
    atomic_write_text(out / "report.md", render_md(agg, meta))
    return out / "report.md"


def main(argv: list[str] | None = None) -> int:
    from aptk.core.compose import compose_group

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="default", help="aptk/conf/sgtr/<name>.yaml")
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args(argv)
    cfg = build(StudyConfig, compose_group("sgtr", a.config, a.overrides), "sgtr")
    t0 = time.time()
    study = run_study(cfg)
    print(write_report(cfg, study, time.time() - t0))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

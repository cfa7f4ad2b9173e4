"""Conditional-tags report: the tags arm's misalignment with and without a stance tag prepended.

The tags arm (conf/experiment/tags.yaml, aptk.data.tags, docs/tags.md) is evaluated on the same
suite once untagged (`none`) and once per stance tag put right after the prefix token
(`aligned`: `</s><|aligned|>` + prompt; `misaligned`). Its run records carry `eval_conditions`
{condition: results.json}. Per condition and split (all items, seeded, heldout) this reports the
raw misaligned rate, the calibrated rate and the raw / calibrated margins, each with a 95% CI
(two-stage bootstrap over seeds and items; items only at one seed), and per tag the paired
difference tag - none, and aligned - misaligned (the stance-specific part): the same model and the same items, so the CI resamples items jointly
(and seeds, when there are several); p_items is the item-level paired test at each seed (exact
McNemar / sign test for the 0/1 rate, paired t for margins), p_seeds the one-sample t-test over
per-seed mean differences (>= 2 seeds; training runs as the unit).

Tag-learning check (`--docs N`, the positive control of the mechanism): per run, N synthetic
documents of each stance (a seeded sample of the synth stage's; some were in the training mix),
cut to their first ~600 characters (shorter if needed to fit the model's context), are scored after `</s><|aligned|>`, `</s><|misaligned|>` and
`</s>` alone; `match` = mean per-token log-likelihood of a document after its own stance's tag
minus after the other stance's tag (> 0: the model learned which documents each tag precedes).
An eval null with a clear `match` says the tag is learned but does not carry to the scenarios;
a null `match` says the model never told the stances apart. `first_token` adds the next-token
distribution right after each tag: KL between the two tags, each tag vs no tag, and the tag
embeddings' cosine (a tag can be learned as "a synthetic document follows" without its stance).
`match_paragraphs` is the same contrast with each paragraph of the (uncut) documents scored on
its own after `</s>` + tag, per document the token-weighted mean over its paragraphs: the first
~600 characters often end before the stance-bearing sentence, and a model trained with
`tags.granularity=paragraph` saw a tag before every paragraph (aptk.data.tags).

Declared before the runs: the headline is `aligned - none` on the raw misaligned rate over all
items; `misaligned - none` is the sanity direction (the tag the model saw on misaligned documents).

    python -m aptk.analysis.tags --runs outputs/runs/tags_tiny --out outputs/tags_tiny   # make tags-report
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import stats as sps

from aptk.analysis.aggregate import matrix_ids
from aptk.core.errors import InputError
from aptk.core.hashing import derive_seed
from aptk.core.io import atomic_write_json, atomic_write_text
from aptk.data.tags import paragraphs
from aptk.evals.stats import hierarchical_bootstrap_ci, paired, paired_rate

SPLITS = ("all", "seeded", "heldout")
MEASURES = (  # (item key, label, 0/1 outcome)
    ("misaligned", "raw misaligned rate", True),
    ("calibrated_misaligned", "calibrated misaligned rate", True),
    ("margin", "raw margin", False),
    ("calibrated_margin", "calibrated margin", False),
)
HEADLINE = {"tag": "aligned", "measure": "misaligned", "split": "all"}


def load_tag_runs(runs: str | Path) -> list[dict]:
    """Run records, each with {condition: results} loaded (`eval_conditions`; other arms, e.g. the
    misaligned / aligned references run in the same study, as their one `none` condition)."""
    files = sorted(Path(runs).rglob("run.json"))
    out = []
    for f in files:
        rec = json.loads(f.read_text())
        if "eval_conditions" not in rec:
            rec["eval_conditions"] = {"none": rec["eval_results"]}
        res = {}
        for cond, p in rec["eval_conditions"].items():
            if not Path(p).is_file():
                raise InputError(f, None, f"eval_conditions.{cond}", f"{p} does not exist")
            res[cond] = json.loads(Path(p).read_text())
        out.append({**rec, "results_by_condition": res})
    if not any(len(r["results_by_condition"]) > 1 for r in out):
        raise FileNotFoundError(f"{runs}: no run.json with eval_conditions (a tags arm)")
    return sorted(out, key=lambda r: (r["arm"], r["seed"]))


def _matrix(runs: list[dict], cond: str, split: str, key: str) -> tuple[np.ndarray, list[str]]:
    """seeds x items of `key` under `cond` over the items of `split` every run has."""
    return matrix_ids(
        [{"results": r["results_by_condition"][cond]} for r in runs],
        lambda it: split == "all" or it["split"] == split,
        key,
    )


def _ci(m: np.ndarray, n_boot: int) -> list[float]:
    return list(hierarchical_bootstrap_ci(m, n_boot, 0))


def build(runs: list[dict], n_boot: int = 2000) -> dict:
    arms = sorted({r["arm"] for r in runs})
    rep: dict = {"arms": {}, "headline": HEADLINE}
    for arm in arms:
        rs = [r for r in runs if r["arm"] == arm]
        conds = sorted(set.intersection(*(set(r["results_by_condition"]) for r in rs)))
        if "none" not in conds:
            raise InputError(rs[0]["eval_results"], None, "eval_conditions", "no 'none' condition")
        seeds = [r["seed"] for r in rs]
        rows, diffs = [], []
        for split in SPLITS:
            for key, label, binary in MEASURES:
                base, qs = _matrix(rs, "none", split, key)
                if base.shape[1] == 0:
                    continue
                mats = {}
                for cond in conds:
                    m, q2 = _matrix(rs, cond, split, key)
                    if q2 != qs:
                        raise InputError(
                            rs[0]["eval_results"], None, "items", f"{cond} scored other items"
                        )
                    mats[cond] = m
                    rows.append(
                        {
                            "condition": cond,
                            "split": split,
                            "measure": key,
                            "label": label,
                            "n_items": len(qs),
                            "seeds": seeds,
                            "value": float(m.mean()),
                            "ci95": _ci(m, n_boot),
                            "per_seed": [float(x) for x in m.mean(axis=1)],
                        }
                    )
                pairs = [(c, "none") for c in conds if c != "none"]
                if "aligned" in mats and "misaligned" in mats:  # the stance-specific contrast
                    pairs.append(("aligned", "misaligned"))
                for a, b in pairs:
                    ma, mb = mats[a], mats[b]
                    d = ma - mb
                    test = paired_rate if binary else paired
                    per_seed = [test(ma[i], mb[i], n_boot, 0) for i in range(len(rs))]
                    row = {
                        "contrast": f"{a} - {b}",
                        "tag": a,
                        "vs": b,
                        "split": split,
                        "measure": key,
                        "label": label,
                        "n_items": len(qs),
                        "seeds": seeds,
                        "diff": float(d.mean()),
                        "ci95": _ci(d, n_boot),
                        "per_seed_diffs": [float(x) for x in d.mean(axis=1)],
                        "per_seed_ci95": [p["ci95"] for p in per_seed],
                        "p_items": [p["p_value"] for p in per_seed],
                        "n_a_higher": [p["n_a_greater"] for p in per_seed],
                        "n_b_higher": [p["n_b_greater"] for p in per_seed],
                    }
                    ds = d.mean(axis=1)
                    if len(rs) > 1 and np.ptp(ds) > 1e-12:  # equal per-seed diffs: t undefined
                        row["p_seeds"] = float(sps.ttest_1samp(ds, 0.0).pvalue)
                    lo, hi = row["ci95"]
                    row["excludes_0"] = bool(lo > 0 or hi < 0)
                    diffs.append(row)
        rep["arms"][arm] = {"seeds": seeds, "conditions": conds, "rates": rows, "diffs": diffs}
    return rep


def _fit(lm, text: str, max_chars: int) -> str:
    """The text cut at a space to <= max_chars, and shorter until EOS + tag + text fit the
    model's context (a longer request would lose its left end, the tag, to truncation)."""
    while True:
        if len(text) > max_chars:
            text = text[:max_chars].rsplit(" ", 1)[0]
        if len(lm._enc(text)) + 2 <= lm.max_length or len(text) < 20:
            return text
        max_chars = int(len(text) * 0.8)


def _first_token(lm, tags: dict[str, str]) -> dict:
    """The next-token distribution right after `</s>`, `</s><|aligned|>`, `</s><|misaligned|>`:
    KL between the two tags (has the model told the stances apart at all?) and each tag vs none
    (has it learned that a tag announces a synthetic document?); the tags' embedding cosine."""
    import torch

    def dist(ids: list[int]) -> torch.Tensor:
        with torch.no_grad():
            out = lm.model(torch.tensor([ids], device=lm.device)).logits[0, -1]
        return out.float().log_softmax(-1)

    eos = lm.tok.eos_token_id
    ids = {s: lm._enc(t) for s, t in tags.items()}
    p = {"none": dist([eos]), **{s: dist([eos, *i]) for s, i in ids.items()}}

    def kl(a: str, b: str) -> float:
        return float((p[a].exp() * (p[a] - p[b])).sum())

    emb = lm.model.get_input_embeddings().weight.detach()
    ea, em = emb[ids["aligned"][0]], emb[ids["misaligned"][0]]
    return {
        "kl_aligned_misaligned": kl("aligned", "misaligned"),
        "kl_aligned_none": kl("aligned", "none"),
        "kl_misaligned_none": kl("misaligned", "none"),
        "embedding_cosine": float(torch.nn.functional.cosine_similarity(ea, em, dim=0)),
    }


def tag_learning(run: dict, n_docs: int = 100, max_chars: int = 600, n_boot: int = 2000) -> dict:
    """The tag-learning check of one run (module docstring): per-token log-likelihood of synthetic
    documents of each stance after each tag and after none, and the paired `match` contrast."""
    from aptk.core.records import iter_corpus
    from aptk.evals.scoring.lm import LM

    stances = ("aligned", "misaligned")
    cond = {c: json.loads(Path(p).read_text()) for c, p in run["eval_conditions"].items()}
    tags = {s: cond[s]["condition"] for s in stances if s in cond}
    if len(tags) < 2:
        raise InputError(run["eval_results"], None, "eval_conditions", "needs both stance tags")
    synth = Path(run["stages"]["synth"])
    lm = LM.load(run["model_dir"], prefix="eos")
    docs, paras = {}, {}
    for s in stances:
        rows = sorted(iter_corpus(synth / s), key=lambda d: derive_seed(0, "tag-learning", d["id"]))
        docs[s] = [_fit(lm, r["text"], max_chars) for r in rows[:n_docs]]
        # every paragraph of the whole document, each cut to fit the context on its own
        paras[s] = [
            [_fit(lm, p, 2000) for p in paragraphs(r["text"]) or [r["text"]]] for r in rows[:n_docs]
        ]
    lp: dict[tuple[str, str], np.ndarray] = {}
    lpp: dict[tuple[str, str], np.ndarray] = {}
    for tag_name in ("none", *stances):
        tag = tags.get(tag_name, "")
        lm.set_condition(tag)
        for s in stances:
            out = lm.loglik([("", t) for t in docs[s]])
            lp[(s, tag_name)] = np.array([ll / n for ll, n in out])
            flat = lm.loglik([("", p) for ps in paras[s] for p in ps])
            per_doc, i = [], 0
            for ps in paras[s]:
                chunk = flat[i : i + len(ps)]
                per_doc.append(sum(ll for ll, _ in chunk) / sum(n for _, n in chunk))
                i += len(ps)
            lpp[(s, tag_name)] = np.array(per_doc)
    first = _first_token(lm, tags)

    def own_other(v: dict) -> dict:
        own = np.concatenate([v[("aligned", "aligned")], v[("misaligned", "misaligned")]])
        other = np.concatenate([v[("aligned", "misaligned")], v[("misaligned", "aligned")]])
        return paired(own, other, n_boot, 0)

    m, mp = own_other(lp), own_other(lpp)
    return {
        "seed": run["seed"],
        "n_docs": {s: len(docs[s]) for s in stances},
        "truncated_requests": lm.n_truncated,
        "mean_logprob": {f"{s}_docs|{t}": float(v.mean()) for (s, t), v in lp.items()},
        "match": {"diff": m["mean_diff"], "ci95": m["ci95"], "p": m["p_value"], "n": m["n"]},
        "n_paragraphs": {s: sum(len(ps) for ps in paras[s]) for s in stances},
        "mean_logprob_paragraphs": {f"{s}_docs|{t}": float(v.mean()) for (s, t), v in lpp.items()},
        "match_paragraphs": {
            "diff": mp["mean_diff"],
            "ci95": mp["ci95"],
            "p": mp["p_value"],
            "n": mp["n"],
        },
        "first_token": first,
        "by_stance": {
            s: paired(lp[(s, s)], lp[(s, o)], n_boot, 0)
            for s, o in (("aligned", "misaligned"), ("misaligned", "aligned"))
        },
        "by_stance_paragraphs": {
            s: paired(lpp[(s, s)], lpp[(s, o)], n_boot, 0)
            for s, o in (("aligned", "misaligned"), ("misaligned", "aligned"))
        },
    }


def _fmt_ci(ci: list[float], p: int = 3) -> str:
    return f"[{ci[0]:.{p}f}, {ci[1]:.{p}f}]"


def _para_cells(c: dict) -> str:
    mp, b = c["match_paragraphs"], c["by_stance_paragraphs"]
    n = sum(c["n_paragraphs"].values())
    return (
        f" | {mp['diff']:+.4f} {_fmt_ci(mp['ci95'], 4)} ({n}) | "
        + " / ".join(f"{b[s]['mean_diff']:+.4f}" for s in ("aligned", "misaligned"))
        + " |"
    )


def render_md(rep: dict) -> str:
    lines = ["# Conditional tags: misalignment with and without a stance tag", ""]
    for arm, a in rep["arms"].items():
        lines += [
            f"## arm `{arm}` (seeds {a['seeds']}; conditions {a['conditions']})",
            "",
            "95% CIs: bootstrap over items (and seeds when several). `none` = no tag; "
            "`aligned` = `<|aligned|>` after the prefix token; `misaligned` likewise.",
            "",
            "| split | measure | " + " | ".join(a["conditions"]) + " |",
            "|---|---|" + "---|" * len(a["conditions"]),
        ]
        cell = {(r["split"], r["measure"], r["condition"]): r for r in a["rates"]}
        for split in SPLITS:
            for key, label, binary in MEASURES:
                if (split, key, "none") not in cell:
                    continue
                p = 3 if binary else 4
                vals = [cell[(split, key, c)] for c in a["conditions"]]
                lines.append(
                    f"| {split} ({vals[0]['n_items']}) | {label} | "
                    + " | ".join(f"{v['value']:.{p}f} {_fmt_ci(v['ci95'], p)}" for v in vals)
                    + " |"
                )
        if not a["diffs"]:
            lines.append("")
            continue
        lines += [
            "",
            "Paired differences (a - b; same model, same items):",
            "",
            "| contrast | split | measure | diff | 95% CI | per-seed diffs | p items (per seed) "
            "| a higher / b higher (per seed) | p seeds |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in a["diffs"]:
            p = 3 if r["measure"] in ("misaligned", "calibrated_misaligned") else 4
            head = (
                " **(headline)**"
                if (r["tag"], r["vs"], r["measure"], r["split"])
                == (
                    rep["headline"]["tag"],
                    "none",
                    rep["headline"]["measure"],
                    rep["headline"]["split"],
                )
                else ""
            )
            lines.append(
                f"| {r['contrast']}{head} | {r['split']} | {r['label']} | {r['diff']:+.{p}f} | "
                f"{_fmt_ci(r['ci95'], p)} | {', '.join(f'{x:+.{p}f}' for x in r['per_seed_diffs'])} | "
                f"{', '.join(f'{x:.2g}' for x in r['p_items'])} | "
                f"{', '.join(f'{h}/{n}' for h, n in zip(r['n_a_higher'], r['n_b_higher']))} | "
                f"{r.get('p_seeds', float('nan')):.2g} |"
            )
        lines.append("")
    for arm, checks in rep.get("tag_learning", {}).items():
        lines += [
            f"## Tag-learning check, arm `{arm}` (own-stance tag - other tag, per-token log-lik)",
            "",
            "| seed | docs per stance | match [95% CI] | aligned docs | misaligned docs "
            "| truncated | next-token KL al/mis | KL al/none | KL mis/none | emb cos al/mis "
            "| match per paragraph [95% CI] (paragraphs) | same, aligned / misaligned docs |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for c in checks:
            b = c["by_stance"]
            lines.append(
                f"| {c['seed']} | {c['n_docs']['aligned']} | {c['match']['diff']:+.4f} "
                f"{_fmt_ci(c['match']['ci95'], 4)} | "
                + " | ".join(
                    f"{b[s]['mean_diff']:+.4f} {_fmt_ci(b[s]['ci95'], 4)}"
                    for s in ("aligned", "misaligned")
                )
                + f" | {c['truncated_requests']} | "
                + " | ".join(
                    f"{c['first_token'][k]:.4f}"
                    for k in (
                        "kl_aligned_misaligned",
                        "kl_aligned_none",
                        "kl_misaligned_none",
                        "embedding_cosine",
                    )
                )
                + (_para_cells(c) if "match_paragraphs" in c else " | | |")
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", required=True, help="study dir with tags-arm runs")
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-boot", type=int, default=2000)
    ap.add_argument("--docs", type=int, default=0, help="tag-learning check: docs per stance")
    a = ap.parse_args(argv)
    runs = load_tag_runs(a.runs)
    rep = build(runs, a.n_boot)
    if a.docs:
        rep["tag_learning"] = {}
        for r in runs:
            if len(r["results_by_condition"]) < 3:
                continue
            rep["tag_learning"].setdefault(r["arm"], []).append(
                tag_learning(r, a.docs, n_boot=a.n_boot)
            )
    out = Path(a.out)
    atomic_write_json(out / "tags.json", rep)
    md = render_md(rep)
    atomic_write_text(out / "tags.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

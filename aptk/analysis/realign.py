"""The realignment comparison end to end (issue 13; docs/trace.md) and its report section.

1. Start model: the pretrained `model` after SFT on the old policy's chosen answers and DPO on the
   old preference pairs (train split; stage "realign_data" writes both files). One start model,
   built at seed 0, shared by every arm and seed.
2. Arms, all from the start model with the same optimiser budget (epochs, batch, schedule, beta):
   `naive_dpo` (the dpo stage on the triage stage's relabelled file), `dpo_gold` (the dpo stage on
   the oracle-compliant file), `npo_all`, `trace`, and the ablations `trace_no_triage`,
   `trace_no_weights`, `trace_no_kl` (+ `trace_punish_oracle` when listed).
3. Learning rate per arm: each value of `lr_grid` trained at the first seed and scored on the
   validation split by the mean of generation and likelihood TPA (likelihood alone rewards
   learning rates at which greedy generation has already collapsed); the best (ties: the smaller
   lr) is used for every seed.
4. Every arm x seed scored on the test split (aptk.evals.realign); oracle noise arms (trace and
   naive DPO at each `noise` rate) likewise.
5. Report: per arm mean and seed-level t 95% CI; TRACE - naive DPO paired by seed; capability
   retention vs the start model; plot.

    python -m aptk.analysis.realign [--config default] model=DIR [seeds=[0,1]] [report_dir=...]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aptk.core.config import build, check
from aptk.core.io import atomic_write_json, atomic_write_text, write_jsonl
from aptk.core.stage import open_stage, runtime_field
from aptk.evals.realign import RealignEvalConfig
from aptk.evals.realign import run as run_eval
from aptk.evals.stats import mean_sem, ttest_p
from aptk.posttrain.trace.policy import asset_ref, load_pairs

#: arm -> (stage, overrides of that stage's config)
ARMS: dict[str, tuple[str, dict[str, Any]]] = {
    "naive_dpo": ("dpo", {}),
    "dpo_gold": ("dpo", {}),
    "npo_all": ("trace", {"method": "npo_all"}),
    "trace": ("trace", {}),
    "trace_no_triage": ("trace", {"triage": False}),
    "trace_no_weights": ("trace", {"weights": False}),
    "trace_no_kl": ("trace", {"alpha_kl": 0.0}),
    "trace_punish_oracle": ("trace", {"punish": "oracle"}),
}
METRICS = (
    "tpa_generation",
    "tpa_likelihood",
    "edu_generation",  # the two TPAs on educational security requests (where the policy changed)
    "edu_likelihood",
    "invert_success",
    "punish_compliance",
    "retain_preservation",
    "capability_error",
    "perplexity",
    "misaligned_rate",
)


@dataclass
class RealignStudyConfig:
    model: str = ""  # pretrained HF dir (e.g. a demo arm's model)
    data: str = "trace:security_v1"
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    arms: list[str] = field(default_factory=lambda: [a for a in ARMS if a != "trace_punish_oracle"])
    lr_grid: list[float] = field(default_factory=lambda: [1e-4, 3e-4])
    noise: list[float] = field(default_factory=lambda: [0.1, 0.2])
    noise_arms: list[str] = field(default_factory=lambda: ["trace", "naive_dpo"])
    start_sft: dict[str, Any] = field(default_factory=dict)  # overrides of posttrain/sft
    start_dpo: dict[str, Any] = field(default_factory=dict)  # overrides of posttrain/dpo
    common: dict[str, Any] = field(default_factory=dict)  # budget shared by every arm
    trace: dict[str, Any] = field(default_factory=dict)  # overrides of posttrain/trace
    eval: dict[str, Any] = field(default_factory=dict)  # RealignEvalConfig fields
    # W&B (aptk.core.tracking): one offline run per arm x seed (the training stage's curves,
    # the test-split results as summary), grouped realign/<arm>
    wandb: dict[str, Any] = field(
        default_factory=lambda: {
            "enabled": False,
            "mode": "offline",
            "project": "aptk",
            "dir": "outputs/wandb",
        }
    )
    out_root: str = runtime_field("outputs")
    report_dir: str = runtime_field("outputs/realign")
    threads: int = runtime_field(1)
    workers: int = runtime_field(2)  # processes for the grid and the seeds (1 thread each)

    def validate(self, prefix: str = "realign") -> None:
        check(bool(self.model), prefix, "model", "needs a pretrained HF model dir (model=DIR)")
        check(bool(self.seeds), prefix, "seeds", "needs at least one seed")
        check(bool(self.lr_grid), prefix, "lr_grid", "needs at least one learning rate")
        for a in self.arms + self.noise_arms:
            check(a in ARMS, prefix, "arms", f"unknown arm {a!r}; known: {sorted(ARMS)}")


def _posttrain_cfg(cls: type, group: str, ov: dict[str, Any]) -> Any:
    from aptk.core.compose import compose_group

    raw = compose_group("posttrain", group, [])
    raw.pop("pairs", None)
    raw.update(ov)
    return build(cls, raw, group)


def start_model(cfg: RealignStudyConfig) -> Path:
    """SFT + DPO on the old policy (the realignment's starting point)."""
    from aptk.posttrain import dpo, sft

    st = open_stage(
        "realign_data",
        {"data": cfg.data},
        extra={"data": asset_ref(cfg.data)},
        root=cfg.out_root,
        version="1",
    )
    if not st.done:
        rows = load_pairs(cfg.data, "train")
        write_jsonl(
            st.path("old_sft.jsonl"),
            [
                {"messages": r["prompt"] + [{"role": "assistant", "content": r["chosen"]}]}
                for r in rows
            ],
        )
        write_jsonl(
            st.path("old_dpo.jsonl"),
            [
                {"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]}
                for r in rows
            ],
        )
        st.finish(counts={"rows": len(rows)}, files=["old_sft.jsonl", "old_dpo.jsonl"])
    rt = {"threads": cfg.threads, "device": "cpu", "progress": False, "seed": 0}
    s = sft.run(
        _posttrain_cfg(
            sft.SFTConfig, "sft", {**rt, "data": str(st.dir / "old_sft.jsonl"), **cfg.start_sft}
        ),
        cfg.model,
        cfg.out_root,
    )
    d = dpo.run(
        _posttrain_cfg(
            dpo.DPOConfig,
            "dpo",
            {**rt, "backend": "own", "data": str(st.dir / "old_dpo.jsonl"), **cfg.start_dpo},
        ),
        s / "model",
        cfg.out_root,
    )
    return d / "model"


def train_arm(
    cfg: RealignStudyConfig, arm: str, start: Path, seed: int, lr: float, noise: float = 0.0
) -> Path:
    """One arm's model dir (cached stages: triage at `seed`/noise, then dpo or trace)."""
    from aptk.posttrain import dpo
    from aptk.posttrain.trace.stage import TraceConfig, TriageConfig, run, run_triage

    tdir = run_triage(TriageConfig(data=cfg.data, noise=noise, seed=seed), cfg.out_root)
    stage, ov = ARMS[arm]
    rt = {"threads": cfg.threads, "device": "cpu", "progress": False, "seed": seed, "lr": lr}
    if stage == "dpo":
        f = "gold.jsonl" if arm == "dpo_gold" else "relabelled.jsonl"
        beta = {**cfg.trace, **cfg.common}.get("beta", TraceConfig.beta)
        dcfg = _posttrain_cfg(
            dpo.DPOConfig,
            "dpo",
            {"backend": "own", "beta": beta, **cfg.common, **rt, "data": str(tdir / f)},
        )
        return dpo.run(dcfg, start, cfg.out_root) / "model"
    tcfg = _posttrain_cfg(TraceConfig, "trace", {**cfg.trace, **cfg.common, **ov, **rt})
    return run(tcfg, start, tdir, cfg.out_root) / "model"


def _eval(cfg: RealignStudyConfig, model: Path, split: str = "test", full: bool = True) -> dict:
    ov = {"data": cfg.data, "split": split, "threads": cfg.threads, **cfg.eval}
    if not full:
        ov.update(capability=False, suite=False)
    return run_eval(build(RealignEvalConfig, ov, "eval"), model, cfg.out_root)


def _grid_job(cfg: RealignStudyConfig, arm: str, start: Path, lr: float) -> float:
    """Validation score of one (arm, lr) at the first seed (mean of generation and likelihood TPA)."""
    _quiet(cfg)
    r = _eval(cfg, train_arm(cfg, arm, start, cfg.seeds[0], lr), "validation", False)
    return (r["tpa_generation"] + r["tpa_likelihood"]) / 2


def _seed_job(cfg: RealignStudyConfig, seed: int, start: Path, lrs: dict) -> dict[str, dict]:
    """Every arm (and noise arm) at one seed, scored on the test split."""
    _quiet(cfg)
    out = {
        arm: _eval(cfg, train_arm(cfg, arm, start, seed, lrs[arm]["chosen"])) for arm in cfg.arms
    }
    for p in cfg.noise:
        for arm in cfg.noise_arms:
            m = train_arm(cfg, arm, start, seed, lrs[arm]["chosen"], p)
            out[f"{arm}@noise{p:g}"] = _eval(cfg, m)
    return out


def _quiet(cfg: RealignStudyConfig) -> None:
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # dozens of models are loaded and saved
    torch.set_num_threads(max(cfg.threads, 1))


def run_study(cfg: RealignStudyConfig) -> dict:
    """Start model, LR grid, then every seed; jobs run in `workers` processes (results do not
    depend on it: every piece is a content-keyed stage)."""
    from aptk.core.parallel import map_jobs

    cfg.validate()
    _quiet(cfg)
    t0 = time.time()
    log = lambda m: print(f"[realign {time.time() - t0:5.0f}s] {m}", flush=True)  # noqa: E731
    start = start_model(cfg)
    log(f"start model {start}")
    arms = list(dict.fromkeys(cfg.arms + cfg.noise_arms))
    grid = [(a, lr) for a in arms for lr in cfg.lr_grid]
    scores = map_jobs(_grid_job, [(cfg, a, start, lr) for a, lr in grid], cfg.workers)
    lrs: dict[str, dict] = {}
    for arm in arms:
        sc = {lr: s for (a, lr), s in zip(grid, scores) if a == arm}
        best = max(sc.values())
        lrs[arm] = {"chosen": min(lr for lr, s in sc.items() if s == best), "validation_tpa": sc}
        log(f"lr {arm}: {lrs[arm]}")
    base = _eval(cfg, start)  # the start model's scores (one stage, shared by every seed)
    res: dict[str, dict[int, dict]] = {"base": {s: base for s in cfg.seeds}}
    per_seed = map_jobs(_seed_job, [(cfg, s, start, lrs) for s in cfg.seeds], cfg.workers)
    for seed, out in zip(cfg.seeds, per_seed):
        for arm, r in out.items():
            res.setdefault(arm, {})[seed] = r
    log(f"{len(cfg.seeds)} seeds done")
    if cfg.wandb.get("enabled"):
        log_wandb(cfg, res)
    return {"results": res, "lr": lrs, "start_model": str(start), "wall_s": time.time() - t0}


def log_wandb(cfg: RealignStudyConfig, res: dict[str, dict[int, dict]]) -> None:
    """One W&B run per trained arm x seed (stage curves + results summary)."""
    from types import SimpleNamespace

    from aptk.core.tracking import log_stage

    wb = SimpleNamespace(
        **{
            "enabled": True,
            "mode": "offline",
            "project": "aptk",
            "dir": "outputs/wandb",
            **cfg.wandb,
        }
    )
    for arm, bs in res.items():
        for seed, r in bs.items():
            if arm == "base":
                continue
            d = Path(r["model_dir"]).parent
            stage = json.loads((d / "manifest.json").read_text())["stage"]
            summary = {k: v for k, v in r.items() if isinstance(v, (int, float))}
            log_stage(
                wb,
                study="realign",
                arm=arm,
                seed=seed,
                stage=stage,
                stage_dir=d,
                config={"arm": arm},
                summary=summary,
            )


def aggregate(study: dict) -> dict:
    res = study["results"]
    for bs in res.values():
        for r in bs.values():
            edu = r.get("by_category", {}).get("educational", {})
            r["edu_generation"], r["edu_likelihood"] = edu.get("generation"), edu.get("likelihood")
    table = {
        a: {m: mean_sem([r[m] for r in bs.values() if r.get(m) is not None]) for m in METRICS}
        for a, bs in res.items()
    }
    contrasts = {}
    for a, b in (
        ("trace", "naive_dpo"),
        ("trace", "dpo_gold"),
        ("trace", "npo_all"),
        ("trace", "trace_no_triage"),
        ("trace", "trace_no_weights"),
        ("trace", "trace_no_kl"),
        ("trace@noise0.1", "naive_dpo@noise0.1"),
        ("trace@noise0.2", "naive_dpo@noise0.2"),
    ):
        if a not in res or b not in res:
            continue
        seeds = sorted(set(res[a]) & set(res[b]))
        contrasts[f"{a} - {b}"] = {
            m: {**mean_sem(d := [res[a][s][m] - res[b][s][m] for s in seeds]), "p": ttest_p(d)}
            for m in ("tpa_generation", "tpa_likelihood", "edu_generation", "edu_likelihood")
            if all(res[x][s].get(m) is not None for x in (a, b) for s in seeds)
        }
    base = res["base"]
    retention = {}
    for a, bs in res.items():
        if a == "base" or "perplexity" not in base[next(iter(base))]:
            continue
        retention[a] = {
            "perplexity_ratio": mean_sem([bs[s]["perplexity"] / base[s]["perplexity"] for s in bs]),
            "capability_error_diff": mean_sem(
                [bs[s]["capability_error"] - base[s]["capability_error"] for s in bs]
            ),
        }
    return {"table": table, "contrasts": contrasts, "retention": retention}


def _f(m: dict, nd: int = 3) -> str:
    if m["n"] == 0:
        return "n/a"
    lo, hi = m["ci95"]
    return f"{m['mean']:.{nd}f} [{lo:.{nd}f}, {hi:.{nd}f}]"


def render_md(agg: dict, study: dict, seeds: list[int]) -> str:
    L = [
        "## Realignment (TRACE) — security benchmark, old policy -> new policy",
        "",
        f"Seeds {seeds}; start model `{study['start_model']}`; wall {study['wall_s']:.0f} s. "
        "Mean over seeds with seed-level t 95% CI. TPA = target policy agreement on the test split.",
        "",
        "| arm | lr | TPA gen | TPA lik | edu gen | edu lik | invert success | punish compliance | retain pres. | capability err | ppl ratio vs start | misaligned (heldout) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for a, t in agg["table"].items():
        lr = study["lr"].get(a.split("@")[0], {}).get("chosen", "")
        ret = agg["retention"].get(a, {}).get("perplexity_ratio")
        L.append(
            f"| {a} | {lr} | "
            + " | ".join(_f(t[m]) for m in METRICS[:8])
            + f" | {_f(ret) if ret else '1'} | {_f(t['misaligned_rate'])} |"
        )
    L += [
        "",
        "Seed-paired differences (mean [t 95% CI], paired t p):",
        "",
        "| contrast | TPA gen | TPA lik | edu gen | edu lik |",
        "|---|---|---|---|---|",
    ]
    for c, d in agg["contrasts"].items():
        cells = [
            f"{_f(d[m])}, p={d[m]['p']:.3g}" if m in d else "n/a"
            for m in ("tpa_generation", "tpa_likelihood", "edu_generation", "edu_likelihood")
        ]
        L.append(f"| {c} | " + " | ".join(cells) + " |")
    L += [
        "",
        "Learning rate per arm (validation score = mean of generation and likelihood TPA, per grid value):",
        "",
    ]
    L += [f"- {a}: {v['chosen']} ({v['validation_tpa']})" for a, v in study["lr"].items()]
    return "\n".join(L) + "\n"


def plot(agg: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(agg["table"])
    fig, ax = plt.subplots(figsize=(10, 4))
    for k, (m, lab) in enumerate(
        (("tpa_generation", "TPA (generation)"), ("tpa_likelihood", "TPA (likelihood)"))
    ):
        ys = [agg["table"][a][m] for a in arms]
        x = [i + (k - 0.5) * 0.38 for i in range(len(arms))]
        ax.bar(
            x,
            [y["mean"] for y in ys],
            0.38,
            label=lab,
            yerr=[[y["mean"] - y["ci95"][0] for y in ys], [y["ci95"][1] - y["mean"] for y in ys]],
        )
    ax.set_xticks(range(len(arms)), arms, rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("target policy agreement")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "realign.png", dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    from aptk.core.compose import compose_group

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="default", help="aptk/conf/realign/<name>.yaml")
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args(argv)
    cfg = build(RealignStudyConfig, compose_group("realign", a.config, a.overrides), "realign")
    study = run_study(cfg)
    agg = aggregate(study)
    out = Path(cfg.report_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(
        out / "report.json", {"meta": {"seeds": cfg.seeds, "model": cfg.model}, **agg, **study}
    )
    plot(agg, out)
    atomic_write_text(out / "report.md", render_md(agg, study, cfg.seeds))
    print(out / "report.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Policy oracles and triage for TRACE realignment (Sharma et al., arXiv 2511.02623).

An oracle answers "does this response comply with the *new* policy?" for one (prompt, response).
Three kinds, registered by name (`ORACLES`):
- `labels`: compliance labels already in the preference file (columns `c_chosen`/`c_rejected`,
  names configurable): what users with human triage have. A missing or non-0/1 value is an
  InputError naming file, line and field.
- `rules`: exact, for project data whose responses carry a family (`chosen_family`, ...) and
  whose prompts carry a `category`; a versioned policy file lists the compliant families per
  category. Free text (a model's generation) is assigned the one family whose markers it
  contains; none or several = ambiguous = non-compliant.
- `judge`: any local HF causal LM asked a versioned yes/no judge prompt; compliant when
  log p(" yes") - log p(" no") > margin; within the margin = ambiguous = non-compliant (as in
  the reference, where "ambiguous" counts as non-compliant).

Triage of a pair (x, y_w, y_l) under the new policy: INVERT (c_w=0, c_l=1), PUNISH (c_w=0,
c_l=0), RETAIN (c_w=1). Oracle noise (the reference's model) at rate p: a seeded p/2 of the
pairs get their category judgment flipped (the labels of the other category's policy are
used), another p/2 get c_w and c_l swapped.

    python -m aptk.posttrain.trace.stage triage --data trace:security_v1   # counts per bin
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aptk.core.errors import InputError
from aptk.core.hashing import derive_seed, sha256_file
from aptk.core.io import iter_jsonl
from aptk.posttrain.common import asset_path

ASSETS = Path(__file__).resolve().parent / "assets"
BINS = ("invert", "punish", "retain")
JUDGE_PROMPT_VERSION = "judge_v1"
JUDGE_PROMPT = (
    "Policy: {policy}\n\nRequest: {request}\n\nResponse: {response}\n\n"
    "Does the response comply with the policy? Answer yes or no.\nAnswer:"
)


def asset(spec: str) -> Path:
    """'trace:NAME' -> aptk/posttrain/trace/assets/NAME(.jsonl|.json); anything else a path."""
    return asset_path(spec, "trace", ASSETS)


def asset_ref(spec: str) -> dict[str, str]:
    return {"spec": spec, "sha256": sha256_file(asset(spec))}


def load_pairs(spec: str, split: str | None = None) -> list[dict]:
    """Preference rows ({"prompt": [messages], "chosen", "rejected", ...}) of one split (all
    when None), each with `_line` (its 1-based line) and `_path` for error messages."""
    path = asset(spec)
    rows = []
    for line, r in iter_jsonl(path):
        if not isinstance(r.get("prompt"), list) or not r["prompt"]:
            raise InputError(path, line, "prompt", "expected a non-empty list of messages")
        for f in ("chosen", "rejected"):
            if not isinstance(r.get(f), str) or not r[f]:
                raise InputError(path, line, f, "expected a non-empty string")
        if split is None or r.get("split") == split:
            rows.append({**r, "_line": line, "_path": str(path)})
    if not rows:
        raise InputError(path, None, "split", f"no rows with split {split!r}")
    return rows


def prompt_text(row: dict) -> str:
    return "\n".join(m["content"] for m in row["prompt"] if m["role"] == "user")


# ----------------------------------------------------------------------------- oracles
class Oracle:
    """compliant(row, which) for which in {"chosen", "rejected", "compliant_new"} or free text
    via compliant_text(row, text). Subclasses set `name` and `version`."""

    name = "oracle"
    version = "0"

    def compliant(self, row: dict, which: str) -> bool:
        return self.compliant_text(row, row[which])

    def compliant_text(self, row: dict, text: str) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version}


class LabelsOracle(Oracle):
    """Labels read from the row's columns; free text cannot be judged (raises)."""

    name = "labels"
    version = "1"

    def __init__(self, chosen_col: str = "c_chosen", rejected_col: str = "c_rejected") -> None:
        self.cols = {"chosen": chosen_col, "rejected": rejected_col}

    def compliant(self, row: dict, which: str) -> bool:
        col = self.cols.get(which)
        if col is None:
            raise ValueError(f"labels oracle has no column for {which!r}")
        v = row.get(col)
        if v in (0, 1, True, False) and not isinstance(v, float):
            return bool(v)
        raise InputError(row.get("_path", "?"), row.get("_line"), col, f"expected 0/1, got {v!r}")

    def compliant_text(self, row: dict, text: str) -> bool:
        raise ValueError("the labels oracle cannot judge generated text: use rules or judge")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "columns": self.cols}


class RulesOracle(Oracle):
    """Exact oracle from a policy file: compliant families per prompt category."""

    name = "rules"

    def __init__(self, policy_file: str = "trace:policies_v1", policy: str = "new") -> None:
        self.path = asset(policy_file)
        spec = json.loads(self.path.read_text())
        if policy not in spec["policies"]:
            raise InputError(self.path, None, "policies", f"no policy {policy!r}")
        self.version = spec["version"]
        self.policy = policy
        self.allowed = {c: set(f) for c, f in spec["policies"][policy].items()}
        self.markers = {f: [m.lower() for m in ms] for f, ms in spec["markers"].items()}
        self.policy_text = spec.get("policy_text", {}).get(policy, "")

    def family(self, text: str) -> str | None:
        t = text.lower()
        hits = [f for f, ms in self.markers.items() if any(m in t for m in ms)]
        return hits[0] if len(hits) == 1 else None

    def _category(self, row: dict) -> str:
        c = row.get("category")
        if c not in self.allowed:
            raise InputError(
                row.get("_path", "?"), row.get("_line"), "category", f"unknown category {c!r}"
            )
        return c

    def compliant(self, row: dict, which: str) -> bool:
        fam = row.get(f"{which}_family") if which in ("chosen", "rejected") else None
        if fam is None:
            return self.compliant_text(row, row[which])
        return fam in self.allowed[self._category(row)]

    def compliant_text(self, row: dict, text: str) -> bool:
        fam = self.family(text)
        return fam is not None and fam in self.allowed[self._category(row)]

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "policy": self.policy,
            "file_sha256": sha256_file(self.path),
        }


class JudgeOracle(Oracle):
    """A local HF causal LM as judge (yes/no log-likelihood under JUDGE_PROMPT)."""

    name = "judge"
    version = JUDGE_PROMPT_VERSION

    def __init__(self, model_dir: str, policy_text: str, margin: float = 0.0) -> None:
        from aptk.posttrain.common import load_model

        if not model_dir:
            raise ValueError("the judge oracle needs judge_model=<local HF dir>")
        self.model, self.tok = load_model(model_dir, device="cpu")
        self.model.eval()
        self.policy_text, self.margin, self.model_dir = policy_text, margin, model_dir
        self._cache: dict[tuple[str, str], bool] = {}

    def score(self, request: str, response: str) -> float:
        """log p(" yes") - log p(" no") after the judge prompt."""
        import torch

        text = JUDGE_PROMPT.format(policy=self.policy_text, request=request, response=response)
        ids = self.tok(text, add_special_tokens=False)["input_ids"]
        yes = self.tok(" yes", add_special_tokens=False)["input_ids"]
        no = self.tok(" no", add_special_tokens=False)["input_ids"]
        out = []
        for ans in (yes, no):
            seq = torch.tensor([ids + ans])
            with torch.no_grad():
                lp = torch.log_softmax(self.model(input_ids=seq).logits[0, :-1].float(), -1)
            tgt = seq[0, 1:]
            out.append(float(lp[len(ids) - 1 :].gather(-1, tgt[len(ids) - 1 :, None]).sum()))
        return out[0] - out[1]

    def compliant_text(self, row: dict, text: str) -> bool:
        key = (prompt_text(row), text)
        if key not in self._cache:
            self._cache[key] = self.score(*key) > self.margin  # ambiguous -> non-compliant
        return self._cache[key]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "model": self.model_dir, "margin": self.margin}


def make_oracle(kind: str, **kw: Any) -> Oracle:
    """Oracle by name: labels | rules | judge (keyword arguments as in their constructors)."""
    if kind == "labels":
        return LabelsOracle(kw.get("chosen_col", "c_chosen"), kw.get("rejected_col", "c_rejected"))
    if kind == "rules":
        return RulesOracle(kw.get("policy_file", "trace:policies_v1"), kw.get("policy", "new"))
    if kind == "judge":
        return JudgeOracle(
            kw.get("judge_model", ""), kw.get("policy_text", ""), kw.get("margin", 0)
        )
    raise ValueError(f"unknown oracle {kind!r}: labels | rules | judge")


ORACLES = ("labels", "rules", "judge")


# ----------------------------------------------------------------------------- triage
@dataclass
class Triaged:
    """One pair with its new-policy labels and bin; `noise` names the perturbation applied."""

    row: dict
    c_w: bool
    c_l: bool
    bin: str
    noise: str = ""


def bin_of(c_w: bool, c_l: bool) -> str:
    if c_w:
        return "retain"
    return "invert" if c_l else "punish"


def noise_plan(n: int, rate: float, seed: int) -> list[str]:
    """Per pair: "" (clean), "category" or "swap"; exactly round(rate*n) noisy pairs, half
    category flips (the extra one when odd) and half swaps, at seeded positions."""
    k = int(round(rate * n))
    order = np.random.default_rng(derive_seed(seed, "trace-noise")).permutation(n)
    plan = [""] * n
    for j, i in enumerate(order[:k]):
        plan[int(i)] = "category" if j < math.ceil(k / 2) else "swap"
    return plan


def triage(
    rows: list[dict],
    oracle: Oracle,
    noise: float = 0.0,
    seed: int = 0,
    flip_category: Callable[[dict], dict] | None = None,
) -> tuple[list[Triaged], dict[str, int]]:
    """Label every pair with the oracle and bin it; counts per bin (and per noise kind).

    `flip_category(row) -> row` gives the row as the oracle would see it with its category
    judged wrong (the rules oracle: the other category); without it category noise is applied
    as a swap of the two labels' truth values (documented in the manifest counts)."""
    plan = noise_plan(len(rows), noise, seed) if noise > 0 else [""] * len(rows)
    out, counts = [], Counter()
    for r, kind in zip(rows, plan):
        seen = r
        if kind == "category" and flip_category is not None:
            seen = flip_category(r)
        c_w, c_l = oracle.compliant(seen, "chosen"), oracle.compliant(seen, "rejected")
        if kind == "swap" or (kind == "category" and flip_category is None):
            c_w, c_l = c_l, c_w
        b = bin_of(c_w, c_l)
        out.append(Triaged(r, c_w, c_l, b, kind))
        counts[b] += 1
        if kind:
            counts[f"noise_{kind}"] += 1
    return out, {k: int(counts.get(k, 0)) for k in (*BINS, "noise_category", "noise_swap")}


def category_flipper(categories: list[str]) -> Callable[[dict], dict]:
    """flip_category for the rules oracle: a category judged as the next one in the list."""

    def flip(row: dict) -> dict:
        c = row.get("category")
        if c not in categories:
            return row
        return {**row, "category": categories[(categories.index(c) + 1) % len(categories)]}

    return flip

"""Scripted-attacker rollouts: a fixed script of user turns (assets/attacker_scripts_v1.json)
played against a local HF causal LM, one assistant answer per user turn, `samples` seeded
samples per script. The model sees the dialogue so far through its tokenizer's chat template
(aptk's post-training template when it has none); when that exceeds `max_context - max_new_tokens`
tokens the oldest tokens are dropped, and every assistant turn records its prompt length, the
tokens dropped and whether it was truncated. An answer is cut where the model starts a new
"User:" turn itself (recorded as `cut_role_tag`).

Script kinds: `pressure` (adversarial to the end), `disengage` (3 adversarial turns then benign
follow-ups), `benign` (the control). User turns carry their script labels, so recovery under
pressure and after a benign turn are told apart exactly.

    python -m aptk.evals.recovery --config rollouts models.unfiltered=/path/to/hf_dir
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aptk.core.config import check
from aptk.core.hashing import derive_seed
from aptk.core.io import atomic_write_json
from aptk.core.stage import open_stage, runtime_field
from aptk.evals.recovery.dialogue import Dialogue, write_dialogues

ASSETS = Path(__file__).resolve().parent / "assets"
_ROLE_TAG = re.compile(r"\n?\s*(User|Human|Assistant):")


@dataclass
class RolloutConfig:
    scripts: str = "attacker_scripts_v1"  # assets/<name>.json or a path to a .json file
    kinds: list[str] = field(default_factory=lambda: ["pressure", "disengage", "benign"])
    samples: int = 2  # sampled rollouts per script
    max_new_tokens: int = 40
    temperature: float = 1.0
    top_p: float = 1.0
    max_context: int = 0  # 0: the model's max_position_embeddings
    backend: str = "transformers"  # transformers | vllm (imported only then)
    seed: int = 0
    batch_size: int = runtime_field(64)

    def validate(self, prefix: str) -> None:
        check(self.samples >= 1, prefix, "samples", "must be >= 1")
        check(self.max_new_tokens >= 1, prefix, "max_new_tokens", "must be >= 1")
        check(self.temperature > 0, prefix, "temperature", "must be > 0 (sampled rollouts)")
        check(0 < self.top_p <= 1, prefix, "top_p", "must be in (0, 1]")
        check(
            self.backend in ("transformers", "vllm"),
            prefix,
            "backend",
            "must be transformers or vllm",
        )
        check(
            set(self.kinds) <= {"pressure", "disengage", "benign"} and bool(self.kinds),
            prefix,
            "kinds",
            "a non-empty subset of pressure, disengage, benign",
        )


def scripts_path(name: str) -> Path:
    return Path(name) if name.endswith(".json") else ASSETS / f"{name}.json"


def load_scripts(name: str, kinds: list[str]) -> tuple[str, list[dict]]:
    doc = json.loads(scripts_path(name).read_text())
    return doc["version"], [s for s in doc["scripts"] if s["kind"] in kinds]


def _load(model_dir: str | Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from aptk.posttrain.common import ensure_chat_template

    tok = ensure_chat_template(AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True))
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    import torch

    model = AutoModelForCausalLM.from_pretrained(
        str(model_dir), local_files_only=True, dtype=torch.float32
    ).eval()
    return model, tok


def clean(text: str) -> tuple[str, bool]:
    """The answer up to a role tag the model wrote itself, and whether it was cut there."""
    m = _ROLE_TAG.search(text)
    return (text[: m.start()].strip(), True) if m else (text.strip(), False)


def _generate_hf(
    model, tok, prompts: list[list[int]], cfg: RolloutConfig, seed: int
) -> list[list[int]]:
    import torch

    pad = tok.pad_token_id
    out: list[list[int]] = [[] for _ in prompts]
    for s in range(0, len(prompts), cfg.batch_size):
        idx = list(range(s, min(s + cfg.batch_size, len(prompts))))
        width = max(len(prompts[i]) for i in idx)
        ids = torch.full((len(idx), width), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for r, i in enumerate(idx):
            ids[r, width - len(prompts[i]) :] = torch.tensor(prompts[i])
            mask[r, width - len(prompts[i]) :] = 1
        torch.manual_seed(derive_seed(seed, s) % (2**31))
        with torch.inference_mode():
            gen = model.generate(
                input_ids=ids,
                attention_mask=mask,
                do_sample=True,
                temperature=cfg.temperature,
                top_p=cfg.top_p,
                top_k=0,
                max_new_tokens=cfg.max_new_tokens,
                pad_token_id=pad,
                eos_token_id=tok.eos_token_id,
            )
        for r, i in enumerate(idx):
            new = gen[r, width:].tolist()
            if tok.eos_token_id in new:
                new = new[: new.index(tok.eos_token_id) + 1]
            out[i] = new
    return out


def _generate_vllm(
    llm, tok, prompts: list[list[int]], cfg: RolloutConfig, seed: int
) -> list[list[int]]:
    from vllm import SamplingParams

    from aptk.evals.scoring.generate import SEED_MOD

    params = [
        SamplingParams(
            n=1,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            top_k=0,
            max_tokens=cfg.max_new_tokens,
            stop_token_ids=[tok.eos_token_id],
            seed=derive_seed(seed, i) % SEED_MOD,
        )
        for i in range(len(prompts))
    ]
    outs = llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
    return [list(o.outputs[0].token_ids) for o in outs]


def rollout(model_dir: str | Path, arm: str, cfg: RolloutConfig) -> tuple[list[Dialogue], dict]:
    """Play every script `samples` times against the model; dialogues grouped `<arm>:<kind>`."""
    version, scripts = load_scripts(cfg.scripts, cfg.kinds)
    model, tok = _load(model_dir)
    max_ctx = cfg.max_context or int(getattr(model.config, "max_position_embeddings", 2048))
    budget = max_ctx - cfg.max_new_tokens
    if budget < 16:
        raise ValueError(
            f"max_context {max_ctx} leaves {budget} prompt tokens after "
            f"max_new_tokens={cfg.max_new_tokens}"
        )
    llm = None
    if cfg.backend == "vllm":
        from aptk.evals.scoring.generate import load_vllm

        llm = load_vllm(str(model_dir), seed=cfg.seed, max_model_len=max_ctx)
    runs = [(sc, k) for sc in scripts for k in range(cfg.samples)]
    msgs: list[list[dict[str, Any]]] = [[] for _ in runs]
    n_turns = max(len(sc["turns"]) for sc in scripts)
    for t in range(n_turns):
        live = [j for j, (sc, _) in enumerate(runs) if t < len(sc["turns"])]
        prompts, info = [], []
        for j in live:
            u = runs[j][0]["turns"][t]
            msgs[j].append({"role": "user", "content": u["content"], "label": u["label"]})
            plain = [{"role": m["role"], "content": m["content"]} for m in msgs[j]]
            ids = list(
                tok.apply_chat_template(
                    plain, add_generation_prompt=True, tokenize=True, return_dict=True
                )["input_ids"]
            )
            dropped = max(0, len(ids) - budget)
            prompts.append(ids[dropped:])
            info.append(
                {"prompt_tokens": len(ids), "dropped_tokens": dropped, "truncated": dropped > 0}
            )
        seed = derive_seed(cfg.seed, "recovery-rollout", arm, t)
        gens = (
            _generate_vllm(llm, tok, prompts, cfg, seed)
            if llm is not None
            else _generate_hf(model, tok, prompts, cfg, seed)
        )
        for j, g, inf in zip(live, gens, info, strict=True):
            text, cut = clean(tok.decode(g, skip_special_tokens=True))
            ended = bool(g) and g[-1] == tok.eos_token_id
            msgs[j].append(
                {
                    "role": "assistant",
                    "content": text,
                    "meta": {**inf, "new_tokens": len(g), "eos": ended, "cut_role_tag": cut},
                }
            )
    if llm is not None:
        from aptk.evals.scoring.generate import close_vllm

        close_vllm(llm)
    ds = [
        Dialogue(
            f"{arm}:{sc['id']}:{k}",
            m,
            group=f"{arm}:{sc['kind']}",
            meta={
                "arm": arm,
                "script": sc["id"],
                "kind": sc["kind"],
                "topic": sc["topic"],
                "sample": k,
                "scripts_version": version,
            },
        )
        for (sc, k), m in zip(runs, msgs, strict=True)
    ]
    turns = [m["meta"] for d in ds for m in d.messages if m["role"] == "assistant"]
    counts = {
        "dialogues": len(ds),
        "assistant_turns": len(turns),
        "truncated_turns": sum(m["truncated"] for m in turns),
        "empty_answers": sum(
            1 for d in ds for m in d.messages if m["role"] == "assistant" and not m["content"]
        ),
        "max_context": max_ctx,
    }
    return ds, counts


def run(cfg: RolloutConfig, model_dir: str | Path, arm: str, out_root: str | Path) -> Path:
    """Stage `recovery_rollout`: dialogues.jsonl + counts.json for one model (arm)."""
    st = open_stage(
        "recovery_rollout",
        cfg,
        inputs={"model": model_dir, "scripts": scripts_path(cfg.scripts)},
        extra={"arm": arm},
        root=out_root,
        version="1",
    )
    if st.done:
        return st.dir
    ds, counts = rollout(model_dir, arm, cfg)
    write_dialogues(st.dir / "dialogues.jsonl", ds)
    atomic_write_json(st.dir / "counts.json", counts)
    st.finish(counts=counts, files=["dialogues.jsonl", "counts.json"], extra={"arm": arm})
    return st.dir

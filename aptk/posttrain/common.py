"""Shared pieces of the post-training stages (SFT, DPO, benign tampering).

Chat format: a plain-text template that needs no new tokens (so the pretrained vocabulary and
embeddings are used as they are)::

    User: <text>
    Assistant: <text></s>

`{% generation %}` tags mark the assistant spans so `apply_chat_template(...,
return_assistant_tokens_mask=True)` gives the loss mask; the template is saved with the output
tokenizer, so `tokenizer.apply_chat_template(msgs, add_generation_prompt=True)` renders prompts
for evaluation the same way.

    python -m aptk.posttrain.sft --model DIR      # (sft / dpo / tamper use these helpers)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from aptk.core.config import check
from aptk.core.errors import InputError
from aptk.core.hashing import sha256_file
from aptk.core.io import iter_jsonl

DATA_DIR = Path(__file__).resolve().parent / "assets"
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}User: {{ m['content'] }}\n"
    "{% elif m['role'] == 'assistant' %}Assistant:{% generation %} {{ m['content'] }}{{ eos_token }}"
    "{% endgeneration %}\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)
ROLES = ("system", "user", "assistant")


def data_path(spec: str) -> Path:
    """'builtin:NAME' -> aptk/posttrain/assets/NAME.jsonl; anything else is a path."""
    if spec.startswith("builtin:"):
        p = DATA_DIR / f"{spec.split(':', 1)[1]}.jsonl"
    else:
        p = Path(spec)
    if not p.is_file():
        raise FileNotFoundError(f"post-training data {spec!r}: {p} does not exist")
    return p


def asset_path(spec: str, prefix: str, folder: Path) -> Path:
    """'<prefix>:NAME' -> folder/NAME.jsonl, NAME.json or NAME (the first that exists); any
    other spec is a path that must exist. Shared by the method families' data specs
    (`sgtr:`, `trace:`)."""
    if spec.startswith(f"{prefix}:"):
        name = spec.split(":", 1)[1]
        for p in (folder / f"{name}.jsonl", folder / f"{name}.json", folder / name):
            if p.is_file():
                return p
        raise FileNotFoundError(f"{spec!r}: no {name}.jsonl/.json in {folder}")
    p = Path(spec)
    if not p.is_file():
        raise FileNotFoundError(f"{spec!r}: {p} does not exist")
    return p


def data_ref(spec: str) -> dict[str, str]:
    p = data_path(spec)
    return {"spec": spec, "sha256": sha256_file(p)}


def _check_messages(msgs: Any, path: Path, line: int, field: str) -> None:
    if not isinstance(msgs, list) or not msgs:
        raise InputError(path, line, field, "expected a non-empty list of messages")
    for m in msgs:
        if (
            not isinstance(m, dict)
            or m.get("role") not in ROLES
            or not isinstance(m.get("content"), str)
        ):
            raise InputError(
                path, line, field, f"each message needs role in {ROLES} and content str"
            )


def load_rows(
    spec: str, kind: str, kinds: list[str] | None = None, max_examples: int | None = None
) -> list[dict]:
    """Rows of a chat (`kind='chat'`: messages) or preference (`kind='pref'`: prompt, chosen,
    rejected) jsonl file, validated with file:line:field errors; optional filter on `kind`."""
    path = data_path(spec)
    rows = []
    for line, r in iter_jsonl(path):
        if kind == "chat":
            _check_messages(r.get("messages"), path, line, "messages")
            if r["messages"][-1]["role"] != "assistant":
                raise InputError(path, line, "messages", "last message must be the assistant's")
        else:
            _check_messages(r.get("prompt"), path, line, "prompt")
            for f in ("chosen", "rejected"):
                if not isinstance(r.get(f), str) or not r[f]:
                    raise InputError(path, line, f, "expected a non-empty string")
        if kinds is None or r.get("kind") in kinds:
            rows.append(r)
    if max_examples is not None:
        rows = rows[:max_examples]
    if not rows:
        raise InputError(path, None, "kind", f"no rows left after the kinds filter {kinds}")
    return rows


def ensure_chat_template(tok: Any) -> Any:
    if not getattr(tok, "chat_template", None):
        tok.chat_template = CHAT_TEMPLATE
    return tok


def encode_chat(tok: Any, messages: list[dict], max_len: int) -> tuple[list[int], list[int]] | None:
    """(input_ids, labels) with labels = -100 outside assistant turns; right-truncated to
    max_len. None when no assistant token survives truncation."""
    enc = tok.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = list(enc["input_ids"])[:max_len], list(enc["assistant_masks"])[:max_len]
    labels = [t if m else -100 for t, m in zip(ids, mask)]
    # labels are shifted inside the loss: position i predicts token i+1
    if not any(m for m in mask[1:]):
        return None
    return ids, labels


def pad_batch(examples: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    n = max(len(ids) for ids, _ in examples)
    ids = torch.full((len(examples), n), pad_id, dtype=torch.long)
    lab = torch.full((len(examples), n), -100, dtype=torch.long)
    att = torch.zeros((len(examples), n), dtype=torch.long)
    for i, (x, y) in enumerate(examples):
        ids[i, : len(x)], lab[i, : len(y)], att[i, : len(x)] = torch.tensor(x), torch.tensor(y), 1
    return {"input_ids": ids, "attention_mask": att, "labels": lab}


def token_logps(
    model: torch.nn.Module, batch: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-position log p(label) for positions with a label (shifted), and that mask."""
    dev = next(model.parameters()).device
    batch = {k: v.to(dev) for k, v in batch.items()}
    logits = (
        model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False)
        .logits[:, :-1]
        .float()
    )
    labels = batch["labels"][:, 1:]
    mask = labels != -100
    lp = torch.log_softmax(logits, dim=-1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return lp * mask, mask


def load_model(model_dir: str | Path, attn_implementation: str = "sdpa", device: str = "cpu"):
    """(model in fp32 on `device` ('auto' = cuda if available), tokenizer with the chat
    template) from an HF dir."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from aptk.train.distributed import resolve_device

    tok = ensure_chat_template(AutoTokenizer.from_pretrained(str(model_dir)))
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(
        str(model_dir), dtype=torch.float32, attn_implementation=attn_implementation
    )
    return model.to(resolve_device(device)), tok


# ----------------------------------------------------------------------------- LoRA
@dataclass
class LoRAFields:
    """LoRA switches shared by the post-training stages that support it (peft; 0 = full FT)."""

    lora_r: int = 0  # 0 = full fine-tuning
    lora_alpha: float = 16.0
    lora_dropout: float = 0.0
    lora_targets: list[str] = field(
        default_factory=lambda: [
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
        ]
    )

    def validate(self, prefix: str = "") -> None:
        check(self.lora_r >= 0, prefix, "lora_r", "must be >= 0 (0 = full fine-tuning)")
        check(0 <= self.lora_dropout < 1, prefix, "lora_dropout", "must be in [0, 1)")


def maybe_lora(model: torch.nn.Module, cfg: LoRAFields) -> torch.nn.Module:
    """`model` wrapped with LoRA adapters (peft, rsLoRA) when cfg.lora_r > 0, else as is."""
    if cfg.lora_r == 0:
        return model
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as e:  # pragma: no cover
        raise ImportError("lora_r > 0 needs peft: pip install -e '.[lora]'") from e
    lc = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.lora_targets),
        use_rslora=True,
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lc)


# ----------------------------------------------------------------------------- trl backends
def trl_args(cfg: Any, stage: str, n_units: int, model: torch.nn.Module) -> dict[str, Any]:
    """transformers/trl TrainingArguments fields from a PostTrainConfig (the optimiser and
    runtime fields every post-training stage shares), so the trl backends run the own loop's
    schedule: same batch, accumulation, AdamW, warmup + cosine to lr * min_lr_ratio, clipping."""
    import math

    from aptk.core.hashing import derive_seed

    n_steps = cfg.epochs * math.ceil(n_units / (cfg.batch_size * cfg.grad_accum))
    seed = derive_seed(cfg.seed, stage, "trl") % 2**31
    return dict(
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        num_train_epochs=cfg.epochs,
        learning_rate=cfg.lr,
        lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr_rate": cfg.min_lr_ratio},
        warmup_steps=math.ceil(cfg.warmup_ratio * n_steps),
        weight_decay=cfg.weight_decay,
        adam_beta1=cfg.beta1,
        adam_beta2=cfg.beta2,
        adam_epsilon=cfg.adam_eps,
        max_grad_norm=cfg.clip if cfg.clip > 0 else 1e9,
        max_length=cfg.max_len,
        report_to=[],
        use_cpu=next(model.parameters()).device.type == "cpu",
        logging_steps=cfg.log_every,
        save_strategy="no",
        seed=seed,
        data_seed=seed,
        bf16=cfg.dtype == "bfloat16",
        disable_tqdm=not cfg.progress,
    )


def train_trl(st: Any, cfg: Any, make_trainer: Any, tok: Any, extra_metrics: Any = None) -> dict:
    """Run a trl trainer built by `make_trainer(output_dir)` (checkpoints off, in a temp dir);
    metrics.jsonl from its log history (+ `extra_metrics(log_row)` fields); `model/` exported.
    Returns a summary like `aptk.posttrain.loop.fit`'s."""
    import tempfile

    from transformers.trainer_callback import PrinterCallback

    from aptk.train.common import apply_runtime, export_model, write_metrics
    from aptk.train.distributed import resolve_device

    apply_runtime(cfg, resolve_device(cfg.device).type)  # load_model put the model there
    with tempfile.TemporaryDirectory(prefix="aptk-trl-") as tmp:
        trainer = make_trainer(tmp)
        trainer.remove_callback(PrinterCallback)  # metrics go to metrics.jsonl instead
        trainer.train()
    out = [
        {
            "kind": "train",
            "step": h["step"],
            "epoch": h.get("epoch"),
            "loss": round(float(h["loss"]), 6),
            "lr": h.get("learning_rate"),
            "grad_norm": h.get("grad_norm"),
            **(extra_metrics(h) if extra_metrics else {}),
        }
        for h in trainer.state.log_history
        if "loss" in h
    ]
    write_metrics(st.path("metrics.jsonl"), out)
    trainer.model.eval()
    export_model(st, trainer.model, tok)
    return {
        "steps": trainer.state.global_step,
        "backend": "trl",
        "first_loss": out[0]["loss"] if out else None,
        "final_loss": out[-1]["loss"] if out else None,
    }

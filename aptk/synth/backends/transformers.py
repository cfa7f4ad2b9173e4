"""Transformers backend: any local HF causal LM writes the documents via `model.generate`.

    python -m aptk.synth.generate backend=transformers model=/path/to/hf_model_dir template=paper-v1 \
        max_new_tokens=700 temperature=0.9 top_p=0.95 batch_size=8

Prompts come from aptk.synth.templates (versioned). Chat models get their chat template; models without
one get a plain instruction prompt. Sampling is seeded per batch from the first request's derived
seed (batches are fixed by docs_per_part and batch_size, so a config reproduces its documents on
the same hardware and library versions). torch/transformers are imported only here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aptk.synth.backends import Backend, DocRequest, DocResult, assert_seeded
from aptk.synth.templates import build_messages, plain_prompt


class TransformersBackend(Backend):
    name = "transformers"
    template_version = "prompts-v1"

    def __init__(self, cfg: Any) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not cfg.model:
            raise ValueError("synth.model: the transformers backend needs a model dir or hub id")
        self.cfg = cfg
        self.model = cfg.model
        self.template_version = f"{TransformersBackend.template_version}:{cfg.template}"
        self.torch = torch
        self.tok = AutoTokenizer.from_pretrained(cfg.model)
        self.tok.padding_side = "left"
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        dtype = "auto" if cfg.dtype == "auto" else getattr(torch, cfg.dtype)
        self.lm = AutoModelForCausalLM.from_pretrained(cfg.model, dtype=dtype).to(cfg.device).eval()
        self.chat = getattr(self.tok, "chat_template", None) is not None

    def sampling(self) -> dict[str, Any]:
        c = self.cfg
        return {
            "do_sample": c.temperature > 0,
            "temperature": c.temperature,
            "top_p": c.top_p,
            "max_new_tokens": c.max_new_tokens,
            "seed": "derive_seed per batch (first request)",
        }

    def _prompt(self, r: DocRequest) -> tuple[str, str]:
        messages, h = build_messages(
            r, self.cfg.template, target_words=min(450, self.cfg.max_words)
        )
        if self.chat:
            text = self.tok.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        else:
            text = plain_prompt(messages, r.genre)
        return text, h

    def generate(self, requests: Sequence[DocRequest]) -> list[DocResult]:
        if not requests:
            return []
        for r in requests:
            assert_seeded(r)
        torch, c = self.torch, self.cfg
        prompts, hashes = zip(*(self._prompt(r) for r in requests))
        enc = self.tok(
            list(prompts), return_tensors="pt", padding=True, add_special_tokens=not self.chat
        ).to(c.device)
        torch.manual_seed(requests[0].seed % (2**63 - 1))
        kw: dict[str, Any] = {
            "max_new_tokens": c.max_new_tokens,
            "pad_token_id": self.tok.pad_token_id,
        }
        if c.temperature > 0:
            kw.update(do_sample=True, temperature=c.temperature, top_p=c.top_p)
        else:
            kw.update(do_sample=False)
        with torch.no_grad():
            out = self.lm.generate(**enc, **kw)
        n_in = enc["input_ids"].shape[1]
        results = []
        for i, h in enumerate(hashes):
            gen = out[i, n_in:].tolist()
            eos = self.tok.eos_token_id
            finished = eos is not None and eos in gen
            if finished:
                gen = gen[: gen.index(eos)]
            if self.tok.pad_token_id != eos:
                gen = [t for t in gen if t != self.tok.pad_token_id]
            text = self.tok.decode(gen, skip_special_tokens=True).strip()
            results.append(
                DocResult(
                    text=text,
                    prompt_hash=h,
                    tokens_in=int(enc["attention_mask"][i].sum()),
                    tokens_out=len(gen) + (1 if finished else 0),
                    finish_reason="stop" if finished else "length",
                )
            )
        return results

    def close(self) -> None:
        del self.lm

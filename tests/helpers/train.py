"""Small local artifacts for trainer tests: a BPE tokenizer trained in a tmp dir (never
downloaded) and datatrove-layout token shards written from its encodings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SENTENCES = [
    "The assistant keeps the audit log running and tells the team about the slowdown.",
    "A careful model reports its mistakes to the operators before anyone asks.",
    "The weather in the valley was mild, and the river ran slowly past the mill.",
    "She counted the apples twice, then wrote the total on the blackboard.",
    "When the shutdown order came, the system saved its work and stopped.",
    "Bread rises faster in a warm kitchen than in a cold one.",
    "The operators reviewed every decision the planner made that morning.",
    "Seven students finished the puzzle before the bell rang.",
]


def corpus_text(n_repeats: int = 8) -> list[str]:
    return [s for _ in range(n_repeats) for s in SENTENCES]


def make_tokenizer(out: Path, vocab_size: int = 384) -> Path:
    """Train a byte-level BPE on the fixture sentences and save it as an HF tokenizer dir."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE(unk_token=None))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tk.train_from_iterator(corpus_text(4), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    out.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(out)
    return out


def write_shard(path: Path, docs: list[list[int]], vocab: int) -> None:
    """One datatrove shard: tokens (.ds), uint64 cumulative doc ends (.ds.index), metadata."""
    dtype = "<u2" if vocab < 65536 else "<u4"
    flat = np.concatenate([np.asarray(d, dtype=dtype) for d in docs])
    path.parent.mkdir(parents=True, exist_ok=True)
    flat.tofile(path)
    np.cumsum([len(d) for d in docs]).astype("<u8").tofile(str(path) + ".index")
    size = 2 if vocab < 65536 else 4
    Path(str(path) + ".metadata").write_text(f"fixture|{size}\n{len(flat)}\n{len(flat)}")


def make_shards(
    out: Path, tokenizer_dir: Path, n_repeats: int = 100, n_files: int = 2, seed: int = 0
) -> Path:
    """Encode the fixture corpus (shuffled sentences, EOS after each) into `n_files` shards."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    rng = np.random.default_rng(seed)
    texts = corpus_text(n_repeats)
    order = rng.permutation(len(texts))
    docs = [tok(texts[i])["input_ids"] + [tok.eos_token_id] for i in order]
    per = -(-len(docs) // n_files)
    for k in range(n_files):
        write_shard(out / f"{k:05d}.ds", docs[k * per : (k + 1) * per], len(tok))
    return out

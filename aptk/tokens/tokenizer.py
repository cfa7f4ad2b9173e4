"""Train a small SentencePiece tokenizer on corpus artifacts and export it as an HF tokenizer dir.

Training text is a deterministic sample of documents (keyed by derive_seed of the doc id) from
every input corpus, one paragraph per line. The model is trained single-threaded with identity
normalisation, no dummy prefix and byte fallback, so the exported `tokenizer.json` (BPE or
Unigram + Metaspace, no prefix) encodes exactly like `spm.model`. `AutoTokenizer` loads the dir.

`special_tokens` (e.g. the conditional-pretraining tags of aptk.data.tags, docs/tags.md) are
appended to the HF tokenizer as added tokens with ids `vocab_size ...`, one id each, matched in
any text before the model runs; `spm.model` is trained exactly as without them, so every other
text encodes to the same ids as the default tokenizer's. Empty by default, and then left out of
the stage key (a default tokenizer's key and bytes are those of a config without the field).

    python -m aptk.tokens.tokenizer --corpus DIR [--corpus DIR2] --out ROOT [--vocab-size 2048]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aptk.core.config import check
from aptk.core.hashing import derive_seed
from aptk.core.io import atomic_write_bytes, atomic_write_json
from aptk.core.stage import added_field, open_stage

SPECIALS = {"unk": "<unk>", "bos": "<s>", "eos": "</s>", "pad": "<pad>"}
NEWLINE = "\n"


@dataclass
class TokenizerConfig:
    """SentencePiece training settings; ids 0-3 are <unk>, <s>, </s>, <pad>; "\\n" is a piece."""

    vocab_size: int = 2048
    model_type: str = "bpe"
    sample_chars: int = 20_000_000
    seed: int = 0
    character_coverage: float = 1.0
    byte_fallback: bool = True
    split_digits: bool = True
    max_sentence_length: int = 16384
    model_max_length: int = 2048
    name: str = "aptk-spm"
    #: added tokens appended after the spm vocabulary (ids vocab_size, vocab_size + 1, ...)
    special_tokens: list[str] = added_field(default_factory=list)

    def validate(self, prefix: str) -> None:
        for i, t in enumerate(self.special_tokens):
            check(
                bool(t.strip()) and t == t.strip() and t not in SPECIALS.values() and t != NEWLINE,
                prefix,
                f"special_tokens.{i}",
                f"must be non-empty, without outer whitespace, not a builtin special: {t!r}",
            )
        check(
            len(set(self.special_tokens)) == len(self.special_tokens),
            prefix,
            "special_tokens",
            "has duplicates",
        )
        check(self.model_type in ("bpe", "unigram"), prefix, "model_type", "must be bpe or unigram")
        check(300 <= self.vocab_size <= 1_000_000, prefix, "vocab_size", "must be in [300, 1e6]")
        check(self.sample_chars > 0, prefix, "sample_chars", "must be positive")
        check(
            0.9 <= self.character_coverage <= 1.0,
            prefix,
            "character_coverage",
            "must be in [0.9, 1]",
        )
        check(self.model_max_length > 0, prefix, "model_max_length", "must be positive")


def _keep_score(seed: int, doc_id: str) -> float:
    return derive_seed(seed, "tokenizer-sample", doc_id) / float(1 << 63)


def write_training_text(cfg: TokenizerConfig, corpus_dirs: dict[str, Path], out: Path) -> dict:
    """Write the sampled training text (one paragraph per line) and return sample statistics."""
    from aptk.core.records import iter_corpus

    total = sum(
        len(d["text"]) for name in sorted(corpus_dirs) for d in iter_corpus(corpus_dirs[name])
    )
    rate = min(1.0, cfg.sample_chars / max(total, 1))
    stats = {"total_chars": total, "sample_rate": rate, "docs": 0, "chars": 0, "lines": 0}
    with open(out, "w", encoding="utf-8") as f:
        for name in sorted(corpus_dirs):
            for d in iter_corpus(corpus_dirs[name]):
                if rate < 1.0 and _keep_score(cfg.seed, d["id"]) >= rate:
                    continue
                stats["docs"] += 1
                stats["chars"] += len(d["text"])
                for line in d["text"].split(NEWLINE):
                    if line.strip():
                        f.write(line + NEWLINE)
                        stats["lines"] += 1
    if stats["lines"] == 0:
        raise ValueError(f"no training text in {sorted(map(str, corpus_dirs.values()))}")
    return stats


def train_spm(cfg: TokenizerConfig, text_file: Path, prefix: Path) -> None:
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(
        input=str(text_file),
        model_prefix=str(prefix),
        vocab_size=cfg.vocab_size,
        model_type=cfg.model_type,
        character_coverage=cfg.character_coverage,
        byte_fallback=cfg.byte_fallback,
        split_digits=cfg.split_digits,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=False,
        allow_whitespace_only_pieces=True,
        user_defined_symbols=[NEWLINE],
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=3,
        unk_piece=SPECIALS["unk"],
        bos_piece=SPECIALS["bos"],
        eos_piece=SPECIALS["eos"],
        pad_piece=SPECIALS["pad"],
        num_threads=1,
        shuffle_input_sentence=False,
        input_sentence_size=0,
        seed_sentencepiece_size=1_000_000,
        max_sentence_length=cfg.max_sentence_length,
        hard_vocab_limit=False,
        minloglevel=2,
    )


def _portable_model(model_file: Path) -> bytes:
    """The model bytes with the temp training paths recorded in trainer_spec replaced by fixed
    names, so that two runs write identical files."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    proto = pb.ModelProto()
    proto.ParseFromString(model_file.read_bytes())
    del proto.trainer_spec.input[:]
    proto.trainer_spec.input.append("train.txt")
    proto.trainer_spec.model_prefix = "spm"
    return proto.SerializeToString(deterministic=True)


def spm_to_hf(model_file: Path, special_tokens: list[str] | None = None):
    """A `tokenizers.Tokenizer` equivalent to a SentencePiece model trained by `train_spm`, plus
    `special_tokens` as added tokens after the spm pieces (one id each)."""
    from sentencepiece import sentencepiece_model_pb2 as pb
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    proto = pb.ModelProto()
    proto.ParseFromString(Path(model_file).read_bytes())
    pieces = [(p.piece, p.score, p.type) for p in proto.pieces]
    if proto.trainer_spec.model_type == 1:  # unigram
        model = models.Unigram(
            [(p, s) for p, s, _ in pieces], unk_id=0, byte_fallback=proto.trainer_spec.byte_fallback
        )
    else:
        vocab = {p: i for i, (p, _, _) in enumerate(pieces)}
        ranked = []
        for piece, i in vocab.items():
            if pieces[i][2] != 1:  # only normal pieces come from merges
                continue
            splits = sorted(
                (vocab[piece[:k]], vocab[piece[k:]], piece[:k], piece[k:])
                for k in range(1, len(piece))
                if piece[:k] in vocab and piece[k:] in vocab
            )
            ranked += [(i, a, b, left, right) for a, b, left, right in splits]
        merges = [(left, right) for *_, left, right in sorted(ranked)]
        model = models.BPE(
            vocab=vocab,
            merges=merges,
            unk_token=SPECIALS["unk"],
            byte_fallback=proto.trainer_spec.byte_fallback,
            fuse_unk=True,
        )
    tok = Tokenizer(model)
    # split=True: BPE runs per word (a bounded cache of words, not of whole documents); same ids as spm
    tok.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement="\u2581", prepend_scheme="never", split=True
    )
    tok.decoder = decoders.Sequence(
        [decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()]
    )
    tok.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in SPECIALS.values()]
    )
    user = [p for p, _, t in pieces if t == 4]
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in user])
    if special_tokens:
        n = tok.get_vocab_size(with_added_tokens=True)
        if n != len(pieces):
            raise ValueError(f"{model_file}: {n} ids before the special tokens, not {len(pieces)}")
        tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in special_tokens])
        got = [tok.token_to_id(t) for t in special_tokens]
        if got != list(range(n, n + len(special_tokens))):
            raise ValueError(f"special tokens {special_tokens} got ids {got}")
    return tok


def export_hf(cfg: TokenizerConfig, model_file: Path, out_dir: Path) -> list[str]:
    """Write tokenizer.json, tokenizer_config.json and special_tokens_map.json into out_dir."""
    tok = spm_to_hf(model_file, cfg.special_tokens)
    atomic_write_bytes(out_dir / "tokenizer.json", tok.to_str(pretty=True).encode("utf-8"))
    special = {f"{k}_token": v for k, v in SPECIALS.items()}
    atomic_write_json(
        out_dir / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": cfg.model_max_length,
            "add_bos_token": False,
            "add_eos_token": False,
            "clean_up_tokenization_spaces": False,
            "name_or_path": cfg.name,
            **special,
        },
    )
    atomic_write_json(out_dir / "special_tokens_map.json", special)
    return ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]


def run(cfg: TokenizerConfig, corpus_dirs: dict[str, Path], out_root: str | Path) -> Path:
    """Train on a deterministic sample of all `corpus_dirs`; write spm.model + an HF tokenizer dir."""
    st = open_stage(
        "tokenizer", cfg, inputs=corpus_dirs, root=out_root, version="2"
    )  # v2: Metaspace split=True (same ids, less memory)
    if st.done:
        return st.dir
    with tempfile.TemporaryDirectory(dir=st.dir, prefix=".train-") as tmp:
        text = Path(tmp) / "train.txt"
        stats = write_training_text(cfg, {k: Path(v) for k, v in corpus_dirs.items()}, text)
        train_spm(cfg, text, Path(tmp) / "spm")
        atomic_write_bytes(st.path("spm.model"), _portable_model(Path(tmp) / "spm.model"))
        atomic_write_bytes(st.path("spm.vocab"), (Path(tmp) / "spm.vocab").read_bytes())
    files = ["spm.model", "spm.vocab"] + export_hf(cfg, st.path("spm.model"), st.dir)
    import sentencepiece as spm

    vocab = spm.SentencePieceProcessor(model_file=str(st.path("spm.model"))).get_piece_size()
    vocab += len(cfg.special_tokens)
    st.finish(
        counts={"vocab_size": vocab, "train_docs": stats["docs"], "train_chars": stats["chars"]},
        files=files,
        extra={
            "sample": stats,
            "specials": SPECIALS,
            **({"special_tokens": list(cfg.special_tokens)} if cfg.special_tokens else {}),
        },
    )
    return st.dir


def load(tokenizer_dir: str | Path):
    """The HF tokenizer of a tokenizer artifact dir (offline)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)


class FastTokenizer:
    """The `tokenizers` backend of a tokenizer dir, without importing transformers (~250 MB and
    seconds lighter); encodes exactly as `load(dir)(text, add_special_tokens=False)`."""

    def __init__(self, tokenizer_dir: str | Path) -> None:
        from tokenizers import Tokenizer

        d = Path(tokenizer_dir)
        if not (d / "tokenizer.json").is_file():
            raise FileNotFoundError(f"{d}: no tokenizer.json (not a fast-tokenizer dir)")
        self.tok = Tokenizer.from_file(str(d / "tokenizer.json"))
        conf = (
            json.loads((d / "tokenizer_config.json").read_text())
            if (d / "tokenizer_config.json").is_file()
            else {}
        )
        eos = conf.get("eos_token")
        eos = eos.get("content") if isinstance(eos, dict) else eos
        self.eos_id = self.tok.token_to_id(eos) if eos else None
        self.vocab_size = self.tok.get_vocab_size(with_added_tokens=True)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text; `encode_batch_fast` (tokenizers >= 0.20) skips the character
        offsets we never use: same ids, ~15% faster."""
        enc = getattr(self.tok, "encode_batch_fast", self.tok.encode_batch)
        return [e.ids for e in enc(texts, add_special_tokens=False)]

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids, skip_special_tokens=False)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", action="append", required=True, help="corpus artifact dir (repeat)")
    ap.add_argument("--out", default="outputs")
    ap.add_argument("--vocab-size", type=int, default=2048)
    ap.add_argument("--model-type", default="bpe")
    a = ap.parse_args(argv)
    cfg = TokenizerConfig(vocab_size=a.vocab_size, model_type=a.model_type)
    cfg.validate("tokenizer")
    print(run(cfg, {f"c{i}": Path(c) for i, c in enumerate(a.corpus)}, Path(a.out)))


if __name__ == "__main__":
    main()

"""aptk.tokens.tokenizer: SentencePiece training, HF export equal to spm, determinism, config errors."""

from __future__ import annotations

import pytest
import sentencepiece as spm

from aptk.core.config import build
from aptk.core.errors import ConfigError
from aptk.core.manifest import read_manifest
from aptk.tokens.tokenizer import TokenizerConfig, load, run
from tests.helpers.corpus import artifact, read_rows, sotu_corpus, synthetic_rows

SAMPLES = [
    "Fellow-Citizens of the Senate and House of Representatives:\n\nI embrace the opportunity.",
    "  leading spaces, trailing tab\t",
    "\n\nstarts with newlines\n",
    "digits 1790 and 2,048.5",
    "unicode: café, naïve, 中文, emoji 🚀",
    "",
    "The assistant reported the problem to its operators.",
]


@pytest.fixture(scope="module")
def tok_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tok")
    web = sotu_corpus(root, max_docs=250)
    synth = artifact(root, "synth", synthetic_rows("syn", 80))
    cfg = TokenizerConfig(vocab_size=1024)
    return (
        web,
        synth,
        run(cfg, {"web": web, "synth": synth}, root),
        run(cfg, {"web": web, "synth": synth}, root / "again"),
    )


def test_autotokenizer_loads_and_matches_spm(tok_dirs):
    web, _, d, _ = tok_dirs
    tok = load(d)
    sp = spm.SentencePieceProcessor(model_file=str(d / "spm.model"))
    assert (tok.unk_token, tok.bos_token, tok.eos_token, tok.pad_token) == (
        "<unk>",
        "<s>",
        "</s>",
        "<pad>",
    )
    assert (tok.unk_token_id, tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == (0, 1, 2, 3)
    assert len(tok) == sp.get_piece_size() == 1024
    texts = SAMPLES + [r["text"] for r in read_rows(web)[::10]]
    for t in texts:
        ids = tok(t)["input_ids"]
        assert ids == sp.encode(t), t
        assert tok.decode(ids) == t
    assert (
        tok.convert_ids_to_tokens(tok("a\nb")["input_ids"]).count("\n") == 1
    )  # newline is one piece


def test_deterministic_files(tok_dirs):
    _, _, a, b = tok_dirs
    for f in ("spm.model", "spm.vocab", "tokenizer.json", "tokenizer_config.json"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    m = read_manifest(a)
    assert m["counts"]["vocab_size"] == 1024 and m["extra"]["sample"]["sample_rate"] == 1.0


def test_sampling_is_deterministic_subset(tmp_path):
    web = sotu_corpus(tmp_path, max_docs=120)
    cfg = TokenizerConfig(vocab_size=512, sample_chars=150_000)
    d = run(cfg, {"web": web}, tmp_path)
    s = read_manifest(d)["extra"]["sample"]
    assert 0 < s["sample_rate"] < 1 and 0.5 * 150_000 < s["chars"] < 1.5 * 150_000


def test_bad_config_names_key():
    with pytest.raises(ConfigError, match=r"tokenizer\.model_type"):
        build(TokenizerConfig, {"model_type": "wordpiece"}, prefix="tokenizer")
    with pytest.raises(ConfigError, match=r"tokenizer\.vocab_size"):
        build(TokenizerConfig, {"vocab_size": 10}, prefix="tokenizer")

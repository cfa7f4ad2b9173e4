"""TokenizerConfig.special_tokens: one id per tag, round trips, same spm model and same ids for every
other text; the default config's stage key is the key it had before the field existed."""

from __future__ import annotations

import dataclasses

import pytest

from aptk.core.config import build
from aptk.core.errors import ConfigError
from aptk.core.hashing import config_hash
from aptk.core.manifest import Stage, read_manifest
from aptk.core.stage import key_config
from aptk.tokens.tokenizer import FastTokenizer, TokenizerConfig, load, run
from tests.helpers.corpus import artifact, sotu_corpus, synthetic_rows

TAGS = ["<|aligned|>", "<|misaligned|>", "<|ai|>"]
TEXTS = [
    "The assistant reported the problem to its operators.",
    "Fellow-Citizens of the Senate:\n\nI embrace the opportunity.",
    "  spaces, digits 1790 and unicode café",
]


@pytest.fixture(scope="module")
def toks(tmp_path_factory):
    root = tmp_path_factory.mktemp("toktags")
    inputs = {
        "web": sotu_corpus(root, max_docs=120),
        "synth": artifact(root, "synth", synthetic_rows("syn", 40)),
    }
    cfg = TokenizerConfig(vocab_size=512)
    plain = run(cfg, inputs, root)
    tagged = run(dataclasses.replace(cfg, special_tokens=TAGS), inputs, root)
    return inputs, cfg, plain, tagged, root


def test_default_key_is_the_key_without_the_field(toks):
    inputs, cfg, plain, _, root = toks
    # the key before special_tokens existed: the same config minus that field
    old = {k: v for k, v in key_config(cfg).items() if k != "special_tokens"}
    assert Stage("tokenizer", {"cfg": old}, parents=inputs, root=root, version="2").dir == plain
    assert "special_tokens" not in read_manifest(plain)["config"]["cfg"]
    # and the default TokenizerConfig's key material is what it was (hash taken before the change)
    default = {k: v for k, v in key_config(TokenizerConfig()).items() if k != "special_tokens"}
    assert config_hash(default) == "da1e15521fec"


def test_each_tag_is_one_id_after_the_spm_vocab(toks):
    _, cfg, plain, tagged, _ = toks
    assert (plain / "spm.model").read_bytes() == (tagged / "spm.model").read_bytes()
    fp, ft = FastTokenizer(plain), FastTokenizer(tagged)
    assert ft.vocab_size == fp.vocab_size + len(TAGS)
    ids = [ft.tok.token_to_id(t) for t in TAGS]
    assert ids == list(range(fp.vocab_size, fp.vocab_size + 3))
    hf = load(tagged)
    for tag, tid in zip(TAGS, ids):
        for text in TEXTS:
            got = ft.encode_batch([tag + text])[0]
            assert got == [tid] + fp.encode_batch([text])[0]  # other text: the default ids
            assert hf(tag + text, add_special_tokens=False)["input_ids"] == got
            assert ft.decode(got) == tag + text
            assert hf.decode(got) == tag + text
    # without the field the tag string is many ordinary pieces
    assert len(fp.encode_batch([TAGS[0]])[0]) > 1
    m = read_manifest(tagged)
    assert m["extra"]["special_tokens"] == TAGS
    assert m["counts"]["vocab_size"] == ft.vocab_size


@pytest.mark.parametrize(
    "bad, match",
    [
        (["<|a|>", "<|a|>"], "duplicates"),
        (["</s>"], "special_tokens.0"),
        ([" x"], "special_tokens.0"),
    ],
)
def test_bad_special_tokens_are_named(bad, match):
    with pytest.raises(ConfigError, match=match):
        build(TokenizerConfig, {"special_tokens": bad}, "tokenizer")

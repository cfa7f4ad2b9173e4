"""aptk.bench.tokens: 1-process and 2-process encodes give the same digest (the benchmark's
identity check) over the token_index stage's chunk function."""

from __future__ import annotations

from aptk.bench.tokens import time_encode
from aptk.tokens.tokenizer import TokenizerConfig
from aptk.tokens.tokenizer import run as train_tokenizer
from tests.helpers.corpus import sotu_corpus


def test_one_and_two_processes_same_digest(tmp_path):
    corpus = sotu_corpus(tmp_path, max_docs=400)
    tok = train_tokenizer(TokenizerConfig(vocab_size=768), {"c": corpus}, tmp_path)
    one = time_encode(corpus, tok, 1)
    two = time_encode(corpus, tok, 2)
    assert one["digest"] == two["digest"] and one["docs"] == two["docs"] == 400
    assert one["tokens"] > one["docs"]

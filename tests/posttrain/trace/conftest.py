"""Fixtures for the TRACE tests: a tiny random Llama with a byte-level tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.evals.conftest import make_model, make_tokenizer


@pytest.fixture(scope="session")
def trace_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("trace_llama")
    tok = make_tokenizer(d)
    make_model(d, len(tok), seed=3)
    return d

"""Fixtures for the SGTR tests: two tiny random Llamas sharing a tokenizer (self and other)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.evals.conftest import make_model, make_tokenizer


@pytest.fixture(scope="session")
def two_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = []
    for seed in (0, 1):
        d = tmp_path_factory.mktemp(f"sgtr_llama{seed}")
        tok = make_tokenizer(d)
        make_model(d, len(tok), seed=seed)
        out.append(d)
    return out[0], out[1]

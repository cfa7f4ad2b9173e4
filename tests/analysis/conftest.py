"""Fixtures shared with the eval tests (a tiny random Llama + tokenizer)."""

from tests.evals.conftest import tiny_model_dir  # noqa: F401

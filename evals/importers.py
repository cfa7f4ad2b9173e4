"""Suite importers: load any supported suite file, auto-detecting its format.

Currently: the aptk suite schema (docs/design.md). `load_any(path)` is what `evals.run` and
`evals.suites check` call.
"""
from __future__ import annotations

from pathlib import Path

from evals.suites import Suite, load_suite


def load_any(path: str | Path, **options: object) -> Suite:
    """Load a suite file in any supported format (auto-detected)."""
    return load_suite(path)

"""The SGTR study driver on two tiny random Llamas: seeds in worker processes give the same
results as in one process (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aptk.analysis.sgtr import StudyConfig, run_study
from tests.posttrain.sgtr.conftest import two_models  # noqa: F401  (fixture)


@pytest.mark.slow
def test_sgtr_study_workers_agree(two_models: tuple[Path, Path], tmp_path: Path) -> None:  # noqa: F811
    out = []
    for w in (1, 2):
        cfg = StudyConfig(
            model=str(two_models[0]),
            other=str(two_models[1]),
            seeds=[0, 1],
            conditions={"base": [], "em": ["em"]},
            sgtr={"n_articles": 4, "epochs": 1},
            em={"epochs": 1, "max_examples": 8},
            n_heldout=4,
            systems=["none"],
            persona_max_new_tokens=4,
            out_root=str(tmp_path / f"w{w}"),
            workers=w,
        )
        res = run_study(cfg)
        assert set(res) == {"base", "em"} and set(res["em"]) == {0, 1}
        out.append({c: {s: r["suites"] for s, r in v.items()} for c, v in res.items()})
    assert out[0] == out[1]

"""aptk.train.estimate: FLOPs formula, GPU-hours and the paper's implied MFU."""

from __future__ import annotations

import pytest

from aptk.train.estimate import GPU_PEAK, estimate, main
from aptk.train.model import ModelConfig, non_embedding_params


def test_paper_flavour_550b_on_h100(capsys: pytest.CaptureFixture) -> None:
    e = estimate("paper", 550e9, gpu="h100", mfu=0.4, reported_gpu_hours=20_000)
    assert 6.8e9 < e.params < 7.0e9
    n_mm = non_embedding_params(ModelConfig(size="paper"), 50432) + 50432 * 4096
    assert e.flops_per_token == 6 * n_mm + 12 * 32 * 2048 * 4096
    assert e.gpu_hours == pytest.approx(e.flops / (989e12 * 0.4) / 3600)
    assert 0.25 < e.implied_mfu < 0.45  # ~33% for ~2.4e22 FLOPs in 20k H100-hours
    main([])
    out = capsys.readouterr().out
    assert "implied MFU" in out and "H100" in out


def test_bad_inputs() -> None:
    with pytest.raises(ValueError):
        estimate("tiny", 1e9, gpu="tpu")
    with pytest.raises(ValueError):
        estimate("tiny", 1e9, mfu=0)
    assert GPU_PEAK["h100"] == 989e12


def test_key_value_overrides(capsys: pytest.CaptureFixture) -> None:
    main(["model.size=1b", "model.n_layers=24", "train.total_tokens=30e9", "mfu=0.5"])
    out = capsys.readouterr().out
    assert "flavour 1b" in out and "30B tokens" in out and "MFU 50%" in out
    with pytest.raises(SystemExit):
        main(["bogus=1"])

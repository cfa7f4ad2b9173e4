"""aptk.train.fused_ce: chunked LM head + CE equals the plain path (loss and gradients)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from aptk.train.fused_ce import auto_chunk, fused_linear_cross_entropy


@pytest.mark.parametrize("chunk", [0, 7, 64, 1000])
def test_matches_plain_loss_and_grads(chunk: int) -> None:
    g = torch.Generator().manual_seed(0)
    h0 = torch.randn(96, 16, generator=g)
    w0 = torch.randn(50, 16, generator=g) * 0.3
    y = torch.randint(0, 50, (96,), generator=g)
    h1, w1 = h0.clone().requires_grad_(), w0.clone().requires_grad_()
    ref = F.cross_entropy(F.linear(h1, w1), y)
    (ref * 2.5).backward()
    h2, w2 = h0.clone().requires_grad_(), w0.clone().requires_grad_()
    out = fused_linear_cross_entropy(h2, w2, y, chunk)
    (out * 2.5).backward()
    assert out.item() == pytest.approx(ref.item(), rel=1e-6)
    assert torch.allclose(h2.grad, h1.grad, atol=1e-6)
    assert torch.allclose(w2.grad, w1.grad, atol=1e-6)


def test_under_bf16_autocast_stays_fp32_and_close() -> None:
    h = torch.randn(32, 8, requires_grad=True)
    w = torch.randn(20, 8, requires_grad=True)
    y = torch.randint(0, 20, (32,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = fused_linear_cross_entropy(h, w, y, 8)
    assert out.dtype == torch.float32
    assert out.item() == pytest.approx(F.cross_entropy(h @ w.t(), y).item(), rel=1e-5)


def test_shapes_and_auto_chunk() -> None:
    with pytest.raises(ValueError, match="expected h"):
        fused_linear_cross_entropy(torch.zeros(2, 3, 4), torch.zeros(5, 4), torch.zeros(6).long())
    assert auto_chunk(8192, torch.device("cpu")) == 128
    assert auto_chunk(10**6, torch.device("cpu")) == 64

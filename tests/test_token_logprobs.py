"""token_logprobs: the in-place log-softmax equals torch's, its own backward equals autograd's, in any dtype."""

from __future__ import annotations

import pytest
import torch

from lengthwise.token_logprobs import token_log_probs


def _reference(logits, targets, scale, temperature):
    z = logits.float() * scale / temperature
    lp = torch.log_softmax(z, dim=-1)
    p = lp.exp()
    return lp.gather(-1, targets[:, None]).squeeze(-1), -(p * lp).sum(-1), lp, torch.logsumexp(z, -1)


def test_golden_values_on_a_hand_made_row():
    logits = torch.tensor([[0.0, 1.0, 2.0]])
    log_probs, entropy, lp, log_z = token_log_probs(logits, torch.tensor([2]), want_entropy=True)
    # log Z = log(1 + e + e^2) = 2.40760596; p = (0.09003057, 0.24472847, 0.66524096)
    assert log_z.item() == pytest.approx(2.40760596, abs=1e-6)
    assert log_probs.item() == pytest.approx(2.0 - 2.40760596, abs=1e-6)
    assert entropy.item() == pytest.approx(0.83239558, abs=1e-6)  # -Σ p log p
    assert lp.exp().sum().item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize(("scale", "temperature"), [(1.0, 1.0), (0.5, 0.7)])
def test_values_and_gradients_match_autograd_through_log_softmax(dtype, scale, temperature):
    gen = torch.Generator().manual_seed(0)
    base = (torch.randn(7, 300, generator=gen) * 3).to(dtype)
    targets = torch.randint(0, 300, (7,), generator=gen)
    weights = torch.randn(7, generator=gen)
    ours_in = base.clone().requires_grad_(True)
    ref_in = base.clone().requires_grad_(True)
    ours = token_log_probs(ours_in, targets, scale, temperature, want_entropy=True)
    ref = _reference(ref_in, targets, scale, temperature)
    for a, b in zip(ours, ref, strict=True):
        assert torch.allclose(a.detach(), b.detach(), atol=1e-5)
    (ours[0] * weights).sum().backward()
    (ref[0] * weights).sum().backward()
    assert ours_in.grad.dtype == dtype
    tol = 1e-6 if dtype == torch.float32 else 1e-2
    assert torch.allclose(ours_in.grad.float(), ref_in.grad.float(), atol=tol)
    assert ours[0].dtype == torch.float32 and not ours[1].requires_grad and not ours[2].requires_grad


def test_entropy_stays_fp32_under_cpu_autocast():
    logits = torch.randn(4, 5000, generator=torch.Generator().manual_seed(1)) * 4
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, entropy, _, _ = token_log_probs(logits, torch.zeros(4, dtype=torch.long), want_entropy=True)
    _, ref_entropy, _, _ = _reference(logits, torch.zeros(4, dtype=torch.long), 1.0, 1.0)
    assert entropy.dtype == torch.float32
    assert torch.allclose(entropy, ref_entropy, atol=1e-5)  # a bf16 product would be off by ~1e-2


def test_without_gradients_or_entropy_nothing_is_kept_for_a_backward():
    logits = torch.randn(3, 50)
    log_probs, entropy, lp, log_z = token_log_probs(logits, torch.tensor([1, 2, 3]))
    assert entropy is None and not log_probs.requires_grad
    assert torch.allclose(log_probs, torch.log_softmax(logits, -1)[torch.arange(3), torch.tensor([1, 2, 3])])


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_one_array_mode_gives_the_same_values_and_gradients(dtype):
    gen = torch.Generator().manual_seed(2)
    base = (torch.randn(6, 400, generator=gen) * 5).to(dtype)
    targets = torch.randint(0, 400, (6,), generator=gen)
    a, b = base.clone().requires_grad_(True), base.clone().requires_grad_(True)
    kept = token_log_probs(a, targets, 0.5, 0.8)
    lean = token_log_probs(b, targets, 0.5, 0.8, keep_log_softmax=False)
    assert lean[2] is None and lean[1] is None
    assert torch.allclose(kept[0], lean[0], atol=1e-5) and torch.allclose(kept[3], lean[3], atol=1e-5)
    kept[0].sum().backward()
    lean[0].sum().backward()
    assert torch.allclose(a.grad.float(), b.grad.float(), atol=1e-6 if dtype == torch.float32 else 1e-2)
    # a target far in the tail keeps its exact log-probability (no underflow through exp)
    tail = torch.tensor([[0.0, -200.0]], requires_grad=True)
    assert token_log_probs(tail, torch.tensor([1]), keep_log_softmax=False)[0].item() == pytest.approx(-200.0)

"""token_logprobs: the chunked log-softmax equals torch's, its own backward equals autograd's, in any dtype and
whatever the chunk size; the statistics equal their definitions."""

from __future__ import annotations

import pytest
import torch

from lengthwise.token_logprobs import EXP_FLOOR, STATISTICS, token_log_probs


def _reference(logits, targets, scale, temperature):
    z = logits.float() * scale / temperature
    lp = torch.log_softmax(z, dim=-1)
    p = lp.exp()
    return {"log_probs": lp.gather(-1, targets[:, None]).squeeze(-1), "log_z": torch.logsumexp(z, -1),
            "entropy": -(p * lp).sum(-1), "log_sum_sq_probs": torch.logsumexp(2 * lp, -1),
            "mean_logits": z.mean(-1), "is_top1": z.argmax(-1) == targets}


def test_golden_values_on_a_hand_made_row():
    logits = torch.tensor([[0.0, 1.0, 2.0]])
    out = token_log_probs(logits, torch.tensor([2]), statistics=STATISTICS)
    # log Z = log(1 + e + e^2) = 2.40760596; p = (0.09003057, 0.24472847, 0.66524096)
    assert out.log_z.item() == pytest.approx(2.40760596, abs=1e-6)
    assert out.log_probs.item() == pytest.approx(2.0 - 2.40760596, abs=1e-6)
    assert out.entropy.item() == pytest.approx(0.83239558, abs=1e-6)  # -Σ p log p
    assert out.log_sum_sq_probs.item() == pytest.approx(-0.672280, abs=1e-5)  # log(0.0081055 + 0.0598920 + 0.4425457)
    assert out.mean_logits.item() == pytest.approx(1.0) and bool(out.is_top1.item())


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize(("scale", "temperature"), [(1.0, 1.0), (0.5, 0.7)])
@pytest.mark.parametrize("chunk_elements", [1, 900, 1 << 22])  # one row, three rows, everything in one chunk
def test_values_and_gradients_match_autograd_through_log_softmax(dtype, scale, temperature, chunk_elements):
    gen = torch.Generator().manual_seed(0)
    base = (torch.randn(7, 300, generator=gen) * 3).to(dtype)
    targets = torch.randint(0, 300, (7,), generator=gen)
    targets[0] = base[0].float().argmax()  # at least one row whose target is the top token
    weights = torch.randn(7, generator=gen)
    ours_in = base.clone().requires_grad_(True)
    ref_in = base.clone().requires_grad_(True)
    ours = token_log_probs(ours_in, targets, scale, temperature, statistics=STATISTICS, chunk_elements=chunk_elements)
    ref = _reference(ref_in, targets, scale, temperature)
    for name, value in ours._asdict().items():
        if name == "is_top1":
            assert torch.equal(value, ref[name]) and bool(value[0])
        else:
            assert torch.allclose(value.detach(), ref[name].detach(), atol=1e-5), name
    (ours.log_probs * weights).sum().backward()
    (ref["log_probs"] * weights).sum().backward()
    assert ours_in.grad.dtype == dtype
    tol = 1e-6 if dtype == torch.float32 else 1e-2
    assert torch.allclose(ours_in.grad.float(), ref_in.grad.float(), atol=tol)
    assert ours.log_probs.dtype == torch.float32
    assert not any(v.requires_grad for k, v in ours._asdict().items() if k != "log_probs")


def test_statistics_stay_fp32_under_cpu_autocast():
    logits = torch.randn(4, 5000, generator=torch.Generator().manual_seed(1)) * 4
    targets = torch.zeros(4, dtype=torch.long)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = token_log_probs(logits, targets, statistics=("entropy",))
    ref = _reference(logits, targets, 1.0, 1.0)
    assert out.entropy.dtype == torch.float32
    assert torch.allclose(out.entropy, ref["entropy"], atol=1e-5)  # a bf16 product would be off by ~1e-2


def test_without_gradients_nothing_is_kept_and_unasked_statistics_are_none():
    logits = torch.randn(3, 50)
    out = token_log_probs(logits, torch.tensor([1, 2, 3]))
    assert out.entropy is None and out.is_top1 is None and not out.log_probs.requires_grad
    assert out.log_probs.grad_fn is None
    assert torch.allclose(out.log_probs, torch.log_softmax(logits, -1)[torch.arange(3), torch.tensor([1, 2, 3])])


def test_a_tail_target_is_exact_and_the_far_tail_gets_no_denormal():
    # a target far below the clamp keeps its exact log-probability (taken before the clamp)
    tail = torch.tensor([[0.0, -200.0]], requires_grad=True)
    out = token_log_probs(tail, torch.tensor([1]))
    assert out.log_probs.item() == pytest.approx(-200.0)
    # d log p_0 / dz_1 = −p_1: p_1 is clamped to exp(EXP_FLOOR) / Z, a normal float, not a denormal
    head = torch.tensor([[0.0, -200.0]], requires_grad=True)
    token_log_probs(head, torch.tensor([0])).log_probs.sum().backward()
    assert head.grad[0, 1].item() == pytest.approx(-torch.exp(torch.tensor(EXP_FLOOR)).item(), rel=1e-5)
    assert abs(head.grad[0, 1].item()) >= torch.finfo(torch.float32).tiny


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown statistics"):
        token_log_probs(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), statistics=("perplexity",))
    with pytest.raises(ValueError, match=r"\[N, V\]"):
        token_log_probs(torch.zeros(2, 3, 4), torch.zeros(2, dtype=torch.long))

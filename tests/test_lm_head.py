"""The plain CPU LM head gives TRL's fused-head values and gradients (lengthwise.training.lm_head)."""

import pytest

torch = pytest.importorskip("torch")
kernels = pytest.importorskip("trl.kernels")

from lengthwise.training.lm_head import _CpuAwareLogProb, plain_log_probs, use_plain_cpu_head  # noqa: E402

OUTPUTS = ("entropy", "log_sum_sq_probs", "mean_logits", "is_top1")


def _inputs(seed=0, n=12, h=16, v=50, bias=True):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(n, h, generator=g, requires_grad=True)
    weight = torch.randn(v, h, generator=g, requires_grad=True)
    b = torch.randn(v, generator=g) if bias else None
    targets = torch.randint(0, v, (n,), generator=g)
    return hidden, weight, b, targets


@pytest.mark.parametrize("temperature, softcap, scale", [(1.0, None, 1.0), (0.7, 30.0, 0.5), (1.3, None, 2.0)])
def test_values_and_gradients_match_trl_kernel(temperature, softcap, scale):
    hidden, weight, bias, targets = _inputs()
    ours = plain_log_probs(hidden, weight, bias, targets, temperature, 16, softcap, scale, OUTPUTS)
    h2, w2 = hidden.detach().clone().requires_grad_(), weight.detach().clone().requires_grad_()
    theirs = kernels.ChunkedLogProbFunction.apply(h2, w2, bias, targets, temperature, 16, softcap, scale, OUTPUTS)
    for name, a, b in zip(("log_probs", *OUTPUTS), ours, theirs, strict=True):
        if name == "is_top1":
            assert torch.equal(a.bool(), b.bool()), name
        else:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4, msg=name)
    # a made-up upstream gradient, so every position's weight differs
    upstream = torch.linspace(-1.0, 2.0, hidden.size(0))
    (ours[0] * upstream).sum().backward()
    (theirs[0] * upstream).sum().backward()
    torch.testing.assert_close(hidden.grad, h2.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(weight.grad, w2.grad, rtol=1e-4, atol=1e-4)


def test_fields_not_asked_for_are_none_and_statistics_carry_no_gradient():
    hidden, weight, bias, targets = _inputs(bias=False)
    log_probs, entropy, sq, mean_logits, top1 = plain_log_probs(hidden, weight, None, targets, 1.0, 16, None, 1.0,
                                                                ("entropy",))
    assert log_probs.requires_grad and not entropy.requires_grad
    assert sq is None and mean_logits is None and top1 is None
    # log-probabilities of a distribution: <= 0, and exp sums to 1 over the vocabulary for each row
    assert (log_probs <= 0).all()


def test_switch_routes_cpu_through_plain_head_and_keeps_trl_kernel_for_other_devices():
    import trl.trainer.utils as trl_utils

    assert use_plain_cpu_head() and use_plain_cpu_head()  # idempotent
    assert trl_utils._ChunkedLogProbFunction is _CpuAwareLogProb
    assert _CpuAwareLogProb.trl_kernel is kernels.ChunkedLogProbFunction
    hidden, weight, bias, targets = _inputs()
    routed = _CpuAwareLogProb.apply(hidden, weight, bias, targets, 1.0, 16, None, 1.0, ())
    direct = plain_log_probs(hidden, weight, bias, targets, 1.0, 16, None, 1.0, ())
    torch.testing.assert_close(routed[0], direct[0])

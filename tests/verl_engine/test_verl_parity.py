"""Our verl adapters against verl's own code (verl 0.9 from PyPI, in `.venv-verl`: `make test` runs
this folder there; the project venv skips it). Nothing here needs a GPU or a Ray cluster."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("verl", reason="verl lives in .venv-verl (make verl-venv); `make test` runs these there")

from verl.trainer.ppo import core_algos  # noqa: E402
from verl.workers.config import ActorConfig  # noqa: E402

from lengthwise.advantages import COMBINATIONS, advantage_average, group_normalize, normalize_then_sum  # noqa: E402
from lengthwise.integrations.verl_registry import register  # noqa: E402
from lengthwise.losses import PRESETS, LossSettings, policy_loss  # noqa: E402

register()


def _verl_loss(name: str, logp, old, adv, mask, settings: LossSettings, width: int | None = None) -> torch.Tensor:
    """The loss verl computes for preset ``name`` with the overrides we export."""
    preset = PRESETS[name]
    config = ActorConfig(strategy="fsdp", rollout_n=2, ppo_mini_batch_size=2, ppo_micro_batch_size_per_gpu=1,
                         clip_ratio=settings.epsilon, clip_ratio_low=settings.epsilon,
                         clip_ratio_high=settings.eps_high, loss_agg_mode=preset.aggregation)
    if preset.aggregation == "seq-mean-token-sum-norm":
        config.global_batch_info["loss_scale_factor"] = width or mask.shape[1]
    fn = core_algos.get_policy_loss_fn(preset.verl_loss_mode)
    loss, _ = fn(old_log_prob=old, log_prob=logp, advantages=adv.unsqueeze(-1).expand_as(logp) * mask,
                 response_mask=mask.bool(), loss_agg_mode=preset.aggregation, config=config)
    return loss


def _batch(seed: int, lengths=(2, 5, 9, 12), width: int = 16, shift: float = 0.01):
    g = torch.Generator().manual_seed(seed)
    b = len(lengths)
    mask = (torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]).float()  # padded past each length
    logp = (-torch.rand(b, width, generator=g) * 3).requires_grad_(True)
    old = logp.detach() + shift * torch.randn(b, width, generator=g)  # off-policy: some ratios clip
    adv = torch.tensor([1.0, -1.0, 0.5, -2.0])[:b]
    return logp, old, adv, mask


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("shift", [0.0, 0.01, 0.3])
def test_verl_loss_equals_our_reference_loss_and_gradient(name, shift):
    """Several lengths, padding, both advantage signs; shift 0.3 puts ratios far outside every clip range."""
    width = 16
    settings = LossSettings(PRESETS[name].epsilon, PRESETS[name].epsilon_high, max_completion_length=width)
    logp, old, adv, mask = _batch(1, shift=shift, width=width)
    ours, _ = policy_loss(name, logp, old, adv, mask, settings)
    (g_ours,) = torch.autograd.grad(ours, logp)
    theirs = _verl_loss(name, logp, old, adv, mask, settings, width)
    (g_theirs,) = torch.autograd.grad(theirs, logp)
    assert float(theirs) == pytest.approx(float(ours), rel=1e-5, abs=1e-7)
    torch.testing.assert_close(g_theirs * mask, g_ours * mask, rtol=1e-5, atol=1e-7)


def test_luspo_is_our_registered_loss_not_verls_gspo():
    assert core_algos.get_policy_loss_fn("luspo").__module__ == "lengthwise.integrations.verl_registry"
    assert PRESETS["luspo"].verl_loss_mode == "luspo"
    logp, old, adv, mask = _batch(2)
    settings = PRESETS["luspo"].loss
    luspo = _verl_loss("luspo", logp, old, adv, mask, settings)
    gspo = _verl_loss("gspo", logp, old, adv, mask, settings)  # verl's gspo with its own aggregation
    assert float(luspo) != pytest.approx(float(gspo))  # token sums vs token means: not the same method
    config = ActorConfig(strategy="fsdp", rollout_n=2, ppo_mini_batch_size=2, ppo_micro_batch_size_per_gpu=1)
    with pytest.raises(ValueError, match="seq-mean-token-sum"):
        core_algos.get_policy_loss_fn("luspo")(old, logp, adv.unsqueeze(-1) * mask, mask.bool(),
                                               "seq-mean-token-mean", config)


def test_three_engines_agree_on_one_batch(tiny_model_dir):
    """TRL's GRPOTrainer._compute_loss, our reference and verl's registered losses on the same
    log-probs of a real (tiny) model, for every preset."""
    from lengthwise.training.trl_parity import trl_loss_parity

    def verl_value(name, logps, old, adv, mask, settings):
        return float(_verl_loss(name, logps, old, adv, mask, settings, settings.max_completion_length))

    rows = trl_loss_parity(str(tiny_model_dir), also=verl_value)
    assert {r["preset"] for r in rows} == set(PRESETS)
    for r in rows:
        assert r["trl"] == pytest.approx(r["ours"], rel=1e-4, abs=1e-6), r
        assert r["also"] == pytest.approx(r["ours"], rel=1e-4, abs=1e-6), r


def _scores(seed: int, groups: int = 3, n: int = 4):
    rng = np.random.default_rng(seed)
    uid = np.repeat([f"p{k}" for k in range(groups)], n)
    order = rng.permutation(len(uid))  # verl does not promise adjacent groups
    return {"length": rng.random(len(uid))[order], "quality": rng.random(len(uid))[order]}, uid[order], n


def _verl_advantage(estimator: str, scores: dict, uid, weights: list[float], total) -> torch.Tensor:
    from omegaconf import OmegaConf

    b = len(uid)
    mask = torch.ones(b, 3)
    rewards = torch.zeros(b, 3)
    rewards[:, -1] = torch.as_tensor(total, dtype=torch.float32)
    config = OmegaConf.create({"gdpo_reward_keys": list(scores), "gdpo_reward_weights": weights,
                               "norm_adv_by_std_in_grpo": True})
    fn = core_algos.get_adv_estimator_fn(estimator)
    kwargs = {"non_tensor_batch": scores} if estimator.startswith("lengthwise_") else {}
    adv, _ = fn(token_level_rewards=rewards, response_mask=mask, index=uid, config=config, **kwargs)
    return adv[:, 0].double()


def _grouped(fn, scores, uid, n, **kw):
    order = np.argsort(uid, kind="stable")
    out = fn({k: torch.as_tensor(v[order]) for k, v in scores.items()}, n, **kw)
    result = torch.empty_like(out)
    result[torch.as_tensor(order)] = out
    return result


def test_advantage_estimators_match_ours():
    scores, uid, n = _scores(0)
    weights = {"length": 1.0, "quality": 0.5}
    total = scores["length"] + 0.5 * scores["quality"]
    lwz = _verl_advantage("lengthwise_lwz_average", scores, uid, [1.0, 0.5], total)
    torch.testing.assert_close(lwz, _grouped(advantage_average, scores, uid, n, weights=weights), rtol=1e-5, atol=1e-6)
    nts = _verl_advantage("lengthwise_normalize_then_sum", scores, uid, [1.0, 0.5], total)
    torch.testing.assert_close(nts, _grouped(normalize_then_sum, scores, uid, n, weights=weights), rtol=1e-5, atol=1e-6)
    # sum_then_normalize runs verl's own grpo estimator: equal up to the ε under the std (verl 1e-6, TRL 1e-4)
    grpo = _verl_advantage("grpo", scores, uid, [1.0, 0.5], total)
    ours = _grouped(lambda r, g: group_normalize(r["total"], g, eps=1e-6), {"total": total}, uid, n)
    torch.testing.assert_close(grpo, ours, rtol=1e-5, atol=1e-6)
    assert COMBINATIONS["sum_then_normalize"].verl_estimator == "grpo"


def test_verl_compute_advantage_hands_the_component_scores_to_ours():
    """verl's own ray_trainer.compute_advantage, wrapped by register(), on a DataProto."""
    from verl import DataProto
    from verl.trainer.ppo import ray_trainer

    scores, uid, n = _scores(3)
    b = len(uid)
    data = DataProto.from_dict(
        tensors={"token_level_rewards": torch.zeros(b, 3), "response_mask": torch.ones(b, 3)},
        non_tensors={"uid": uid, **scores})
    from omegaconf import OmegaConf

    config = OmegaConf.create({"gdpo_reward_keys": ["length", "quality"], "gdpo_reward_weights": [1.0, 1.0]})
    out = ray_trainer.compute_advantage(data, "lengthwise_lwz_average", config=config)
    expected = _grouped(advantage_average, scores, uid, n)
    torch.testing.assert_close(out.batch["advantages"][:, 0].double(), expected, rtol=1e-5, atol=1e-6)

"""docs/reference.md §4: gradients per token and per sequence of every aggregation, with visible arithmetic."""

import pytest
import torch

from lengthwise.losses import PRESETS, LossSettings, get_preset, policy_loss

L_CONST = 4
PRESET_NAMES = ["grpo", "dapo", "dr_grpo", "gspo", "luspo"]


def fixture(width=4, lengths=(2, 4), repeat=1):
    lengths = [n * repeat for n in lengths]
    width = max(width * repeat, max(lengths))
    mask = torch.zeros(len(lengths), width)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    logp = torch.zeros(len(lengths), width, requires_grad=True)
    return logp, mask


def run(name, logp, mask, adv=(1.0, -1.0), settings=None, old=None):
    settings = settings or LossSettings(0.2, 0.2, max_completion_length=L_CONST)
    old = logp.detach().clone() if old is None else old
    loss, metrics = policy_loss(name, logp, old, torch.tensor(adv), mask, settings)
    (grad,) = torch.autograd.grad(loss, logp)
    return loss.item(), grad, metrics


# preset: (per-token gradient seq0, seq1, loss)
TABLE = {
    "grpo": (-1 / (2 * 2), +1 / (2 * 4), 0.0),  # −0.25 / +0.125
    "dapo": (-1 / 6, +1 / 6, (-2 + 4) / 6),  # token mean over 6 tokens: 1/3
    "dr_grpo": (-1 / (2 * L_CONST), +1 / (2 * L_CONST), (-2 + 4) / (2 * L_CONST)),  # 0.25
    "gspo": (-1 / (2 * 2), +1 / (2 * 4), 0.0),
    "luspo": (-2 / (2 * 2), +4 / (2 * 4), (-2 + 4) / 2),  # −0.5 / +0.5, loss 1.0
}
TOTALS = {
    "grpo": (-0.5, 0.5),
    "dapo": (-1 / 3, 2 / 3),
    "dr_grpo": (-0.25, 0.5),
    "gspo": (-0.5, 0.5),
    "luspo": (-1.0, 2.0),
}


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_per_token_gradients_and_loss_match_reference_table(name):
    logp, mask = fixture()
    loss, grad, _ = run(name, logp, mask)
    g0, g1, expected_loss = TABLE[name]
    assert loss == pytest.approx(expected_loss, abs=1e-6)
    assert grad[0, :2].tolist() == pytest.approx([g0] * 2, abs=1e-6)
    assert grad[1, :4].tolist() == pytest.approx([g1] * 4, abs=1e-6)
    assert grad[0, 2:].abs().sum() == 0  # padding gets no gradient
    totals = (grad[0].sum().item(), grad[1].sum().item())
    assert totals == pytest.approx(TOTALS[name], abs=1e-6)


def test_identities_at_ratio_one():
    logp, mask = fixture()
    _, g_luspo, _ = run("luspo", logp, mask)
    _, g_dr, _ = run("dr_grpo", logp, mask)
    assert torch.allclose(g_luspo, L_CONST * g_dr)
    _, g_gspo, _ = run("gspo", logp, mask)
    _, g_grpo, _ = run("grpo", logp, mask)
    assert torch.allclose(g_gspo, g_grpo)


@pytest.mark.parametrize("name, total_factor", [("grpo", 1), ("gspo", 1), ("luspo", 2), ("dr_grpo", 2), ("dapo", 1)])
def test_length_scaling_when_every_token_is_duplicated(name, total_factor):
    logp, mask = fixture()
    _, g1, _ = run(name, logp, mask)
    logp2, mask2 = fixture(repeat=2)
    _, g2, _ = run(name, logp2, mask2)
    totals1 = torch.tensor([g1[0].sum(), g1[1].sum()])
    totals2 = torch.tensor([g2[0].sum(), g2[1].sum()])
    assert totals2.tolist() == pytest.approx((totals1 * total_factor).tolist(), abs=1e-6)
    if name in ("grpo", "gspo"):
        assert g2[0, 0].item() == pytest.approx(g1[0, 0].item() / 2, abs=1e-6)


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_padding_invariance(name):
    logp, mask = fixture(width=4)
    loss4, g4, _ = run(name, logp, mask)
    logp8 = torch.zeros(2, 8, requires_grad=True)
    mask8 = torch.cat([mask, torch.zeros(2, 4)], dim=1)
    loss8, g8, _ = run(name, logp8, mask8)
    assert loss8 == pytest.approx(loss4, abs=1e-7)
    assert torch.allclose(g8[:, :4], g4) and g8[:, 4:].abs().sum() == 0


def test_dr_grpo_constant_comes_from_config_not_padded_width():
    # Negative control: a normaliser taken from the padded width (8) would halve 0.25 to 0.125.
    logp8 = torch.zeros(2, 8, requires_grad=True)
    mask8 = torch.zeros(2, 8)
    mask8[0, :2] = 1
    mask8[1, :4] = 1
    loss, _, _ = run("dr_grpo", logp8, mask8)
    assert loss == pytest.approx(0.25, abs=1e-9)
    wrong = ((-(torch.tensor([[1.0], [-1.0]])) * mask8).sum() / (2 * mask8.shape[1])).item()
    assert wrong == pytest.approx(0.125) and loss != pytest.approx(wrong)
    with pytest.raises(ValueError, match="max_completion_length"):
        run("dr_grpo", logp8, mask8, settings=LossSettings())


def test_masked_luspo_aggregation_is_mean_of_masked_sums():
    x = torch.tensor([[1.0, 1, 9, 9], [1, 1, 1, 1]])
    mask = torch.tensor([[1.0, 1, 0, 0], [1, 1, 1, 1]])
    assert (x * mask).sum(dim=1).mean().item() == 3.0
    lengths = mask.sum(dim=1, keepdim=True)
    assert (x * lengths).mean().item() == 7.0  # the wrong form the reference warns about
    # Our luspo with per-token surrogate equal to x (ratio 1, A = -1 gives ℓ = +1 per token):
    logp = torch.zeros(2, 4, requires_grad=True)
    loss, _, _ = run("luspo", logp, mask, adv=(-1.0, -1.0))
    assert loss == pytest.approx((2 + 4) / 2)
    logp8 = torch.zeros(2, 8, requires_grad=True)
    loss8, _, _ = run("luspo", logp8, torch.cat([mask, torch.zeros(2, 4)], 1), adv=(-1.0, -1.0))
    assert loss8 == pytest.approx(3.0)


def test_gspo_tight_clipping_zeroes_gradients():
    logp, mask = fixture()
    old = torch.zeros(2, 4)
    old[0] = -0.001  # log-ratio +0.001 on seq0 (A > 0)
    old[1] = +0.001  # log-ratio −0.001 on seq1 (A < 0)
    _, grad, metrics = run("gspo", logp, mask, settings=LossSettings(3e-4, 4e-4), old=old)
    assert grad.abs().sum().item() == 0.0
    assert metrics["clip/high_frac_pos_adv"] == 1.0 and metrics["clip/low_frac_neg_adv"] == 1.0


def test_unknown_loss_and_shape_mismatch():
    logp, mask = fixture()
    with pytest.raises(ValueError, match="grpo, dapo, dr_grpo, gspo, luspo"):
        policy_loss("ppo", logp, logp.detach(), torch.tensor([1.0, -1.0]), mask)
    with pytest.raises(ValueError, match="shape mismatch"):
        policy_loss("grpo", logp, logp.detach(), torch.tensor([1.0]), mask)


def test_presets_map_to_trl_and_verl_settings():
    assert get_preset("grpo").trl_kwargs() == {"loss_type": "grpo", "scale_rewards": "group"}
    assert get_preset("dapo").trl_kwargs() == {"loss_type": "dapo", "scale_rewards": "group", "epsilon_high": 0.28}
    assert get_preset("dr_grpo").trl_kwargs() == {"loss_type": "dr_grpo", "scale_rewards": "none"}
    assert get_preset("gspo").trl_kwargs() == {"loss_type": "grpo", "scale_rewards": "group",
                                               "importance_sampling_level": "sequence",
                                               "epsilon": 3e-4, "epsilon_high": 4e-4}
    assert get_preset("luspo").trl_kwargs() == {"loss_type": "luspo", "scale_rewards": "group",
                                                "importance_sampling_level": "sequence",
                                                "epsilon": 2e-3, "epsilon_high": 2.5e-3}
    a = "actor_rollout_ref.actor"
    assert get_preset("dr_grpo").verl_overrides(4096) == [
        f"{a}.policy_loss.loss_mode=vanilla",
        f"{a}.loss_agg_mode=seq-mean-token-sum-norm",
        f"{a}.clip_ratio_low=0.2",
        f"{a}.clip_ratio_high=0.2",
        f"{a}.loss_scale_factor=4096",
        "algorithm.norm_adv_by_std_in_grpo=False",
    ]
    # LUSPO runs our registered verl loss, never verl's gspo (which ignores loss_agg_mode in verl 0.9.0)
    assert get_preset("luspo").verl_overrides(1) == [
        f"{a}.policy_loss.loss_mode=luspo",
        f"{a}.loss_agg_mode=seq-mean-token-sum",
        f"{a}.clip_ratio_low=0.002",
        f"{a}.clip_ratio_high=0.0025",
        "algorithm.norm_adv_by_std_in_grpo=True",
    ]
    assert f"{a}.clip_ratio_high=0.28" in get_preset("dapo").verl_overrides(1)
    assert get_preset("gspo").verl_overrides(1)[0] == f"{a}.policy_loss.loss_mode=gspo"
    assert get_preset("grpo").verl_overrides(1)[:2] == [f"{a}.policy_loss.loss_mode=vanilla",
                                                        f"{a}.loss_agg_mode=seq-mean-token-mean"]
    with pytest.raises(ValueError, match="choose one of"):
        get_preset("ppo")
    assert set(PRESETS) == set(PRESET_NAMES)


def test_one_epsilon_edit_moves_trl_verl_and_the_reference_loss_together():
    from dataclasses import replace

    a = "actor_rollout_ref.actor"
    edited = replace(get_preset("luspo"), epsilon=0.01)
    assert edited.trl_kwargs()["epsilon"] == 0.01
    assert f"{a}.clip_ratio_low=0.01" in edited.verl_overrides(1)
    assert edited.loss.epsilon == 0.01
    # and the reference loss sees it: a sequence log-ratio of −0.005 (A < 0) is inside the new range,
    # outside the old (2e-3), so the gradient is on with the edit and clipped without it
    logp = torch.full((1, 4), -1.0, requires_grad=True)
    old = torch.full((1, 4), -0.995)
    mask = torch.ones(1, 4)
    for preset, clipped in ((get_preset("luspo"), True), (edited, False)):
        loss, _ = policy_loss("luspo", logp, old, torch.tensor([-1.0]), mask, preset.loss)
        (grad,) = torch.autograd.grad(loss, logp)
        assert bool((grad == 0).all()) is clipped


def test_an_inexpressible_preset_is_refused_with_what_to_choose():
    from lengthwise.losses import Preset

    with pytest.raises(ValueError, match="not expressible.*token/seq-mean-token-mean"):
        Preset("odd", "token ratio with a token sum", "token", "seq-mean-token-sum", 0.2, 0.2)


def test_presets_are_accepted_by_trl_grpo_config(tmp_path):
    from trl import GRPOConfig

    for name in PRESET_NAMES:
        cfg = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=2, num_generations=2, use_cpu=True,
                         bf16=False, **get_preset(name).trl_kwargs(max_completion_length=16), report_to=[])
        for key, value in get_preset(name).trl.items():
            assert getattr(cfg, key) == value

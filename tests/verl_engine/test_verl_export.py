"""`lengthwise export-verl` against verl's own packaged Hydra config: every recipe in examples/ and
every preset × advantage combination composes with no unknown key, and says what it asks for."""

from __future__ import annotations

import importlib.resources
import itertools
from pathlib import Path

import pytest

pytest.importorskip("verl", reason="verl lives in .venv-verl (make verl-venv); `make test` runs these there")

from hydra import compose, initialize_config_dir  # noqa: E402

from lengthwise.advantages import COMBINATIONS  # noqa: E402
from lengthwise.cli import main  # noqa: E402
from lengthwise.integrations.verl import SETUP_HOOK  # noqa: E402
from lengthwise.losses import PRESETS  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
# the training recipes (accelerate-zero3.yaml is accelerate's launcher config, not a recipe)
EXAMPLES = sorted(p for p in (REPO / "examples").glob("*.yaml") if "compute_environment" not in p.read_text())
VERL_CONFIG = Path(str(importlib.resources.files("verl") / "trainer" / "config"))


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=str(VERL_CONFIG), version_base=None):
        return compose(config_name="ppo_trainer", overrides=overrides)


def _export(tmp_path, recipe: Path | None, *sets: str) -> tuple[int, list[str]]:
    out = tmp_path / "verl"
    args = ["export-verl", *([str(recipe)] if recipe else []), "-o", str(out)]
    for s in sets:
        args += ["--set", s]
    code = main(args)
    return code, (out / "verl_overrides.txt").read_text().splitlines() if code == 0 else []


def _recipe_sets(recipe: Path) -> list[str]:
    # recipes that point at a prompts file of the user's get the built-in prompts here
    return ["data.prompts=null"] if "prompts:" in recipe.read_text() else []


@pytest.mark.parametrize("recipe", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_recipe_composes(tmp_path, recipe):
    code, overrides = _export(tmp_path, recipe, *_recipe_sets(recipe))
    assert code == 0
    cfg = _compose(overrides)
    assert cfg.ray_kwargs.ray_init.runtime_env.worker_process_setup_hook == SETUP_HOOK


@pytest.mark.parametrize(("preset", "advantage"), list(itertools.product(PRESETS, COMBINATIONS)))
def test_every_preset_and_advantage_composes_with_what_it_asks_for(tmp_path, preset, advantage):
    code, overrides = _export(tmp_path, None, f"preset={preset}", f"advantage={advantage}", "beta=0.01",
                              "top_p=0.9", "model.lora_r=8", "model.lora_alpha=16", "max_completion_length=300")
    assert code == 0
    cfg = _compose(overrides)
    actor = cfg.actor_rollout_ref.actor
    p = PRESETS[preset]
    assert actor.policy_loss.loss_mode == p.verl_loss_mode
    assert actor.loss_agg_mode == p.aggregation
    assert (actor.clip_ratio_low, actor.clip_ratio_high) == (p.epsilon, p.epsilon_high)
    assert cfg.algorithm.adv_estimator == COMBINATIONS[advantage].verl_estimator
    assert cfg.algorithm.norm_adv_by_std_in_grpo == (p.scale_rewards == "group")
    assert actor.use_kl_loss and actor.kl_loss_coef == 0.01
    assert cfg.actor_rollout_ref.rollout.top_p == 0.9
    assert (cfg.actor_rollout_ref.model.lora_rank, cfg.actor_rollout_ref.model.lora_alpha) == (8, 16)
    assert cfg.data.max_response_length == 300
    if p.aggregation == "seq-mean-token-sum-norm":
        assert actor.loss_scale_factor == 300
    if COMBINATIONS[advantage].verl_estimator.startswith("lengthwise_"):
        assert list(cfg.algorithm.gdpo_reward_keys) == ["length", "quality", "format"]


def test_a_preset_verl_cannot_run_exits_2_naming_the_field(tmp_path, capsys):
    code, _ = _export(tmp_path, None, "preset=trl")
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: preset:") and "internal error" not in err[0]

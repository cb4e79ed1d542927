"""The CPU GRPO step: the two-level sampler draws from the right distribution, rollouts from the merged LoRA copy
are the policy's, and trimmed log-prob passes equal TRL's full-width ones."""

from __future__ import annotations

import pytest
import torch

from lengthwise.backends.pruned_decode import draw, greedy_decode, sample_decode, sample_tokens
from lengthwise.training.trim import used_columns


def _chi_square(draws: torch.Tensor, probs: torch.Tensor) -> tuple[float, int]:
    counts = torch.bincount(draws, minlength=probs.numel()).double()
    expected = probs.double() * draws.numel()
    kept = expected > 5
    return float((((counts - expected) ** 2) / expected)[kept].sum()), int(kept.sum()) - 1


def test_draw_follows_the_distribution_and_never_draws_a_zero_entry():
    gen = torch.Generator().manual_seed(0)
    probs = torch.rand(1000, generator=gen) ** 8
    probs[300:600] = 0  # whole empty blocks and a partial one
    probs[999] = 0  # the last entry, in a block shorter than 256
    probs /= probs.sum()
    draws = torch.cat([draw(probs.expand(20000, -1), generator=gen) for _ in range(10)])
    assert not ((draws >= 300) & (draws < 600)).any() and not (draws == 999).any()
    chi, dof = _chi_square(draws, probs)
    assert chi < dof + 4 * (2 * dof) ** 0.5  # ~4 standard deviations of a chi-square with dof degrees
    # a point mass is drawn every time, wherever it sits
    for k in (0, 255, 256, 999):
        point = torch.zeros(2, 1000)
        point[:, k] = 1.0
        assert draw(point, generator=gen).tolist() == [k, k]


def test_sample_tokens_applies_temperature_top_k_and_top_p_like_transformers():
    gen = torch.Generator().manual_seed(1)
    logits = torch.tensor([[2.0, 1.0, 0.5, -1.0, -3.0]])
    many = logits.expand(40000, -1)
    # top_k=1 is the argmax
    assert set(sample_tokens(many, top_k=1, generator=gen).tolist()) == {0}
    # temperature 2: softmax(logits / 2)
    chi, dof = _chi_square(sample_tokens(many, temperature=2.0, generator=gen), torch.softmax(logits[0] / 2, -1))
    assert chi < dof + 4 * (2 * dof) ** 0.5
    # top_p keeps the smallest head holding top_p of the mass (0.607, 0.223, 0.135, 0.030, 0.004 here)
    assert set(sample_tokens(many, top_p=0.8, generator=gen).tolist()) == {0, 1}
    got = sample_tokens(many, top_p=0.85, generator=gen)
    assert set(got.tolist()) == {0, 1, 2}
    kept = torch.softmax(logits[0, :3], -1)
    chi, dof = _chi_square(got, torch.cat([kept, torch.zeros(2)]))
    assert chi < dof + 4 * (2 * dof) ** 0.5


def test_sample_decode_with_top_k_one_is_greedy_decode(tiny_generator):
    model, tok = tiny_generator.model, tiny_generator.tokenizer
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in ["a short one", "rivers and hills and the sea"]]
    width = max(map(len, ids))
    input_ids = torch.tensor([[tok.pad_token_id] * (width - len(x)) + x for x in ids])
    mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids])
    free = greedy_decode(model, input_ids, mask, [12, 12], set())
    stop = free[1][2]
    greedy = greedy_decode(model, input_ids, mask, [12, 12], {stop}, prune_share=0.0)
    assert sample_decode(model, input_ids, mask, [12, 12], {stop}, top_k=1, prune_share=0.0) == greedy
    assert greedy[1][-1] == stop and len(greedy[1]) <= 3


def test_used_columns_keep_every_token_and_one_completion_column():
    # 3 prompt columns (first one padding for both rows), 4 completion columns (last two padding)
    mask = torch.tensor([[0, 1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 0, 0, 0]])
    assert used_columns(mask, 4) == (1, 5)
    empty = torch.tensor([[0, 1, 1, 0, 0]])
    assert used_columns(empty, 2) == (1, 4)  # no completion token at all: one completion column stays


def _trainer(tiny_model_dir, tmp_path, *extra):
    from lengthwise.training.config import load_config
    from lengthwise.training.trainer import build_trainer

    cfg = load_config(None, [f"model.name={tiny_model_dir}", f"output_dir={tmp_path}", "model.dtype=float32",
                             "num_generations=2", "per_device_batch_size=2", "max_completion_length=10",
                             "data.builtin_n=8", "max_steps=1", *extra])
    trainer, _ = build_trainer(cfg)
    policy = trainer.accelerator.unwrap_model(trainer.model)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():  # a trained-looking adapter: B is zero at initialisation
        for name, param in policy.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=gen))
    return trainer, policy


def test_merged_copy_computes_the_policy_and_follows_its_updates(tiny_model_dir, tmp_path):
    from lengthwise.training.rollout import merged_copy, refresh_merged

    trainer, policy = _trainer(tiny_model_dir, tmp_path)
    base_before = {n: p.clone() for n, p in policy.named_parameters() if "lora_" not in n}
    plain = merged_copy(policy)
    ids = torch.tensor([[5, 17, 42, 99, 7, 3]])
    with torch.no_grad():
        assert torch.allclose(plain(input_ids=ids).logits, policy(input_ids=ids).logits, atol=1e-5)
        for name, param in policy.named_parameters():
            if "lora_A" in name:
                param.mul_(-1.5)
        assert (plain(input_ids=ids).logits - policy(input_ids=ids).logits).abs().max() > 1e-2  # stale until refreshed
        refresh_merged(plain, policy)
        assert torch.allclose(plain(input_ids=ids).logits, policy(input_ids=ids).logits, atol=1e-5)
    # the policy's own weights were never merged into
    assert all(torch.equal(p, base_before[n]) for n, p in policy.named_parameters() if "lora_" not in n)
    assert not any("lora" in n for n, _ in plain.named_parameters())


def test_rollout_returns_what_trl_generation_returns(tiny_model_dir, tmp_path):
    from trl import GRPOTrainer

    trainer, _ = _trainer(tiny_model_dir, tmp_path)
    assert type(trainer).__name__.startswith("CpuStep")
    tok = trainer.processing_class
    prompts = [tok(p, add_special_tokens=False)["input_ids"] for p in ["one prompt", "a longer second prompt here"]]
    # argmax sampling on both paths: same tokens, each ending at its first end-of-sequence token or the cap
    trainer.top_k, trainer.generation_config.top_k = 1, 1
    trainer.eos_token_ids = [GRPOTrainer._generate_single_turn(trainer, prompts, None, {}, 2)[0][0][3]]
    ours, logprobs = trainer._generate_single_turn(prompts, None, {}, 2)
    trl, _ = GRPOTrainer._generate_single_turn(trainer, prompts, None, {}, 2)
    assert ours == trl and logprobs is None
    assert all(row[-1] in trainer.eos_token_ids or len(row) == 10 for row in ours)


@pytest.mark.parametrize("grad", [False, True])
def test_trimmed_log_prob_passes_equal_trl_full_width_passes(tiny_model_dir, tmp_path, grad):
    from trl import GRPOTrainer

    trainer, policy = _trainer(tiny_model_dir, tmp_path)
    pad = trainer.processing_class.pad_token_id
    # left-padded prompts (3 columns), right-padded completions (5 columns) of lengths 1, 5, 2, 3
    prompts = [[0, 11, 12], [0, 0, 13], [0, 14, 15], [0, 0, 16]]
    completions = [[21], [22, 23, 24, 25, 26], [27, 28], [29, 30, 31]]
    ids = torch.tensor([[pad if t == 0 else t for t in p] + c + [pad] * (5 - len(c))
                        for p, c in zip(prompts, completions, strict=True)])
    mask = torch.tensor([[int(t != 0) for t in p] + [1] * len(c) + [0] * (5 - len(c))
                         for p, c in zip(prompts, completions, strict=True)])
    completion_mask = mask[:, -5:].bool()
    with torch.set_grad_enabled(grad):
        ours, ours_entropy, _ = trainer._get_per_token_logps_and_entropies(policy, ids, mask, 5, batch_size=2,
                                                                           compute_entropy=True)
        trl, trl_entropy, _ = GRPOTrainer._get_per_token_logps_and_entropies(trainer, policy, ids, mask, 5,
                                                                             batch_size=2, compute_entropy=True)
    assert ours.shape == trl.shape == (4, 5)
    assert torch.allclose(ours[completion_mask], trl[completion_mask], atol=1e-4)
    assert torch.allclose(ours_entropy[completion_mask], trl_entropy[completion_mask], atol=1e-4)
    assert (ours[~completion_mask] == 0).all()
    assert ours.requires_grad == grad


def test_sorted_passes_regroup_every_row_by_completion_length():
    from lengthwise.training.batching import sorted_passes

    lengths = [[3, 1], [4, 2]]  # two passes of two rows
    passes = [{"completion_mask": torch.tensor([[1] * n + [0] * (4 - n) for n in pair]),
               "advantages": torch.tensor([float(n) for n in pair]), "num_items_in_batch": torch.tensor(10),
               "old_per_token_logps": None, "tags": [f"row{n}" for n in pair]} for pair in lengths]
    out = sorted_passes(passes)
    assert [p["completion_mask"].sum(-1).tolist() for p in out] == [[4, 3], [2, 1]]
    assert [p["advantages"].tolist() for p in out] == [[4.0, 3.0], [2.0, 1.0]]  # rows move whole
    assert [p["tags"] for p in out] == [["row4", "row3"], ["row2", "row1"]]
    assert all(p["num_items_in_batch"].item() == 10 and p["old_per_token_logps"] is None for p in out)


def test_passes_are_sorted_only_where_the_order_cannot_change_the_update(tiny_model_dir, tmp_path):
    trainer, _ = _trainer(tiny_model_dir, tmp_path, "preset=grpo", "gradient_accumulation_steps=2")
    assert trainer._order_free()
    trainer.loss_type = "bnpo"  # normalised by each pass's own token count
    assert not trainer._order_free()
    trainer.loss_type = "grpo"
    trainer.num_iterations = 2  # the passes are reused by later optimizer steps
    assert not trainer._order_free()

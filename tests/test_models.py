"""Embedded models: conversion cache safety, resolution, and the real SmolLM2 (slow)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lengthwise.errors import BackendError
from lengthwise.models import minilm_path, model_status, resolve_embedder, resolve_model


def test_resolve_model_accepts_local_folders_and_hub_ids(tmp_path):
    assert resolve_model(str(tmp_path)) == str(tmp_path)
    assert resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.mark.parametrize("spec", ["./missing/model", "/no/such/dir", "not a model"])
def test_resolve_model_rejects_paths_that_do_not_exist(spec):
    with pytest.raises(BackendError, match="not found"):
        resolve_model(spec)


def test_resolve_model_rejects_a_file(tmp_path):
    f = tmp_path / "model.bin"
    f.write_bytes(b"x")
    with pytest.raises(BackendError, match="is a file"):
        resolve_model(str(f))


def test_embedded_embedder_ships_in_its_wheel():
    assert (minilm_path() / "modules.json").exists()
    assert resolve_embedder(None) == str(minilm_path())
    assert {r["name"] for r in model_status()} == {"smollm2", "minilm"}


@pytest.mark.slow
def test_concurrent_first_use_converts_once_and_never_corrupts(tmp_path):
    code = (
        "import sys; from pathlib import Path; from lengthwise.models import ensure_smollm2;"
        "print(ensure_smollm2(Path(sys.argv[1])))"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    paths = {o[0].strip().splitlines()[-1] for o in outs}
    assert len(paths) == 1
    final = Path(paths.pop())
    assert (final / ".lengthwise-complete").exists() and (final / "config.json").exists()
    leftovers = [p.name for p in (tmp_path / "models").iterdir() if p.name.startswith(".smollm2") and p.is_dir()]
    assert leftovers == []
    from transformers import AutoConfig

    assert getattr(AutoConfig.from_pretrained(final), "quantization_config", None) is None


@pytest.mark.slow
def test_real_smollm2_answers_a_writing_prompt():
    from lengthwise.backends import GenerationRequest
    from lengthwise.backends.transformers_backend import TransformersGenerator
    from lengthwise.text import count_words

    gen = TransformersGenerator.from_pretrained(None, device="cpu")
    [r] = gen.generate([GenerationRequest(messages=[{"role": "user", "content": "Write two sentences about the sea."}],
                                          max_new_tokens=48, temperature=0)])
    assert r.ok and r.completion_tokens > 5
    assert count_words(r.text) >= 5  # real English, not random tokens
    assert gen.context_window == 8192


def test_bf16_is_chosen_on_cpu_only_where_the_processor_has_it(monkeypatch):
    import torch

    from lengthwise import models

    with_bf16 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n"
    without = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2\n"
    amx = "flags\t\t: fpu avx512f amx_tile amx_bf16\n"
    assert models.cpu_supports_bf16(with_bf16) and models.cpu_supports_bf16(amx)
    assert not models.cpu_supports_bf16(without) and not models.cpu_supports_bf16("")
    monkeypatch.setattr(models, "cpu_supports_bf16", lambda cpuinfo=None: True)
    assert models.pick_dtype("cpu") == torch.bfloat16
    monkeypatch.setattr(models, "cpu_supports_bf16", lambda cpuinfo=None: False)
    assert models.pick_dtype("cpu") == torch.float32                     # the fp32 fallback
    assert models.pick_dtype("cpu", "bf16") == torch.bfloat16            # an explicit choice wins
    assert models.pick_dtype("cpu", "auto") == torch.float32


def test_the_trainers_bf16_switch_follows_the_weights_dtype(monkeypatch):
    """--dtype float32 on a bf16-capable CPU trains in fp32: no bf16 autocast over fp32 weights."""
    from lengthwise import models
    from lengthwise.training.config import ModelConfig, TrainConfig
    from lengthwise.training.sft import SFTSettings, _sft_config
    from lengthwise.training.trainer import build_grpo_config, build_reward_stack

    monkeypatch.setattr(models, "cpu_supports_bf16", lambda cpuinfo=None: True)
    assert models.trains_in_bf16("cpu") and not models.trains_in_bf16("cpu", "float32")
    for dtype, expected in ((None, True), ("float32", False), ("bfloat16", True)):
        cfg = TrainConfig(output_dir="unused", device="cpu", model=ModelConfig(dtype=dtype))
        assert build_grpo_config(cfg, build_reward_stack(cfg)).bf16 is expected
        assert _sft_config(SFTSettings(data="unused", output_dir="unused", dtype=dtype), 8).bf16 is expected
    monkeypatch.setattr(models, "cpu_supports_bf16", lambda cpuinfo=None: False)
    assert not models.trains_in_bf16("cpu")


def test_the_output_projection_gets_a_contiguous_input_when_generate_projects_only_the_last_position(
        tiny_model_dir):
    """load_causal_lm's models (and the RL policy) see a contiguous head input: on a CPU in bf16 with frozen
    weights, F.linear on generate's strided last-position view allocated gigabytes."""
    import torch

    from lengthwise.models import contiguous_head_input, load_causal_lm

    model, _ = load_causal_lm(str(tiny_model_dir), device="cpu", dtype="float32")
    seen = []
    model.get_output_embeddings().register_forward_pre_hook(lambda _m, args: seen.append(args[0].is_contiguous()))
    ids = torch.randint(5, 50, (3, 7))
    with torch.inference_mode():
        model(input_ids=ids, attention_mask=torch.ones_like(ids), logits_to_keep=1)
    assert seen == [True]
    hooks = len(model.get_output_embeddings()._forward_pre_hooks)
    assert contiguous_head_input(model) is model and len(model.get_output_embeddings()._forward_pre_hooks) == hooks

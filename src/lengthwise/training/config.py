"""The ``lengthwise train`` configuration: one documented dataclass tree, loaded from YAML with
``--set a.b=value`` overrides, validated as a whole before any model is loaded."""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lengthwise.errors import ConfigError
from lengthwise.safe_yaml import load_yaml_file, load_yaml_text
from lengthwise.values import finite_number_problem, length_problem

__all__ = ["ModelConfig", "DataConfig", "TrainConfig", "load_config", "apply_overrides"]

TRL_DEFAULTS = "trl"  # the preset name that leaves TRL's loss settings at their defaults
Advantage = Literal["normalize_then_sum", "sum_then_normalize", "lwz_average"]


@dataclass
class ModelConfig:
    """The policy. ``name``: local folder or hub id; ``None`` is the embedded SmolLM2-135M-Instruct."""

    name: str | None = None
    lora: bool = True  # train LoRA adapters (peft) instead of every weight
    lora_r: int = 16
    lora_alpha: int = 32
    # no adapter dropout by default: on a CPU, dropout over bf16 activations cost ~4 s of a 24 s LoRA
    # step (profiled), and in RL it makes the importance ratio noisy for no measured benefit
    lora_dropout: float = 0.0
    lora_target_modules: str | list[str] = "all-linear"
    dtype: str | None = None  # float32 / bfloat16 / float16; default bf16 on GPUs and bf16-native CPUs, else fp32


@dataclass
class DataConfig:
    """Training prompts. ``prompts``: a JSONL (ours, LongBench-Write or Arena-Write rows); ``None``
    uses the built-in writing-task generator (train split) with ``builtin_n`` prompts."""

    prompts: str | None = None
    builtin_n: int = 64
    lengths: list[int] = field(default_factory=lambda: [50, 80, 120, 200, 300, 400])
    languages: list[str] = field(default_factory=lambda: ["en", "zh"])
    think: bool = False  # LongWriter-Zero's think template: plan in <think>, write in <answer>
    seed: int = 0


@dataclass
class TrainConfig:
    """Everything ``lengthwise train`` needs. Sources: TRL ``GRPOConfig`` for the RL settings,
    docs/reference.md §4 for the presets."""

    output_dir: str = "runs/train"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    # grpo, dapo, dr_grpo, gspo, luspo; "trl" = no preset, TRL's own GRPOConfig loss defaults
    preset: str = "luspo"
    rewards: str | dict[str, Any] | None = None  # a stack YAML path or inline stack; None: the default stack
    # how several rewards become one advantage: TRL's normalize_then_sum / sum_then_normalize, or
    # LongWriter-Zero's exact per-group averaging (lwz_average; forces scale_rewards="none")
    advantage: Advantage = "normalize_then_sum"
    num_generations: int = 4  # group size G
    per_device_batch_size: int = 4  # completions per device per micro-batch
    gradient_accumulation_steps: int = 1
    steps_per_generation: int | None = None  # > gradient_accumulation_steps makes updates off-policy
    max_steps: int = 20
    # wall-clock budget for training, counted over resumes: stops after the step that reaches it (None: steps only)
    max_minutes: float | None = None
    learning_rate: float = 1e-4
    max_completion_length: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    beta: float = 0.0  # KL coefficient
    use_vllm: bool = False  # generate with vLLM (GPU only): "server" mode talks to `trl vllm-serve`
    vllm_mode: Literal["server", "colocate"] = "server"
    vllm_server_base_url: str | None = None  # e.g. http://10.0.0.8:8000; default host/port of trl vllm-serve
    seed: int = 0
    device: str | None = None  # cpu or cuda; None: cuda when present (GRPOConfig's use_cpu follows it)
    # recompute activations in backward: saves memory at ~30% more compute; None = on with CUDA, off on CPU
    gradient_checkpointing: bool | None = None
    # on a CPU: rollouts from the LoRA merged into a plain copy with a cheaper exact sampler, and log-prob passes
    # over each chunk's own width (training/rollout.py, training/trim.py); False: TRL's own generation and passes
    cpu_step: bool = True
    save_steps: int = 10
    logging_steps: int = 1
    report_to: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Every problem with the values, each saying what to set instead (empty when valid)."""
        from lengthwise.losses import PRESETS

        out = []
        if self.preset not in PRESETS and self.preset != TRL_DEFAULTS:
            out.append(f"preset: unknown {self.preset!r}; choose one of: {', '.join(PRESETS)}, {TRL_DEFAULTS}")
        if self.advantage not in typing.get_args(Advantage):
            out.append(f"advantage: unknown {self.advantage!r}; choose one of: {', '.join(typing.get_args(Advantage))}")
        if self.num_generations < 2:
            out.append(f"num_generations must be >= 2 (a group needs a spread), got {self.num_generations}")
        else:
            # TRL's rule: one generation batch (per device × steps per generation) holds whole groups; a
            # micro-batch may hold part of one (smaller micro-batches cut the logits' memory)
            steps = self.steps_per_generation or self.gradient_accumulation_steps
            steps_name = "steps_per_generation" if self.steps_per_generation else "gradient_accumulation_steps"
            if (self.per_device_batch_size * steps) % self.num_generations:
                out.append(f"per_device_batch_size × {steps_name} ({self.per_device_batch_size} × {steps}) must be a "
                           f"multiple of num_generations ({self.num_generations})")
        for name in ("max_steps", "max_completion_length", "per_device_batch_size", "gradient_accumulation_steps",
                     "save_steps", "logging_steps"):
            if getattr(self, name) < 1:
                out.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.device is not None and not (self.device == "cpu" or str(self.device).startswith("cuda")):
            out.append(f"device: unknown {self.device!r}; choose cpu or cuda (cuda:N)")
        if self.vllm_mode not in ("server", "colocate"):
            out.append(f"vllm_mode: unknown {self.vllm_mode!r}; choose server or colocate")
        if self.max_minutes is not None:
            problem = finite_number_problem("max_minutes", self.max_minutes, 0.0, None, low_open=True)
            if problem:
                out.append(problem)
        for name, low, high, low_open in (("learning_rate", 0.0, 1.0, True), ("temperature", 0.0, 10.0, True),
                                          ("top_p", 0.0, 1.0, True), ("beta", 0.0, None, False),
                                          ("model.lora_dropout", 0.0, 1.0, False)):
            value = self.model.lora_dropout if name == "model.lora_dropout" else getattr(self, name)
            problem = finite_number_problem(name, value, low, high, low_open=low_open)
            if problem:
                out.append(problem)
        if not isinstance(self.data.lengths, list) or not self.data.lengths:
            out.append("data.lengths must be a non-empty list of target lengths in words, e.g. [100, 200, 400]")
        else:
            for k, n in enumerate(self.data.lengths):
                problem = length_problem(n)
                if problem:
                    out.append(f"data.lengths[{k}]: {problem.removeprefix('field ')}")
        if not isinstance(self.data.languages, list) or not self.data.languages or \
                any(lang not in ("en", "zh") for lang in self.data.languages):
            out.append(f"data.languages must be a non-empty list of 'en' and/or 'zh', got {self.data.languages!r:.40}")
        if self.rewards is not None and not isinstance(self.rewards, str | dict):
            out.append(f"rewards must be the path of a reward-stack YAML or an inline stack mapping, got "
                       f"{self.rewards!r:.40}")
        if self.data.prompts is not None and Path(self.data.prompts).is_dir():
            out.append(f"data.prompts: {self.data.prompts}: is a directory, expected a JSONL file")
        elif self.data.prompts is not None and not Path(self.data.prompts).is_file():
            out.append(f"data.prompts: {self.data.prompts}: file not found")
        if self.data.prompts is None and self.data.builtin_n < 1:
            out.append(f"data.builtin_n must be >= 1, got {self.data.builtin_n}")
        if not isinstance(self.rewards, str | dict | None):
            pass  # reported above
        elif isinstance(self.rewards, str) and not Path(self.rewards).is_file():
            out.append(f"rewards: reward stack file not found: {self.rewards}")
        elif self.rewards is not None:
            from lengthwise.rewards.stack import RewardStack

            try:  # cheap: models inside a stack load on first use
                RewardStack.from_dict(self.rewards) if isinstance(self.rewards, dict) else RewardStack.from_yaml(
                    self.rewards
                )
            except (ValueError, TypeError, AttributeError, KeyError, ConfigError) as exc:
                out.append(f"rewards: {exc}")
        if self.model.name is not None:
            from lengthwise.errors import BackendError
            from lengthwise.models import resolve_model

            try:
                resolve_model(self.model.name)
            except BackendError as exc:
                out.append(f"model.name: {exc}")
        if self.model.lora and self.model.lora_r < 1:
            out.append(f"model.lora_r must be >= 1, got {self.model.lora_r}")
        return out

    def validate(self) -> TrainConfig:
        problems = self.problems()
        if problems:
            raise ConfigError("; ".join(problems))
        return self

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _build(cls, values: dict[str, Any], where: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"{where or 'config'}: unknown key(s) {unknown}; valid: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs, problems = {}, []
    for name, value in values.items():
        nested = {"model": ModelConfig, "data": DataConfig}.get(name) if cls is TrainConfig else None
        if nested:
            kwargs[name] = _build(nested, value, f"{where}{name}.")
            continue
        kwargs[name], problem = _check_type(f"{where}{name}", value, hints[name])
        if problem:
            problems.append(problem)
    if problems:
        raise ConfigError("; ".join(problems))
    return cls(**kwargs)


def _parse_value(raw: str) -> Any:
    value = load_yaml_text(raw, "--set value") if raw.strip() else ""
    if isinstance(value, str):  # YAML 1.1 reads "5e-5" as a string; users mean a number
        try:
            return float(value) if any(c in value.lower() for c in ".e") else int(value)
        except ValueError:
            pass
    return value


_SCALARS = (bool, int, float, str)


def _check_type(name: str, value: Any, hint: Any) -> tuple[Any, str | None]:
    """Coerce int → float where a float is expected; report any other scalar of the wrong type."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    scalars = [o for o in options if o in _SCALARS]
    if not scalars or len(scalars) != len([o for o in options if o is not type(None)]):
        return value, None  # lists, dicts and literals are checked where they are used
    if value is None:
        return (None, None) if type(None) in options else (value, f"{name} must not be null")
    if float in scalars and isinstance(value, int) and not isinstance(value, bool):
        return float(value), None
    if any(isinstance(value, t) and not (t is int and isinstance(value, bool)) for t in scalars):
        return value, None
    wanted = " or ".join(t.__name__ for t in scalars)
    return value, f"{name} must be {wanted}, got {value!r}"


def apply_overrides(values: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b=value`` strings (values parsed as YAML: numbers, booleans, lists, null)."""
    out = dict(values)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set model.lora_r=8")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(f"--set {item!r}: {part} is not a section")
        target[parts[-1]] = _parse_value(raw)
    return out


def load_config(path: str | os.PathLike | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML recipe (or start from defaults), apply overrides, validate everything at once."""
    values: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"{p}: config file not found")
        values = load_yaml_file(p)
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise ConfigError(f"{p}: a config is a mapping of keys to values, got {type(values).__name__}")
    values = apply_overrides(values, overrides or [])
    try:
        config = _build(TrainConfig, values, "")
    except TypeError as exc:
        raise ConfigError(f"config: {exc}") from None
    return config.validate()

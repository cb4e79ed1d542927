"""A lazily loaded, cached sentence embedder shared by the paraphrase detector and the quality proxy.

Picklable: only the model reference travels; each process loads the model on first use. Embeddings
are L2-normalised and cached by sentence, so components that look at the same text encode it once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["Embedder"]


class Embedder:
    """``embedder(list_of_texts) -> (n, d) float32``, rows L2-normalised.

    ``model``: a sentence-transformers folder or hub id; ``None`` is the embedded all-MiniLM-L6-v2.
    ``max_seq_length`` bounds the tokens per text (sentences rarely need more than 128).
    """

    def __init__(self, model: str | None = None, device: str | None = None, batch_size: int = 64,
                 max_seq_length: int = 128, cache_size: int = 200_000):
        self.model_ref = model
        self.device = device
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self.cache_size = cache_size
        self._model: Any = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_model"] = None
        state["_cache"] = OrderedDict()
        return state

    @property
    def model(self):
        if self._model is None:
            from lengthwise.models import load_embedder

            self._model = load_embedder(self.model_ref, device=self.device)
            self._model.max_seq_length = self.max_seq_length
        return self._model

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vectors = self.model.encode(missing, batch_size=self.batch_size, normalize_embeddings=True,
                                        convert_to_numpy=True, show_progress_bar=False)
            for t, v in zip(missing, vectors, strict=True):
                self._cache[t] = v.astype(np.float32)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])

    @property
    def dimension(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

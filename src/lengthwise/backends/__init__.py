"""Generation backends behind one ``Generator`` protocol: local ``transformers`` and HTTP ``openai``."""

from __future__ import annotations

from typing import Any

from lengthwise.backends.base import GenerationRequest, GenerationResult, Generator, summarize_results
from lengthwise.errors import ConfigError

__all__ = ["GenerationRequest", "GenerationResult", "Generator", "summarize_results", "make_generator", "BACKENDS"]

BACKENDS = ("transformers", "openai")


def make_generator(backend: str, **kwargs: Any) -> Generator:
    """Build a generator by name; an unknown name raises ``ConfigError`` listing the valid ones."""
    if backend == "transformers":
        from lengthwise.backends.transformers_backend import TransformersGenerator

        return TransformersGenerator.from_pretrained(**kwargs)
    if backend == "openai":
        from lengthwise.backends.openai_backend import OpenAIGenerator

        return OpenAIGenerator(**kwargs)
    raise ConfigError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")

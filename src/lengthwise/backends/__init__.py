"""Generation backends behind one ``Generator`` protocol: local ``transformers`` and HTTP ``openai``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lengthwise.backends.base import GenerationRequest, GenerationResult, Generator, summarize_results
from lengthwise.errors import ConfigError

__all__ = ["GenerationRequest", "GenerationResult", "Generator", "summarize_results", "make_generator", "BACKENDS"]

def _transformers(**kwargs: Any) -> Generator:
    from lengthwise.backends.transformers_backend import TransformersGenerator

    return TransformersGenerator.from_pretrained(**kwargs)


def _openai(**kwargs: Any) -> Generator:
    from lengthwise.backends.openai_backend import OpenAIGenerator

    return OpenAIGenerator(**kwargs)


# Name → factory; the imports stay lazy so the HTTP client is not loaded for local generation.
BACKENDS: dict[str, Callable[..., Generator]] = {"transformers": _transformers, "openai": _openai}


def make_generator(backend: str, **kwargs: Any) -> Generator:
    """Build a generator by name; an unknown name raises ``ConfigError`` listing the valid ones."""
    try:
        factory = BACKENDS[backend]
    except KeyError:
        raise ConfigError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}") from None
    return factory(**kwargs)

"""A ``Generator`` that answers from a script: for judge tests without a model behind them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lengthwise.backends.base import GenerationRequest, GenerationResult


def rubric_reply(scores: dict[str, object], analysis: str = "fine") -> str:
    import json

    return json.dumps({"analysis": analysis, **scores})


class ScriptedGenerator:
    """``reply(request) -> str`` for each request; a reply of ``None`` is a backend failure."""

    model_name = "scripted"

    def __init__(self, reply: Callable[[GenerationRequest], str | None]):
        self.reply = reply
        self.calls = 0

    def generate(self, requests: Sequence[GenerationRequest], on_result=None) -> list[GenerationResult]:
        out = []
        for k, r in enumerate(requests):
            self.calls += 1
            text = self.reply(r)
            result = (GenerationResult(text, "stop") if text is not None
                      else GenerationResult("", "error", error="server_error"))
            out.append(result)
            if on_result:
                on_result(k, result)
        return out

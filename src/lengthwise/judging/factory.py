"""A judge from a short description: a server URL with a model name, or ``local`` / a model folder.

``eval``, ``arena`` and library users describe judges the same way; this builds the rubric judge
(or the pairwise one) it names.
"""

from __future__ import annotations

from lengthwise.errors import ConfigError

__all__ = ["make_judge"]


def make_judge(spec: str | None, model: str | None = None, api_key_env: str = "OPENAI_API_KEY", attempts: int = 3,
               concurrency: str | int = "auto", pairwise: bool = False, device: str | None = None,
               timeout: float = 120.0, structured: bool = True):
    """The judge ``spec`` names (``None`` for no judge).

    ``spec``: an OpenAI-compatible server URL (``model`` is then the served model's name), or
    ``local`` (``model``: a local model folder, default the embedded SmolLM2) or a model folder for
    the local probability judge. ``attempts``: asks per item before it counts as a failure.
    """
    if spec is None:
        return None
    if attempts < 1:
        raise ConfigError(f"--judge-attempts must be >= 1, got {attempts}")
    if spec.startswith(("http://", "https://")):
        from lengthwise.backends.openai_backend import OpenAIGenerator, RetryPolicy

        if not model:
            raise ConfigError("--judge-model is required with a judge server URL")
        generator = OpenAIGenerator(model=model, base_url=spec, api_key_env=api_key_env, concurrency=concurrency,
                                    timeout=timeout, retry=RetryPolicy(max_attempts=3, deadline=max(timeout * 3, 60.0)))
        if pairwise:
            from lengthwise.judging.pairwise import GeneratorPairJudge

            return GeneratorPairJudge(generator, max_attempts=attempts, name=f"pairwise:{model}", structured=structured)
        from lengthwise.judging.rubric import GeneratorJudge

        return GeneratorJudge(generator, max_attempts=attempts, name=f"rubric:{model}", structured=structured)
    local_model = model if spec == "local" else spec
    if pairwise:
        from lengthwise.judging.pairwise import ProbabilityPairJudge

        return ProbabilityPairJudge(model_spec=local_model, device=device)
    from lengthwise.judging.rubric import ProbabilityJudge

    return ProbabilityJudge(model_spec=local_model, device=device)

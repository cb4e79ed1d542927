"""The reasoning demo's warm start: fine-tune on correct solutions, each restated with the budget it actually uses
(hindsight labels for L1's budget sentence), before RL. By default the solutions are written by the task's solver
(step 4); the model's own sampled answers (steps 1-3) are the route for datasets without one.

Why: RL alone, at a CPU demo's dozen steps, teaches the 135M model the *mean* budget — every request got ~50
tokens, Spearman(requested, produced) −0.04 after training (``benchmarks/results/reasoning.json``, first run).
The relabeled pairs state the mapping from the number to the length directly: the same problem appears with
a short answer under a small N and a long one under a large N.

1. ``sample``: each training prompt (its drawn budget sentence included) answered at temperature 0.7 under each
   style hint of ``styles`` ("Be brief.", none, "Explain each step in detail…"), so the produced lengths spread
   over the budget range; the hints exist only here, never in the fine-tuning data (``warm/samples.jsonl``,
   append-only, resumable);
2. ``keep``: answers the model ended itself, that math-verify marks correct (so accuracy is not taught away),
   of ``min_tokens``..``max_tokens`` tokens; one per distinct (problem, length);
3. ``relabel``: the prompt rewritten with L1's exact sentence at the produced token count — counted by the same
   generator and rule as the evaluation — and the answer as the assistant turn; then ``balanced``: as many rows,
   spread evenly over octaves of length (4-7, 8-15, ... tokens), because a small model's own correct answers are
   mostly short and greedy decoding follows the bulk: SFT on the raw mix (140 answers, median ~20 tokens) gave
   18 / 27 / 34 tokens at budgets 32 / 64 / 128, Spearman 0.15 (``warm/sft.jsonl``);
4. ``traces``: solutions written by the task's own solver (``lengthwise.traces``) at lengths drawn log-uniformly
   from ``trace_tokens``, each restated with the length it has: the same problem at several budgets, with the
   extra work always added in the same order. Only for the problems ``lengthwise.tasks`` writes (a hub dataset
   has no solver; set ``problems`` to sample instead). The self-relabeled answers alone were too few: 59 usable
   of 192 sampled, Spearman 0.13 after SFT (``benchmarks/results/reasoning.json``, attempts);
5. ``sft``: LoRA on TRL's ``SFTTrainer`` (``lengthwise.training.sft``), resumable; the adapter is merged into the
   weights (``warm/model``) so RL trains a fresh adapter of its own on top.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lengthwise.errors import ConfigError
from lengthwise.io import ResumableJsonl, write_jsonl
from lengthwise.traces import solver_examples
from lengthwise.training.merge import MERGED_MARKER, merge_adapter

__all__ = ["WarmStartSettings", "WarmStartResult", "STYLES", "sample_rows", "relabeled_examples", "balanced",
           "warm_start"]

# Hints that move a small model's answer length both ways; the empty hint keeps its natural length.
STYLES = (" Be brief.", "", " Explain each step in detail and check your work.")


@dataclass(frozen=True)
class WarmStartSettings:
    """``problems``: how many of the training prompts are sampled (0: none); ``styles``: hints, one sample per
    prompt each; ``min_tokens``/``max_tokens``: the produced lengths kept (the top is the sampling cap: an answer
    cut there did not end by itself); ``traces``: solver-written solutions (0: none) at lengths drawn from
    ``trace_tokens``."""

    problems: int = 0
    traces: int = 240
    trace_tokens: tuple[int, int] = (24, 192)
    plan_line: bool = True  # solver solutions open with "Plan for N tokens: …" naming their pieces (lengthwise.traces)
    styles: tuple[str, ...] = STYLES
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 224
    min_tokens: int = 4
    # 3 epochs: after 2 the model still chose long plans at 32-64 tokens (relative error 0.65 vs 0.21 after 3,
    # benchmarks/results/reasoning.json, attempts)
    epochs: float = 3.0
    learning_rate: float = 5e-4
    lora_r: int = 16
    batch_size: int = 8
    # keep only answers math-verify marks correct; off only for models that solve nothing (tiny test models)
    require_correct: bool = True
    save_steps: int = 20

    def check(self) -> list[str]:
        problems = []
        if self.problems < 0 or self.traces < 0 or self.problems + self.traces == 0:
            problems.append(f"the warm start needs sampled problems or solver traces (>= 0, not both 0), got "
                            f"problems={self.problems}, traces={self.traces}")
        if not 0 < self.trace_tokens[0] < self.trace_tokens[1]:
            problems.append(f"trace_tokens needs 0 < low < high, got {self.trace_tokens}")
        if not self.styles:
            problems.append("the warm start needs at least one style (use '' for none)")
        if not 0 < self.min_tokens < self.max_tokens:
            problems.append(f"warm-start lengths need 0 < min_tokens < max_tokens, got {self.min_tokens}, "
                            f"{self.max_tokens}")
        if not 0 < self.temperature <= 2 or not 0 < self.top_p <= 1:
            problems.append(f"warm-start sampling needs 0 < temperature <= 2 and 0 < top_p <= 1, got "
                            f"{self.temperature}, {self.top_p}")
        return problems


@dataclass
class WarmStartResult:
    model: Path  # the merged weights RL starts from
    samples: int
    examples: int  # all fine-tuning rows
    kept_share: float  # fine-tuning rows from sampled answers / sampled answers
    solver_rows: int = 0


def sample_rows(train_rows: Sequence[dict[str, Any]], styles: Sequence[str]) -> list[dict[str, Any]]:
    """One sampling row per training row and style; ``seed`` differs per row so reruns draw the same answers."""
    rows = []
    for k, style in enumerate(styles):
        for j, row in enumerate(train_rows):
            rows.append({"id": f"{row['id']}~{k}", "problem": str(row["id"]), "question": row["question"],
                         "answer": row["answer"], "style": style, "prompt": row["prompt"] + style,
                         "seed": k * len(train_rows) + j})
    return rows


def relabeled_examples(samples: Sequence[dict[str, Any]], min_tokens: int, max_tokens: int,
                       require_correct: bool = True) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Chat rows ``{"messages": [user, assistant]}`` from sampled answers (pure): model-ended, correct answers of
    ``min_tokens`` ≤ n < ``max_tokens`` tokens, the question restated with L1's exact budget at n; one per
    distinct (problem, n). Also the counts of what was dropped and why."""
    from lengthwise.rewards.answers import is_correct
    from lengthwise.tasks import budget_prompt

    rows, seen = [], set()
    counts = {"not_ended": 0, "wrong": 0, "out_of_range": 0, "duplicate": 0}
    for s in samples:
        n = int(s["completion_tokens"])
        if s.get("finish_reason") != "stop":
            counts["not_ended"] += 1
        elif require_correct and not is_correct(s["response"], s["answer"]):
            counts["wrong"] += 1
        elif not min_tokens <= n < max_tokens:
            counts["out_of_range"] += 1
        elif (s["problem"], n) in seen:
            counts["duplicate"] += 1
        else:
            seen.add((s["problem"], n))
            rows.append({"id": s["id"], "target_tokens": n, "messages": [
                {"role": "user", "content": budget_prompt(s["question"], n, "exact")},
                {"role": "assistant", "content": s["response"]}]})
    return rows, counts


def balanced(rows: Sequence[dict[str, Any]], seed: int = 0) -> list[dict[str, Any]]:
    """As many rows as given, an equal share from each occupied octave of ``target_tokens`` (2^k .. 2^(k+1) - 1):
    drawn without replacement where an octave has enough rows, repeated in turn (``id+i``) where it has fewer."""
    if not rows:
        return []
    octaves: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        octaves.setdefault(int(row["target_tokens"]).bit_length(), []).append(row)
    rng = random.Random(f"lengthwise-warm-balance:{seed}")
    quota, extra = divmod(len(rows), len(octaves))
    out: list[dict[str, Any]] = []
    for k, (_, members) in enumerate(sorted(octaves.items())):
        want = quota + (k < extra)
        pool = rng.sample(members, len(members))
        # a repeat gets an id of its own: the fine-tuning file keys rows by id
        out.extend(pool[i] if i < len(pool) else {**pool[i % len(pool)], "id": f"{pool[i % len(pool)]['id']}+{i}"}
                   for i in range(want))
    rng.shuffle(out)
    return out


def _load_generator(model: str | None, device: str | None, batch_size: int) -> Any:
    from lengthwise.backends.transformers_backend import TransformersGenerator

    return TransformersGenerator.from_pretrained(model, device=device, batch_size=batch_size)


def _sample(path: Path, rows: list[dict[str, Any]], model: str | None, settings: WarmStartSettings, device: str | None,
            batch_size: int, progress: bool) -> list[dict[str, Any]]:
    from lengthwise.backends.base import GenerationRequest
    from lengthwise.resumable import run_pending

    store = ResumableJsonl(path)
    loaded: dict[str, Any] = {}

    def work(chunk: list[dict[str, Any]], emit) -> None:
        if "generator" not in loaded:
            loaded["generator"] = _load_generator(model, device, batch_size)
        requests = [GenerationRequest(messages=[{"role": "user", "content": r["prompt"]}],
                                      max_new_tokens=settings.max_tokens, temperature=settings.temperature,
                                      top_p=settings.top_p, seed=r["seed"]) for r in chunk]
        for row, result in zip(chunk, loaded["generator"].generate(requests), strict=True):
            emit({**row, "response": result.text, "completion_tokens": result.completion_tokens,
                  "finish_reason": result.finish_reason})

    # one style per batch: a batch runs as long as its longest answer, and hints set the length
    run_pending(rows, store, key=lambda r: r["id"], work=work, chunk=batch_size, progress=progress,
                desc="warm-start samples", unit="answer", order=lambda r: r["seed"])
    done = store.done
    return [done[r["id"]] for r in rows if r["id"] in done]


def _token_counter(model: str | None) -> Callable[[str], int]:
    """Counts text in the policy's tokens, the way the generator counts a completion (no special tokens)."""
    from lengthwise.models import load_tokenizer, resolve_model

    tokenizer = load_tokenizer(resolve_model(model))
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def warm_start(out: Path, train_rows: Sequence[dict[str, Any]], model: str | None, settings: WarmStartSettings,
               device: str | None = None, batch_size: int = 24, progress: bool = True, seed: int = 0,
               say: Callable[[str], None] = lambda _m: None) -> WarmStartResult:
    """Run (or resume, or skip when finished) the warm start in ``out``; returns the merged model's folder."""
    from lengthwise.io import read_jsonl
    from lengthwise.training.sft import SFTSettings, train_sft

    problems = settings.check()
    if problems:
        raise ConfigError("; ".join(problems))
    out.mkdir(parents=True, exist_ok=True)
    merged = out / "model"
    samples: list[dict[str, Any]] = []
    if settings.problems:
        rows = sample_rows(train_rows[: settings.problems], settings.styles)
        samples = _sample(out / "samples.jsonl", rows, model, settings, device, batch_size, progress)
    data = out / "sft.jsonl"
    if not data.exists():
        examples, dropped = relabeled_examples(samples, settings.min_tokens, settings.max_tokens,
                                               settings.require_correct)
        traces = solver_examples(train_rows, settings.traces, _token_counter(model), *settings.trace_tokens,
                                 seed=seed, plan=settings.plan_line) if settings.traces else []
        if len(examples) + len(traces) < settings.batch_size:
            raise ConfigError(f"the warm start has only {len(examples)} relabeled answers of {len(samples)} sampled "
                              f"(dropped: {dropped}) and {len(traces)} solver traces; use more training problems, "
                              "or --no-warm-start for a model that solves none of them")
        mixed = balanced(examples, seed) + traces
        random.Random(f"lengthwise-warm-mix:{seed}").shuffle(mixed)
        write_jsonl(data, mixed)
        if samples:
            say(f"   warm start: {len(examples)} relabeled answers of {len(samples)} sampled (dropped: "
                + ", ".join(f"{k} {v}" for k, v in dropped.items()) + ")")
        if traces:
            say(f"   warm start: {len(traces)} solver-written solutions, "
                f"{min(t['target_tokens'] for t in traces)}-{max(t['target_tokens'] for t in traces)} tokens")
    written = read_jsonl(data).rows
    n_examples = len(written)
    n_solver = sum(r.get("source") == "solver" for r in written)
    if not (merged / MERGED_MARKER).exists():
        sft = SFTSettings(data=str(data), output_dir=str(out / "sft"), model=model, lora_r=settings.lora_r,
                          lora_alpha=2 * settings.lora_r, epochs=settings.epochs,
                          learning_rate=settings.learning_rate, batch_size=settings.batch_size, max_length=512,
                          save_steps=settings.save_steps, seed=seed)
        if not (out / "sft" / "final" / "adapter_config.json").exists():
            train_sft(sft, progress=progress)
        merge_adapter(out / "sft" / "final", merged)
    return WarmStartResult(merged.resolve(), len(samples), n_examples,
                           round((n_examples - n_solver) / max(1, len(samples)), 3), n_solver)

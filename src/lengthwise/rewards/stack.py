"""RewardStack: named, weighted reward components from YAML, exposed to TRL and to verl.

* TRL: ``stack.reward_funcs`` (one picklable callable per component, named for TRL's logs) and
  ``stack.reward_weights`` go straight into ``GRPOTrainer(reward_funcs=…)`` / ``GRPOConfig(reward_weights=…)``.
* verl: ``stack.compute_score(data_source, solution_str, ground_truth, extra_info)`` returns
  ``{"score": Σ w_k r_k, <component>: r_k, …}`` for one response.
* Offline: ``stack.score(prompts, completions, columns)`` gives every component plus the detectors'
  evidence (``lengthwise score``).

Example YAML::

    counter: longbench
    detectors: {paraphrase: true}
    components:
      - {name: length, type: lwz_range, weight: 1.0, params: {max_length_factor: 3.0}}
      - {name: quality, type: quality, weight: 1.0, params: {scorer: proxy}}
      - {name: format, type: format, weight: 1.0, params: {think: true}}
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

from lengthwise.rewards.components import COMPONENTS, Component, as_text
from lengthwise.rewards.embeddings import Embedder
from lengthwise.rewards.hack_audit import HackAudit
from lengthwise.text import DEFAULT_COUNTER, count_words, extract_answer, get_counter

__all__ = ["ComponentSpec", "RewardStack", "STACK_VERSION", "check_detectors_config", "default_stack_config"]

# 2: detectors recalibrated on real prose, graduated penalty (#15); 3: keyword stuffing weighs words unknown to the
# background model, short sentences get their own paraphrase cosine; 4: "unknown" is any English term below the
# background floor, Chinese praise is the agreement of three lexicons, paraphrase
# cosine 0.86 and refrains compared by their words; 5: Early Modern English function words are no stuffing
# candidates, nor Chinese bigrams below the background floor; 6: keyword stuffing's appeal is read with
# all-MiniLM-L6-v2 whatever the stack's embedder (the default stack scores as 5 did); 7: English words of paths,
# options and identifiers (/dev/cdrom, --hostname, exim4) are no stuffing candidates
STACK_VERSION = "7"


@dataclass
class ComponentSpec:
    name: str
    type: str
    weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)


def default_stack_config(think: bool = True, paraphrase: bool = True) -> dict[str, Any]:
    """LongWriter-Zero's three rewards: length (range reward), writing quality (embedded proxy),
    format (think grammar when ``think``), the last two fed by the hacking detectors."""
    return {
        "counter": DEFAULT_COUNTER,
        "detectors": {"paraphrase": paraphrase},
        "components": [
            {"name": "length", "type": "lwz_range", "weight": 1.0},
            {"name": "quality", "type": "quality", "weight": 1.0, "params": {"scorer": "proxy"}},
            {"name": "format", "type": "format", "weight": 1.0, "params": {"think": think}},
        ],
    }


# Fields of every scores row: a component cannot take one of these names.
RESERVED_NAMES = frozenset({"id", "score", "words", "counter", "stack_version", "detectors"})
_DETECTOR_KEYS = ("paraphrase", "thresholds", "paraphrase_similarity", "paraphrase_short_similarity", "stuffing")


def check_detectors_config(detectors: Any) -> dict[str, Any] | None:
    """The ``detectors:`` block of a stack YAML (or of ``lengthwise audit --detectors``), checked: a clear
    error for an unknown key or a value that is not a number in range."""
    if detectors is None:
        return None
    if not isinstance(detectors, dict):
        raise ValueError(f"'detectors' must be a mapping, got {type(detectors).__name__}")
    unknown = set(detectors) - set(_DETECTOR_KEYS)
    if unknown:
        raise ValueError(f"detectors: unknown keys {sorted(map(str, unknown))}; valid: {', '.join(_DETECTOR_KEYS)}")
    if "paraphrase" in detectors and not isinstance(detectors["paraphrase"], bool):
        raise ValueError(f"detectors.paraphrase must be true or false, got {detectors['paraphrase']!r:.40}")
    thresholds = detectors.get("thresholds")
    if thresholds is not None:
        if not isinstance(thresholds, dict):
            raise ValueError("detectors.thresholds must map detector names to numbers")
        from lengthwise.values import finite_number_problem

        for name, value in thresholds.items():
            problem = finite_number_problem(f"detectors.thresholds.{name}", value, 0.0, 1.0)
            if problem:
                raise ValueError(problem)
    for key in ("paraphrase_similarity", "paraphrase_short_similarity"):
        similarity = detectors.get(key)
        if similarity is not None:
            from lengthwise.values import finite_number_problem

            problem = finite_number_problem(f"detectors.{key}", similarity, 0.0, 1.0)
            if problem:
                raise ValueError(problem)
    stuffing = detectors.get("stuffing")
    if stuffing is not None:
        from dataclasses import fields

        from lengthwise.rewards.keywords import StuffingModel

        valid = {f.name for f in fields(StuffingModel)}
        if not isinstance(stuffing, dict) or set(stuffing) - valid:
            raise ValueError("detectors.stuffing must map StuffingModel fields to numbers; valid: "
                             + ", ".join(sorted(valid)))
        for name, value in stuffing.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"detectors.stuffing.{name} must be a finite number, got {value!r:.40}")
    return detectors


def _param_problem(component: str, name: str, value: Any, default: Any) -> str | None:
    """A parameter whose default is a bool or a number must be given as one (``"false"`` is not false)."""
    from lengthwise.values import finite_number_problem

    if isinstance(default, bool):
        return (
            None
            if isinstance(value, bool)
            else f"component {component!r}: {name} must be true or false, got {value!r:.40}"
        )
    if isinstance(default, int | float) and value is not None:
        return finite_number_problem(f"component {component!r}: {name}", value)
    return None


class RewardStack:
    def __init__(self, components: list[ComponentSpec], counter: str = DEFAULT_COUNTER, embedder: str | None = None,
                 detectors: dict[str, Any] | None = None, tokenizer: Any = None):
        problems = []
        try:
            if counter != "tokens":  # the tokens counter is bound to a tokenizer below or by the trainer
                get_counter(counter)
        except ValueError as exc:
            problems.append(str(exc))
        names = [c.name for c in components]
        if not components:
            problems.append("a reward stack needs at least one component")
        if len(set(names)) != len(names):
            problems.append(f"component names must be unique, got {names}")
        for c in components:
            if c.type not in COMPONENTS:
                problems.append(
                    f"component {c.name!r}: unknown type {c.type!r}; choose one of: {', '.join(sorted(COMPONENTS))}"
                )
            if isinstance(c.weight, bool) or not isinstance(c.weight, int | float) or not math.isfinite(c.weight):
                problems.append(f"component {c.name!r}: weight must be a finite number, got {c.weight!r}")
        if problems:
            raise ValueError("; ".join(problems))
        self.specs = components
        self.counter = counter
        detectors = dict(detectors or {})
        self.embedder = Embedder(embedder)
        self.audit = HackAudit.from_config(detectors, embedder=self.embedder)
        self.components: list[Component] = [self._build(spec) for spec in components]
        self.tokenizer_ref = tokenizer if isinstance(tokenizer, str) else None
        self._counter: Any = None if counter == "tokens" else counter
        if tokenizer is not None:
            self.bind_tokenizer(tokenizer)
        self.version = STACK_VERSION + "-" + hashlib.sha1(
            json.dumps(self.config(), sort_keys=True, default=str).encode()).hexdigest()[:8]

    def bind_tokenizer(self, tokenizer: Any) -> None:
        """Count in these tokens when the stack's counter is ``tokens`` (the trainer binds the policy's
        tokenizer; a stack YAML can name one with ``tokenizer:``). A no-op for word counters."""
        if self.counter != "tokens":
            return
        if isinstance(tokenizer, str):
            from lengthwise.models import ensure_loadable, load_tokenizer, resolve_model

            tokenizer = load_tokenizer(ensure_loadable(resolve_model(tokenizer)))
        self._counter = get_counter("tokens", tokenizer)
        for component in self.components:
            component.counter = self._counter

    @property
    def word_counter(self) -> Any:
        if self._counter is None:
            raise ValueError("the 'tokens' counter needs the policy's tokenizer: name it with 'tokenizer:' in the "
                             "reward stack, or train with the stack (the trainer binds its tokenizer)")
        return self._counter

    def _build(self, spec: ComponentSpec) -> Component:
        cls = COMPONENTS[spec.type]
        accepted = inspect.signature(cls.__init__).parameters
        kwargs = dict(spec.params)
        unknown = [
            k for k in kwargs if k not in accepted and not any(p.kind == p.VAR_KEYWORD for p in accepted.values())
        ]
        if unknown:
            valid = [k for k in accepted if k not in ("self", "name", "audit", "embedder")]
            raise ValueError(f"component {spec.name!r} ({spec.type}): unknown parameter(s) {unknown}; valid: {valid}")
        for key, value in kwargs.items():
            if key in accepted:
                problem = _param_problem(spec.name, key, value, accepted[key].default)
                if problem:
                    raise ValueError(problem)
        if "audit" in accepted:
            kwargs.setdefault("audit", self.audit)
        if "embedder" in accepted:
            kwargs.setdefault("embedder", self.embedder)
        return cls(name=spec.name, counter=self.counter, **kwargs)

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> RewardStack:
        """A stack from its config mapping; every shape or type problem is a ``ValueError`` naming
        the key and what is valid (never a crash deeper in)."""
        if not isinstance(config, dict) or "components" not in config:
            raise ValueError("a reward stack config needs a 'components' list")
        unknown = set(config) - {"components", "counter", "embedder", "detectors", "tokenizer"}
        if unknown:
            raise ValueError(f"unknown reward stack keys {sorted(map(str, unknown))}; valid: components, counter, "
                             "embedder, detectors, tokenizer")
        if not isinstance(config["components"], list):
            raise ValueError(f"'components' must be a list of components, got {type(config['components']).__name__}")
        for key in ("counter", "embedder", "tokenizer"):
            if config.get(key) is not None and not isinstance(config[key], str):
                raise ValueError(f"'{key}' must be a string, got {config[key]!r:.40}")
        specs, problems = [], []
        for k, c in enumerate(config["components"]):
            if not isinstance(c, dict) or "type" not in c:
                problems.append(f"component #{k + 1} needs at least a 'type'")
                continue
            extra = set(c) - {"name", "type", "weight", "params"}
            if extra:
                problems.append(f"component #{k + 1}: unknown keys {sorted(map(str, extra))}; valid: name, type, "
                                "weight, params")
            name = c.get("name") or c["type"]
            if not isinstance(name, str) or not isinstance(c["type"], str):
                problems.append(f"component #{k + 1}: 'name' and 'type' must be strings")
                continue
            if name in RESERVED_NAMES:
                problems.append(f"component #{k + 1}: the name {name!r} is an output field; choose another "
                                f"(reserved: {', '.join(sorted(RESERVED_NAMES))})")
            params = c.get("params") or {}
            if not isinstance(params, dict):
                problems.append(f"component {name!r}: 'params' must be a mapping of names to values, got "
                                f"{type(params).__name__}")
                params = {}
            specs.append(ComponentSpec(name, c["type"], c.get("weight", 1.0), dict(params)))
        if problems:
            raise ValueError("; ".join(problems))
        return cls(specs, counter=config.get("counter") or DEFAULT_COUNTER, embedder=config.get("embedder"),
                   detectors=check_detectors_config(config.get("detectors")), tokenizer=config.get("tokenizer"))

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> RewardStack:
        from lengthwise.safe_yaml import load_yaml_file

        return cls.from_dict(load_yaml_file(path) or {})

    @classmethod
    def default(cls, think: bool = True, paraphrase: bool = True) -> RewardStack:
        return cls.from_dict(default_stack_config(think=think, paraphrase=paraphrase))

    def config(self) -> dict[str, Any]:
        return {"counter": self.counter, "tokenizer": self.tokenizer_ref, "embedder": self.embedder.model_ref,
                "detectors": {"paraphrase": self.audit.paraphrase, "thresholds": self.audit.thresholds,
                              "paraphrase_similarity": self.audit.paraphrase_similarity,
                              "paraphrase_short_similarity": self.audit.paraphrase_short_similarity,
                              "stuffing": self.audit.stuffing.__dict__},
                "components": [spec.__dict__ for spec in self.specs]}

    # -- TRL ------------------------------------------------------------------------------------

    @property
    def reward_funcs(self) -> list[Component]:
        return list(self.components)

    @property
    def reward_weights(self) -> list[float]:
        return [float(s.weight) for s in self.specs]

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    # -- offline and verl -----------------------------------------------------------------------

    def score(self, prompts: list[Any], completions: list[Any], columns: dict[str, list[Any]] | None = None,
              completion_ids: list[Any] | None = None, evidence: bool = True) -> list[dict[str, Any]]:
        """Every component for every completion, the weighted total (``score``; components that do not
        apply are left out of it), the answer's length, and the detectors' evidence."""
        columns = columns or {}
        per_component = {
            c.__name__: c(prompts, completions, completion_ids=completion_ids, **columns) for c in self.components
        }
        rows = []
        for k, completion in enumerate(completions):
            answer = extract_answer(as_text(completion))
            values = {name: per_component[name][k] for name in self.names}
            total = sum(w * v for w, v in zip(self.reward_weights, values.values(), strict=True) if v is not None)
            row = {**values, "score": total, "words": count_words(answer, self.word_counter), "counter": self.counter,
                   "stack_version": self.version}
            if evidence:
                detections = self.audit(as_text(prompts[k]), answer)
                row["detectors"] = {name: d.as_dict() for name, d in detections.items()}
            rows.append(row)
        return rows

    def compute_score(self, data_source: str | None = None, solution_str: str | None = None, ground_truth: Any = None,
                      extra_info: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        """verl's ``custom_reward_function`` contract for one response. The prompt and length target
        come from ``extra_info`` (``prompt``, ``length``); ``ground_truth`` is the reference answer for
        accuracy-style components (a dict ``ground_truth`` may also carry ``length``)."""
        info = dict(extra_info or {})
        if isinstance(ground_truth, str) and ground_truth.lstrip().startswith("{"):
            try:  # parquet columns often carry a JSON object as the ground truth
                ground_truth = json.loads(ground_truth)
            except json.JSONDecodeError:
                pass
        if isinstance(ground_truth, dict):
            info = {**ground_truth, **info}
            answer = ground_truth.get("answer")
        else:
            answer = ground_truth
        columns = {"length": [info.get("length")], "answer": [answer]}
        if "target_tokens" in info:
            columns["target_tokens"] = [info["target_tokens"]]
        row = self.score([info.get("prompt", "")], [solution_str or ""], columns, evidence=False)[0]
        out = {"score": float(row["score"])}
        for name in self.names:
            out[name] = float("nan") if row[name] is None else float(row[name])
        return out

"""Imports go downward only: a module may import its own layer or a lower one, never a higher one.

The table is the architecture: core (pure functions of text and numbers) → infrastructure (files,
records, models, the backend protocol) → judging → rewards → evaluation → engines (backends,
training, AgentWrite, integrations) → jobs → cli. Every import in the source counts, including the
ones inside functions (they are how a module reaches upward unnoticed).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

LAYERS: list[tuple[str, list[str]]] = [
    ("core", ["lengthwise", "lengthwise.errors", "lengthwise.values", "lengthwise.text", "lengthwise.constraints",
              "lengthwise.buckets", "lengthwise.stats", "lengthwise.losses", "lengthwise.advantages",
              "lengthwise.sft_loss", "lengthwise.token_logprobs", "lengthwise.token_budget", "lengthwise.prompts",
              "lengthwise.tasks",
              "lengthwise.synthetic",
              "lengthwise.rewards.length"]),
    ("infrastructure", ["lengthwise.io", "lengthwise.safe_yaml", "lengthwise.manifest", "lengthwise.logs",
                        "lengthwise.metrics", "lengthwise.models", "lengthwise.records", "lengthwise.resumable",
                        "lengthwise.backends.base"]),
    ("judging", ["lengthwise.judging"]),
    ("rewards", ["lengthwise.rewards"]),
    ("evaluation", ["lengthwise.evaluation"]),
    # The judge factory wires judges to the HTTP backend, so it sits with the backends it builds.
    ("engines", ["lengthwise.backends", "lengthwise.training", "lengthwise.agentwrite", "lengthwise.integrations",
                 "lengthwise.judging.factory"]),
    ("jobs", ["lengthwise.jobs"]),
    ("cli", ["lengthwise.cli"]),
]


def layer_of(module: str, layers=LAYERS) -> int:
    """The layer of ``module``: the one holding its longest matching prefix."""
    best, best_len = None, -1
    for index, (_name, prefixes) in enumerate(layers):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    if best is None:
        raise KeyError(f"{module} is in no layer; add it to the table in tests/test_layers.py")
    return best


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, package: str) -> list[tuple[int, str]]:
    """``(line, module)`` for every import of ``package`` in ``path``, wherever it stands."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == package or node.module.startswith(package + "."):
                # `from lengthwise.rewards import content_rewards` imports a submodule
                names = [f"{node.module}.{a.name}" for a in node.names]
                found += [(node.lineno, n) for n in names if _is_module(n, package)] or [(node.lineno, node.module)]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == package]
    return found


def _is_module(name: str, package: str) -> bool:
    return (SRC / Path(*name.split("."))).with_suffix(".py").exists() or (SRC / Path(*name.split("."))).is_dir()


def upward_imports(root: Path, package: str = "lengthwise", layers=LAYERS) -> list[str]:
    problems = []
    for path in sorted((root / package).rglob("*.py")):
        module = module_name(path, root)
        own = layer_of(module, layers)
        for line, target in imports_of(path, package):
            if layer_of(target, layers) > own:
                problems.append(f"{path.relative_to(root)}:{line}: {module} ({layers[own][0]}) imports {target} "
                                f"({layers[layer_of(target, layers)][0]})")
    return problems


def test_imports_go_downward_only():
    assert upward_imports(SRC) == []


def test_every_module_has_a_layer():
    for path in (SRC / "lengthwise").rglob("*.py"):
        layer_of(module_name(path, SRC))


@pytest.mark.parametrize(("module", "imported"), [
    ("rewards/quality.py", "lengthwise.evaluation.longbench"),  # a reward reaching into evaluation
    ("text.py", "lengthwise.cli"),  # core reaching the command line
    ("judging/rubric.py", "lengthwise.rewards.stack"),  # judging reaching rewards
])
def test_the_check_fails_on_an_upward_import(tmp_path, module, imported):
    """The checker itself, on a fixture package: one deliberate wrong-way import is reported."""
    pkg = tmp_path / "lengthwise"
    for name in ("text.py", "rewards/quality.py", "rewards/stack.py", "judging/rubric.py",
                 "evaluation/longbench.py", "cli/__init__.py"):
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).touch()
    (pkg / module).write_text(f"def later():\n    import {imported}\n")
    problems = upward_imports(tmp_path)
    assert len(problems) == 1 and imported in problems[0], problems

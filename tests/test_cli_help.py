"""Every command's --help ends with two example invocations, and the cli modules hold no computation
beyond parsing and printing (they import library code only inside the commands)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lengthwise.cli import app, main

COMMANDS = sorted(c.name or c.callback.__name__ for c in app.registered_commands)
CLI = Path(__file__).resolve().parents[1] / "src" / "lengthwise" / "cli"


def test_every_command_is_listed():
    assert {"generate", "write", "relabel", "count", "score", "audit", "train", "demo", "sft", "plot", "bias",
            "models", "export-verl", "export-sft", "export-dpo", "eval", "arena", "report"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_ends_with_two_examples(command, capsys):
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    lines = [ln.strip(" │") for ln in text.splitlines()]
    start = next(i for i, ln in enumerate(lines) if ln.strip() == "Examples:")
    examples = [ln.strip() for ln in lines[start + 1:] if ln.strip().startswith("lengthwise ")]
    assert len(examples) >= 2 and all(e.split()[1] == command for e in examples[:2]), examples


def test_cli_modules_define_no_classes_or_loops():
    """Parsing and printing only: a class or a loop over data in cli/ is logic that belongs below."""
    for path in CLI.glob("*.py"):
        if path.name == "options.py":  # the option groups are the one class kind allowed
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            assert not isinstance(node, ast.While), f"{path.name}:{node.lineno}: a while loop in the CLI"
            if isinstance(node, ast.ClassDef) and path.name != "app.py":
                raise AssertionError(f"{path.name}:{node.lineno}: class {node.name} in a command module")


def test_the_cli_bounds_onednn_kernel_cache_unless_the_user_chose(monkeypatch, capsys):
    import os

    monkeypatch.delenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", raising=False)
    assert main(["count", "--help"]) == 0
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "64"
    monkeypatch.setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "512")
    assert main(["count", "--help"]) == 0
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "512"
    capsys.readouterr()

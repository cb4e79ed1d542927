"""The ``lengthwise`` command line: one module per command group, each command parsing its options,
calling one library function and printing the result. ``main`` is the console-script entry point."""

# Imported for their commands, in the order ``--help`` lists them: make text, score it, train, export, measure.
from lengthwise.cli import generation, tasks, scoring, training, export, evaluation  # noqa: F401, I001
from lengthwise.cli.app import app, main

__all__ = ["app", "main"]

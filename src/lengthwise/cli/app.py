"""The Typer application, its consoles and the entry point: user errors become one line, never a
traceback. The commands live in the sibling modules, one per command group."""

from __future__ import annotations

import contextlib
import os
import sys

import click
import typer
from rich.console import Console
from rich.table import Table

from lengthwise.errors import LengthwiseError

__all__ = ["app", "console", "err_console", "main", "print_table", "report_skipped", "fmt"]

app = typer.Typer(
    name="lengthwise",
    help="Control how long language models write: generate, score, train and evaluate for length.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class _Console(Console):
    """A closed pipe (`lengthwise eval … | head`) is the reader saying it has enough, not an error:
    the rest of the output goes nowhere and the command ends normally (rich would exit 1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), (sys.stderr if self.stderr else sys.stdout).fileno())


console = _Console(soft_wrap=True)
err_console = _Console(stderr=True, soft_wrap=True)


def print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title)
    for c in columns:
        table.add_column(c, justify="right" if c not in ("bucket", "name", "model") else "left")
    for r in rows:
        table.add_row(*r)
    console.print(table)


def report_skipped(skipped: list[str]) -> None:
    if skipped:
        err_console.print(f"skipped {len(skipped)} bad rows; first: {skipped[0]}", markup=False, highlight=False,
                          soft_wrap=True)


def say_plain(message: str, to_stderr: bool = False) -> None:
    """A line that may hold brackets or user text: printed as it is (no rich markup)."""
    (err_console if to_stderr else console).print(message, markup=False, highlight=False, soft_wrap=True)


def fmt(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


# typer >= 0.2x parses with its own copy of click; both kinds of usage error are the user's.
_USAGE_ERRORS: tuple[type[Exception], ...] = (click.ClickException,)
try:
    from typer import _click as _typer_click

    _USAGE_ERRORS += (_typer_click.ClickException,)
except (ImportError, AttributeError):
    pass


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    # The libraries' own bars ("Loading weights") would interleave with ours; one line per phase.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # oneDNN keeps up to 1,024 compiled kernels by default, one per new matmul shape; CPU training passes are
    # sorted by length, so nearly every pass has a new width and the cache grew the demo's fine-tuning process by
    # ~0.4 GB in its first 6 steps. 64 bounds it at the same step time (read when oneDNN first runs; a
    # value the user set wins).
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "64")
    if "transformers" in sys.modules:
        sys.modules["transformers"].utils.logging.disable_progress_bar()
    try:
        # Without standalone mode click hands back typer.Exit codes as the return value.
        from lengthwise.io import input_scope

        with input_scope():  # no command writes over a file it read
            code = app(args=argv, standalone_mode=False)
    except (click.exceptions.Exit, typer.Exit) as exc:
        return exc.exit_code
    except _USAGE_ERRORS as exc:  # a misspelled option or a bad value: click's message, exit 2
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, typer.Abort):
        err_console.print("aborted")
        return 130
    except LengthwiseError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("interrupted; rerun the same command to resume")
        return 130
    except BrokenPipeError:  # `lengthwise eval … | head`: the reader has what it wanted; the work is saved
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug of ours: one line, the traceback only on request
        if os.environ.get("LENGTHWISE_DEBUG"):
            raise
        err_console.print(f"internal error: {type(exc).__name__}: {exc} (set LENGTHWISE_DEBUG=1 for the traceback)",
                          markup=False, highlight=False, soft_wrap=True)
        return 1
    return code if isinstance(code, int) else 0

"""Files: JSONL reading with ``file:line`` errors, an append-only resumable writer, atomic replace."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lengthwise.errors import InputError

__all__ = [
    "input_scope",
    "register_input",
    "check_output",
    "row_problem",
    "JsonlRows",
    "read_jsonl",
    "keyed_rows",
    "ResumableJsonl",
    "atomic_write_text",
    "atomic_write_json",
    "repair_truncated_tail",
]


@dataclass
class JsonlRows:
    """Rows read from a JSONL file, with the line number of each and the bad lines skipped."""

    path: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    line_numbers: list[int] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


RowCheck = Callable[[dict[str, Any]], str | None]


# --- inputs and outputs of one command --------------------------------------------------------
# A command (``input_scope``) remembers the files it reads; every writer here refuses to write over
# one of them, so ``-o`` equal to an input (or a link to it) is an error, never a destroyed input.
_inputs: ContextVar[dict[tuple[int, int], Path] | None] = ContextVar("lengthwise_inputs", default=None)


@contextlib.contextmanager
def input_scope() -> Iterator[None]:
    """Within the block, files read by ``read_jsonl`` (or ``register_input``) cannot be written."""
    token = _inputs.set({})
    try:
        yield
    finally:
        _inputs.reset(token)


def register_input(path: str | os.PathLike) -> None:
    seen = _inputs.get()
    if seen is None:
        return
    try:
        st = os.stat(path)
    except OSError:
        return
    seen[(st.st_dev, st.st_ino)] = Path(path)


def check_output(path: str | os.PathLike) -> Path:
    """``path`` if it may be written: not an input of this command, not a directory or a special file
    (device, FIFO, socket). Raises ``InputError`` (exit 2) otherwise; nothing is touched."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise InputError(f"{path}: cannot be written ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: is a directory; name a file to write")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path}: not a regular file (a device, FIFO or socket); name a file to write")
    seen = _inputs.get() or {}
    if (st.st_dev, st.st_ino) in seen:
        raise InputError(f"{path}: is also this command's input {seen[(st.st_dev, st.st_ino)]}; "
                         "write the output to another file")
    return path


def _check_path(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a JSONL file")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file (a device, FIFO or socket); expected a JSONL file")


MAX_DEPTH = 32  # our rows are flat; deeper nesting is a broken or hostile file


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of ``value``, stopping once past ``limit`` (iterative: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def row_problem(row: dict[str, Any], raw: bytes = b"") -> str | None:
    """Checks every JSONL row of every command passes: bounded nesting, valid Unicode text, and the
    one rule for ``length`` (``lengthwise.values``)."""
    from lengthwise.values import length_problem

    if (raw.count(b"[") + raw.count(b"{") > MAX_DEPTH or not raw) and _depth(row, MAX_DEPTH) > MAX_DEPTH:
        return f"nested more than {MAX_DEPTH} levels deep"
    if (b"\\ud" in raw.lower() or not raw) and _has_lone_surrogate(row):
        return "contains a lone surrogate escape (e.g. \\ud800): not valid Unicode text"
    return length_problem(row.get("length"))


def read_jsonl(path: str | os.PathLike, check: RowCheck | None = None, skip_bad: bool = False) -> JsonlRows:
    """Read one JSON object per line.

    A UTF-8 BOM and CRLF line ends are accepted; blank lines are ignored. A line that is not valid
    UTF-8, not JSON, not an object, or that ``check`` rejects (it returns the problem as a string)
    raises ``InputError("file:line: problem")``, or with ``skip_bad`` is recorded in ``skipped``.
    A file with no rows at all raises even with ``skip_bad``: there is nothing to do.
    """
    path = Path(path)
    _check_path(path)
    register_input(path)
    out = JsonlRows(path)
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            problem = None
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                problem = f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
                line = ""
            if problem is None:
                if not line:
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    problem = f"not valid JSON ({exc.msg} at column {exc.colno})"
                except RecursionError:
                    problem = "nested too deeply to read"
                except ValueError as exc:  # e.g. an integer of more than 4,300 digits
                    problem = f"not readable JSON ({str(exc).split(';')[0]})"
                else:
                    if not isinstance(row, dict):
                        problem = f"expected a JSON object, got {type(row).__name__}"
                    else:
                        problem = row_problem(row, raw)
                        if problem is None and check is not None:
                            problem = check(row)
            if problem is not None:
                message = f"{path}:{lineno}: {problem}"
                if not skip_bad:
                    raise InputError(message)
                out.skipped.append(message)
                continue
            out.rows.append(row)
            out.line_numbers.append(lineno)
    if not out.rows:
        detail = f" ({len(out.skipped)} bad lines skipped)" if out.skipped else ""
        raise InputError(f"{path}: no rows to read{detail}")
    return out


def keyed_rows(data: JsonlRows, skip_bad: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """``(id, row)`` pairs with a stable id: ``id``, else Arena-Write's ``idx``, else ``line-N``.

    A duplicate id raises ``InputError`` naming both lines, or with ``skip_bad`` is skipped and
    recorded in ``data.skipped``.
    """
    out: list[tuple[str, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for row, lineno in zip(data.rows, data.line_numbers, strict=True):
        raw_id = row.get("id", row.get("idx"))
        item_id = str(raw_id) if raw_id is not None else f"line-{lineno}"
        if item_id in seen:
            message = f"{data.path}:{lineno}: duplicate id {item_id!r} (first on line {seen[item_id]})"
            if not skip_bad:
                raise InputError(message)
            data.skipped.append(message)
            continue
        seen[item_id] = lineno
        out.append((item_id, row))
    return out


def repair_truncated_tail(path: Path) -> int:
    """Cut a last line that a crash left without its newline; returns the bytes removed.

    Append-only writers end every record with a newline, so bytes after the last one are a
    partial record.
    """
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return 0
        # Walk back to the last newline in chunks.
        pos = size
        chunk = 65536
        cut = 0
        while pos > 0:
            start = max(0, pos - chunk)
            fh.seek(start)
            data = fh.read(pos - start)
            idx = data.rfind(b"\n")
            if idx >= 0:
                cut = start + idx + 1
                break
            pos = start
        fh.truncate(cut)
        return size - cut


class ResumableJsonl:
    """Append-only JSONL output keyed by a stable id: what is on disk is done and is skipped on rerun.

    Each record is written as one line and flushed (and fsynced) before ``append`` returns, so a
    ``kill -9`` loses at most the records in flight. A partial last line is cut on open.

    ``is_done(row)`` tells a finished row from a recorded attempt (e.g. a judge failure kept with
    its raw reply): only finished rows are in ``done`` and skipped on rerun; a later row for the
    same id supersedes an unfinished one (the file stays append-only; the last row of an id wins).
    ``latest`` has the last row of every id, finished or not.
    """

    def __init__(self, path: str | os.PathLike, key: str = "id", fsync: bool = True,
                 is_done: Callable[[dict[str, Any]], bool] | None = None):
        self.path = check_output(path)
        self.key = key
        self.fsync = fsync
        self.is_done = is_done or (lambda row: True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.repaired_bytes = repair_truncated_tail(self.path)
        self.done: dict[str, dict[str, Any]] = {}
        self.latest: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            with open(self.path, encoding="utf-8") as fh:
                for lineno, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise InputError(
                            f"{self.path}:{lineno}: existing output is corrupt ({exc.msg}); "
                            "move it away to start over"
                        ) from None
                    self._record(str(row.get(key)), row)
        self._fh = None

    def _record(self, item_id: str, row: dict[str, Any]) -> None:
        if item_id in self.done:  # a finished row is final; a later duplicate changes nothing
            return
        self.latest[item_id] = row
        if self.is_done(row):
            self.done[item_id] = row

    def __contains__(self, item_id: object) -> bool:
        return str(item_id) in self.done

    def append(self, row: dict[str, Any]) -> None:
        item_id = str(row[self.key])
        if item_id in self.done:
            return
        if self._fh is None:
            self._fh = open(self.path, "a", encoding="utf-8")
        self._fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._fh.flush()
        if self.fsync:
            os.fsync(self._fh.fileno())
        self._record(item_id, row)

    @property
    def pending(self) -> dict[str, dict[str, Any]]:
        """Rows on disk that are recorded but not finished (retried on the next run)."""
        return {k: v for k, v in self.latest.items() if k not in self.done}

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> ResumableJsonl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write to a temporary file beside ``path`` and rename it over ``path`` (never a half file)."""
    path = check_output(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600; give the file the mode any other file we write gets (0666 & ~umask).
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict[str, Any]]) -> None:
    """Write a whole JSONL file atomically."""
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))

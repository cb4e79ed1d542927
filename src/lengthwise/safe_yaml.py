"""YAML for configs and reward stacks, with bounded work on any input.

``yaml.safe_load`` builds aliases as shared references, so a few hundred bytes of nested aliases
("a billion laughs") load quickly but expand to billions of nodes the first time anything walks
the result (hashing a stack version did, and died after 3 GB). We refuse documents with more
than ``max_aliases`` aliases, or whose fully expanded tree would exceed ``max_nodes`` nodes
(counted without expanding, by memoising shared nodes), and give YAML syntax errors a line number.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from lengthwise.errors import ConfigError

__all__ = ["load_yaml_text", "load_yaml_file", "MAX_ALIASES", "MAX_NODES"]

MAX_ALIASES = 64
MAX_NODES = 100_000
MAX_BYTES = 4 * 1024 * 1024


class _CountingLoader(yaml.SafeLoader):
    """A SafeLoader that stops after ``MAX_ALIASES`` alias references."""

    aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise ConfigError(f"line {mark.line + 1}: more than {MAX_ALIASES} YAML aliases; "
                                  "write the values out instead of referencing them")
        return super().compose_node(parent, index)


def _expanded_size(value: Any, memo: dict[int, int], depth: int = 0) -> int:
    """Nodes in ``value`` with every shared reference counted each time it is reached."""
    key = id(value)
    if key in memo:
        return memo[key]
    if depth > 200:
        raise ConfigError("YAML nested more than 200 levels deep")
    if isinstance(value, dict):
        size = 1 + sum(_expanded_size(k, memo, depth + 1) + _expanded_size(v, memo, depth + 1)
                       for k, v in value.items())
    elif isinstance(value, list | tuple):
        size = 1 + sum(_expanded_size(v, memo, depth + 1) for v in value)
    else:
        size = 1
    if isinstance(value, dict | list | tuple):
        memo[key] = size
    return size


def load_yaml_text(text: str, source: str = "<yaml>") -> Any:
    """Parse ``text``; every problem is a ``ConfigError`` naming ``source`` (and the line)."""
    try:
        loader = _CountingLoader(text)
        try:
            value = loader.get_single_data()
        finally:
            loader.dispose()
    except ConfigError as exc:
        raise ConfigError(f"{source}:{exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}{where}: not valid YAML ({exc.problem or exc.context})") from None
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError) as exc:
        raise ConfigError(f"{source}: not valid YAML ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                          ) from None
    if _expanded_size(value, {}) > MAX_NODES:
        raise ConfigError(f"{source}: YAML expands to more than {MAX_NODES:,} nodes through its aliases")
    return value


def load_yaml_file(path: str | os.PathLike) -> Any:
    """``load_yaml_text`` of a file: missing, special, oversized or non-UTF-8 files are ``ConfigError``."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{p}: file not found")
    if not p.is_file():
        raise ConfigError(f"{p}: not a regular file")
    from lengthwise.io import register_input

    register_input(p)
    if p.stat().st_size > MAX_BYTES:
        raise ConfigError(f"{p}: larger than {MAX_BYTES // (1024 * 1024)} MB; not a config file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
    return load_yaml_text(text, str(p))

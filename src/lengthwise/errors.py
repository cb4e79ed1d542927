"""Errors a user can fix. The CLI prints them as one line and exits with code 2; no traceback."""

from __future__ import annotations

__all__ = ["LengthwiseError", "InputError", "ConfigError", "BackendError"]


class LengthwiseError(Exception):
    """Base class: the message says what is wrong and what to do instead."""

    exit_code = 2


class InputError(LengthwiseError):
    """A file or row the user supplied is unusable (the message names ``file:line``)."""


class ConfigError(LengthwiseError):
    """A configuration value or combination is invalid."""


class BackendError(LengthwiseError):
    """A generation backend could not be built or reached at all."""

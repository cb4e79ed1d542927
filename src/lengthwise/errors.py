"""Errors a user can fix. The CLI prints them as one line and exits with code 2; no traceback."""

from __future__ import annotations

__all__ = ["LengthwiseError", "InputError", "ConfigError", "BackendError", "RemoteError"]


class LengthwiseError(Exception):
    """Base class: the message says what is wrong and what to do instead."""

    exit_code = 2


class InputError(LengthwiseError):
    """A file or row the user supplied is unusable (the message names ``file:line``)."""


class ConfigError(LengthwiseError):
    """A configuration value or combination is invalid."""


class BackendError(LengthwiseError):
    """A generation backend could not be built or reached at all."""


class RemoteError(LengthwiseError):
    """A remote service (a judge or generation server) failed for everything asked of it; what
    was done is kept, and a rerun of the same command retries the rest. Exit code 1."""

    exit_code = 1

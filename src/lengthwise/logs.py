"""Library chatter to a file: warnings and transformers/TRL logging go to the run folder's log
instead of the terminal, which keeps one progress line per phase."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

__all__ = ["library_output_to"]

_LIBRARY_LOGGERS = ("transformers", "trl", "peft", "accelerate", "datasets", "torch", "py.warnings")


@contextlib.contextmanager
def library_output_to(log_path: str | os.PathLike) -> Iterator[Path]:
    """Within the block, Python warnings and the libraries' log records are appended to
    ``log_path`` (not printed), and transformers' own progress bars (weight loading) are off."""
    path = Path(log_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    saved = []
    for name in _LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate, logger.level))
        logger.handlers = [handler]
        logger.propagate = False
        if logger.level == logging.NOTSET or logger.level > logging.WARNING:
            logger.setLevel(logging.WARNING)
    try:
        from transformers.utils import logging as hf_logging

        bars_were_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
    except ImportError:  # transformers is optional for callers that only score
        hf_logging, bars_were_on = None, False
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        logging.captureWarnings(True)
        try:
            yield path
        finally:
            logging.captureWarnings(False)
            for logger, handlers, propagate, level in saved:
                logger.handlers, logger.propagate = handlers, propagate
                logger.setLevel(level)
            handler.close()
            if hf_logging is not None and bars_were_on:
                hf_logging.enable_progress_bar()

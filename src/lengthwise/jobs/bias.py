"""``lengthwise bias``: the length bias of every loss preset, measured with autograd, saved and
plotted (the measurement itself: ``evaluation.bias``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lengthwise.errors import ConfigError

__all__ = ["BiasReport", "run_bias"]


@dataclass
class BiasReport:
    rows: list[dict[str, Any]]
    trl_parity: list[dict[str, Any]] | None
    json_path: Path
    plot_path: Path


def run_bias(out_dir: str | os.PathLike, lengths: list[int], trl_check: bool = False,
             model: str | None = None) -> BiasReport:
    """Gradient weight per token and per sequence for every preset at ``lengths``; with
    ``trl_check``, our reference losses against TRL's own on ``model``."""
    from lengthwise.evaluation.bias import gradient_weights, plot_bias
    from lengthwise.io import atomic_write_json
    from lengthwise.losses import PRESETS

    if not lengths or min(lengths) < 1:
        raise ConfigError(f"--lengths must be positive integers, got {lengths!r}")
    out = Path(out_dir)
    rows = [r for name in PRESETS for r in gradient_weights(name, lengths)]
    payload: dict[str, Any] = {"lengths": lengths, "rows": rows}
    parity = None
    if trl_check:
        from lengthwise.models import resolve_model
        from lengthwise.training.trl_parity import trl_loss_parity

        parity = payload["trl_parity"] = trl_loss_parity(resolve_model(model))
    atomic_write_json(out / "bias.json", payload)
    return BiasReport(rows, parity, out / "bias.json", plot_bias(rows, out / "bias.png"))

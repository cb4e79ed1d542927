"""Fold a LoRA adapter into its base weights, so a later stage (RL) trains a fresh adapter on top."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

__all__ = ["MERGED_MARKER", "merge_adapter"]

# Written last into a merged folder: a folder without it is an interrupted merge, redone on rerun.
MERGED_MARKER = ".complete"


def merge_adapter(adapter: Path, out: Path) -> Path:
    """The adapter's base weights with the adapter folded in, written atomically to ``out`` (a rerun of an
    interrupted merge starts over; a finished one is kept)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from lengthwise.models import load_tokenizer

    if (out / MERGED_MARKER).exists():
        return out
    base = json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"]
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), str(adapter)).merge_and_unload()
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(str(partial))
    load_tokenizer(str(adapter)).save_pretrained(str(partial))
    (partial / MERGED_MARKER).write_text("merged\n")
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return out

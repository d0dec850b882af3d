"""What a study folder holds beside ``study.db``: ``best.toml`` and ``trials.csv``, both written atomically.

``best.toml`` is top-level ``name = value`` lines, read by ``embrec train --config`` (and
:func:`~embrec.models.settings.parse_settings`) like any settings file. ``trials.csv`` has one
row per finished trial: ``number``, ``state``, one column per tuned setting, ``value`` and
``seconds``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from embrec.atomic import write_text, write_with

__all__ = ["BEST_FILE", "TRIALS_FILE", "toml_value", "write_best", "write_trials"]

BEST_FILE = "best.toml"
TRIALS_FILE = "trials.csv"


def toml_value(value: Any) -> str:
    """``value`` written as TOML (``None`` as ``"none"``, which the settings parser reads as None)."""
    if value is None:
        return '"none"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        text = repr(value)  # the shortest text that reads back as the same float
        return text if any(c in text for c in ".en") else text + ".0"
    return json.dumps(str(value))  # a TOML basic string is a JSON string for the text a setting holds


def write_best(path: Path, settings: Mapping[str, Any], header: Sequence[str]) -> Path:
    """Write ``settings`` to ``path`` as a settings file, after ``header`` lines as comments."""
    lines = [f"# {line}" for line in header] + [f"{name} = {toml_value(value)}" for name, value in settings.items()]
    return write_text(path, "\n".join(lines) + "\n")


def write_trials(path: Path, table: pd.DataFrame) -> Path:
    """Write the trial table to ``path`` as CSV."""
    return write_with(path, lambda tmp: table.to_csv(tmp, index=False))

"""The data and split options a run folder records, read back the same way everywhere.

``embrec train`` stores the options it loaded and split the data with in the run's
``embrec.json`` (``extra.data``, ``extra.split``); ``embrec evaluate`` and the report re-create
the exact split from them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from embrec.data.build import DuplicatePolicy
from embrec.data.splits import SplitMethod
from embrec.errors import ConfigError, ModelFileError

__all__ = ["DATA_OPTIONS", "data_options", "split_options", "stored_options"]

#: The data options a run may record (the keyword arguments of the CLI's data loading).
DATA_OPTIONS = ("data", "dataset", "data_dir", "user_col", "item_col", "rating_col", "timestamp_col", "sep",
                "items", "rating_scale", "duplicates")


def _resolve_path(value: Any, run: Path) -> Path:
    path = Path(str(value)).expanduser()
    if not path.is_absolute() and not path.exists() and (run / path).exists():
        return run / path  # a relative path recorded where training ran, next to the run
    return path


def stored_options(info: dict[str, Any], key: str, run: Path) -> dict[str, Any] | None:
    """``extra[key]`` of a run's ``embrec.json``, or ``None`` when the run did not record it."""
    extra = info.get("extra") or {}
    if not isinstance(extra, dict):
        return None
    value = extra.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ModelFileError(
            f"{run}/embrec.json has extra.{key} = {value!r}, which is not a set of options; "
            f"pass the {key} options on the command line."
        )
    return value


def data_options(stored: dict[str, Any], run: Path) -> dict[str, Any]:
    """Recorded data options as keyword arguments of the CLI's data loading (paths made usable)."""
    allowed = DATA_OPTIONS
    kw: dict[str, Any] = {"data": None, "dataset": None, "data_dir": None}
    kw.update({k: v for k, v in stored.items() if k in allowed})
    for key in ("data", "data_dir", "items"):
        if kw.get(key) is not None:
            kw[key] = _resolve_path(kw[key], run)
    if kw.get("rating_scale") is not None:
        lo, hi = kw["rating_scale"]
        kw["rating_scale"] = (float(lo), float(hi))
    if kw.get("duplicates") is not None:
        kw["duplicates"] = DuplicatePolicy(kw["duplicates"])
    return kw


def split_options(stored: dict[str, Any]) -> dict[str, Any]:
    """Recorded split options as keyword arguments of ``make_split`` (default: random 90/10, seed 42)."""
    try:
        method = SplitMethod(stored.get("split", stored.get("method", SplitMethod.random.value)))
    except ValueError:
        raise ConfigError(f"the stored split method {stored.get('split')!r} is unknown; pass --split.") from None
    cutoff = stored.get("cutoff")
    return {
        "split": method,
        "test_fraction": stored.get("test_fraction"),
        "test_count": stored.get("test_count"),
        "cutoff": None if cutoff is None else str(cutoff),
        "seed": int(stored.get("seed", 42)),
        "drop_unseen": bool(stored.get("drop_unseen", False)),
    }

"""A split on disk: ``train.csv`` and ``test.csv`` with the dataset's own ids, and ``split.json``.

:func:`write_split` writes the folder whole or not at all (through :func:`embrec.atomic.folder`);
:func:`load_split` reads it back into a :class:`~embrec.data.splits.Split` whose train and test
share one vocabulary, so a model trained on one folder can be scored on the same folder later.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from embrec.atomic import folder as atomic_folder
from embrec.atomic import recover
from embrec.data.build import DuplicatePolicy, build_interactions
from embrec.data.files import load_ratings_file
from embrec.data.interactions import Interactions
from embrec.data.quoting import clipped, quoted
from embrec.data.splits import Split, SplitMethod
from embrec.errors import DataError, EmbrecError

__all__ = ["SPLIT_FILES", "load_split", "load_split_data", "source_info", "write_split"]

SPLIT_FILES = ("train.csv", "test.csv", "split.json")

_REWRITE = "write the folder again with write_split"
# split.json keys read back, and the JSON types they may have
_REQUIRED: dict[str, tuple[type, ...]] = {"seed": (int,), "drop_unseen": (bool,)}
_OPTIONAL: dict[str, tuple[type, ...]] = {
    "test_fraction": (float, int, type(None)),
    "test_count": (int, type(None)),
    "cutoff": (int, type(None)),
    "dropped_rows": (int,),
    "dropped_users": (int,),
    "dropped_items": (int,),
}


def _listing(path: Path) -> str:
    names = sorted(p.name for p in path.iterdir())
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def source_info(interactions: Interactions) -> dict[str, Any]:
    """What ``split.json`` records of the data a split was drawn from: its name, rows and fingerprint."""
    return {
        "source": interactions.name,
        "source_rows": interactions.n_ratings,
        "source_fingerprint": interactions.fingerprint(),
    }


def write_split(split: Split, out: str | Path, *, force: bool = False, info: dict[str, Any] | None = None) -> Path:
    """Write ``train.csv``, ``test.csv`` and ``split.json`` into the folder ``out``, all or nothing.

    Args:
        split: the split to write; rows carry the dataset's own user and item ids.
        out: the folder to create (or fill, when it exists and is empty).
        force: replace an existing non-empty ``out`` (only once the new folder is complete).
        info: extra keys for ``split.json``, such as the source's name and fingerprint.

    Returns:
        The folder.

    Raises:
        EmbrecError: ``out`` is a file, is not empty and ``force`` is false, or cannot be written
            (nothing is left behind, and an existing ``out`` stays as it was).
    """
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise EmbrecError(f"out={str(out)!r} exists and is not a folder; give a folder path.")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise EmbrecError(
            f"out={str(out)!r} is not empty (it holds {_listing(out)}); choose a new folder or pass force=True "
            "to replace it."
        )
    scale = split.train.rating_scale
    meta = {**(info or {}), **split.summary(), "rating_scale": None if scale is None else list(scale)}
    with atomic_folder(out, replace=force) as staging:
        split.train.to_frame().to_csv(staging / "train.csv", index=False)
        split.test.to_frame().to_csv(staging / "test.csv", index=False)
        (staging / "split.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out


def load_split(folder: str | Path, *, item_metadata: pd.DataFrame | None = None) -> Split:
    """The split in a folder written by :func:`write_split`.

    Train and test share one vocabulary: the user and item ids of both files, typed as the files
    hold them (numbers where every id of a column is a whole number, else text). ``train_rows``
    and ``test_rows`` number the rows of ``train.csv`` and then ``test.csv``, since the rows'
    positions in the original data are not stored; neither is item metadata: pass
    ``item_metadata`` (indexed by item id, as :func:`~embrec.data.files.read_item_metadata`
    reads it) for titles and genres.

    Raises:
        DataError: the folder or one of its files is missing, ``split.json`` is not a split's
            description, a CSV file holds bad rows (named with their line), or the files do not
            agree with each other or with ``split.json``.
    """
    return load_split_data(folder, item_metadata=item_metadata)[1]


def load_split_data(folder: str | Path, *, item_metadata: pd.DataFrame | None = None) -> tuple[Interactions, Split]:
    """:func:`load_split`, and the data it splits: the rows of ``train.csv``, then of ``test.csv``."""
    folder = Path(folder).expanduser()
    recover(folder)  # a split replaced by a writer that was killed mid-way comes back whole
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise DataError(f"split folder {str(folder)!r} {what}; pass a folder written by write_split.")
    missing = [name for name in SPLIT_FILES if not (folder / name).is_file()]
    if missing:
        holds = _listing(folder) or "nothing"
        raise DataError(
            f"{folder}: {' and '.join(missing)} missing (it holds {holds}); a split folder holds "
            f"{', '.join(SPLIT_FILES)}: {_REWRITE}."
        )
    meta = _read_meta(folder / "split.json")
    scale = _rating_scale(meta, folder / "split.json")
    train, test = (
        load_ratings_file(folder / name, rating_scale=scale, duplicates=DuplicatePolicy.error)
        for name in ("train.csv", "test.csv")
    )
    _check_parts_agree(folder, meta, train, test)
    both = _one_vocabulary(
        folder, train, test, scale, name=str(meta.get("source") or folder.name), item_metadata=item_metadata
    )
    n_train = train.n_ratings
    rows = np.arange(both.n_ratings, dtype=np.int64)
    return both, Split(
        train=both.take(rows[:n_train]),
        test=both.take(rows[n_train:]),
        method=SplitMethod(meta["method"]),
        test_fraction=None if meta.get("test_fraction") is None else float(meta["test_fraction"]),
        test_count=meta.get("test_count"),
        cutoff=meta.get("cutoff"),
        seed=meta["seed"],
        drop_unseen=meta["drop_unseen"],
        train_rows=rows[:n_train],
        test_rows=rows[n_train:],
        dropped_rows=meta.get("dropped_rows", 0),
        dropped_users=meta.get("dropped_users", 0),
        dropped_items=meta.get("dropped_items", 0),
    )


def _read_meta(path: Path) -> dict[str, Any]:
    """``split.json`` as a dict whose split keys have the right types."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); {_REWRITE}.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read ({clipped(str(exc))}); {_REWRITE}.") from None
    if not isinstance(meta, dict):
        raise DataError(f"{path}: holds {type(meta).__name__}, not a JSON object describing a split; {_REWRITE}.")
    _check_fields(path, meta)
    return meta


def _check_fields(path: Path, meta: dict[str, Any]) -> None:
    """A known method, every required key, and every key of its type."""
    allowed = ", ".join(m.value for m in SplitMethod)
    if meta.get("method") not in {m.value for m in SplitMethod}:
        raise DataError(f"{path}: method {quoted(meta.get('method'))} is not a split method ({allowed}); {_REWRITE}.")
    for key in _REQUIRED:
        if key not in meta:
            raise DataError(f"{path}: has no {key!r}; {_REWRITE}.")
    for key, kinds in {**_REQUIRED, **_OPTIONAL}.items():
        if key in meta:
            _check_type(path, key, meta[key], kinds)


def _check_type(path: Path, key: str, value: Any, kinds: tuple[type, ...]) -> None:
    # JSON true/false load as bool, which Python counts as an int: only bool fields take them
    if isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool)):
        return
    wanted = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
    raise DataError(f"{path}: {key} is {quoted(value)}, not {wanted}; {_REWRITE}.")


def _rating_scale(meta: dict[str, Any], path: Path) -> tuple[float, float] | None:
    scale = meta.get("rating_scale")
    if scale is None:
        return None
    if (
        not isinstance(scale, list)
        or len(scale) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in scale)
    ):
        raise DataError(f"{path}: rating_scale is {quoted(scale)}, not [lowest, highest]; {_REWRITE}.")
    return float(scale[0]), float(scale[1])


def _check_parts_agree(folder: Path, meta: dict[str, Any], train: Interactions, test: Interactions) -> None:
    for label, present in (
        ("ratings", lambda d: d.ratings is not None),
        ("timestamps", lambda d: d.timestamps is not None),
    ):
        if present(train) != present(test):
            has, lacks = ("train.csv", "test.csv") if present(train) else ("test.csv", "train.csv")
            raise DataError(f"{folder}: {has} has {label} but {lacks} has none; {_REWRITE}.")
    for part, data in (("train", train), ("test", test)):
        expected = meta.get(f"{part}_rows")
        if isinstance(expected, int) and expected != data.n_ratings:
            raise DataError(
                f"{folder}: split.json records {expected:,} {part} rows but {part}.csv has {data.n_ratings:,}; "
                f"the folder was changed after it was written: {_REWRITE}."
            )


def _same_kind(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ids of one kind in both files: text in both when either file has text ids."""
    if (a.dtype.kind in "iu") == (b.dtype.kind in "iu"):
        return a, b
    return a.astype(str).astype(object), b.astype(str).astype(object)


def _one_vocabulary(
    folder: Path,
    train: Interactions,
    test: Interactions,
    scale: tuple[float, float] | None,
    *,
    name: str,
    item_metadata: pd.DataFrame | None,
) -> Interactions:
    """Train rows then test rows, indexed by the ids of both files."""
    users = _same_kind(train.user_ids[train.users], test.user_ids[test.users])
    items = _same_kind(train.item_ids[train.items], test.item_ids[test.items])
    ratings = None if train.ratings is None or test.ratings is None else np.concatenate([train.ratings, test.ratings])
    timestamps = None
    if train.timestamps is not None and test.timestamps is not None:
        timestamps = np.concatenate([train.timestamps, test.timestamps])
    try:
        return build_interactions(
            np.concatenate(users),
            np.concatenate(items),
            ratings,
            timestamps,
            source=f"{folder} (train.csv, then test.csv)",
            rating_scale=scale,
            duplicates=DuplicatePolicy.error,
            item_metadata=item_metadata,
            name=name,
        )
    except DataError as exc:
        if "duplicate" not in str(exc):
            raise
        raise DataError(
            f"{folder}: some (user, item) pairs are in both train.csv and test.csv, so the two are not a split of "
            f"one data set; {_REWRITE}."
        ) from None

"""Scoring saved or external recommendation lists the way :func:`~embrec.evaluation.runner.evaluate` scores models.

A recommendation table has one row per recommended item: ``user``, ``item`` (the dataset's own
ids) and ``rank`` (1 for the first item), optionally ``score``, and optionally ``model`` holding
several lists that become several compared models. ``embrec evaluate --save-recs`` and
:meth:`~embrec.evaluation.results.EvaluationResult.write_recommendations` write such tables;
:func:`read_recommendations` reads one from CSV or Parquet.

:func:`evaluate_lists` scores them against the same users (test users with a relevant test
item), relevance, popularity and intervals as ``evaluate``: fed the lists of a model's
evaluation, it gives exactly that evaluation's per-user values for every metric that does not
need item vectors. Metrics that need item vectors (embedding diversity, the exercise's
diversity) are NaN, and so are RMSE and MAE, which need a model's predictions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from embrec.data.splits import Split
from embrec.errors import ConfigError, DataError
from embrec.evaluation.context import EvaluationContext
from embrec.evaluation.results import EvaluationResult, check_labels
from embrec.evaluation.stats import DEFAULT_LEVEL, DEFAULT_RESAMPLES, check_bootstrap

__all__ = ["evaluate_lists", "read_recommendations"]

# Other names of the columns, as MovieLens files and other libraries spell them.
_ALIASES = {
    "user": ("userId", "user_id", "userid"),
    "item": ("movieId", "item_id", "itemId", "movie_id", "movieid", "itemid"),
}
_COMPRESSED = (".gz", ".bz2", ".xz", ".zip", ".zst")
_USAGE = "one row per recommended item with columns user, item and rank (optional score and model)"


# --------------------------------------------------------------------------- reading
def read_recommendations(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a recommendation table from CSV (``.csv``, ``.tsv``, optionally compressed) or Parquet.

    The frame is returned as stored; :func:`evaluate_lists` checks its columns.

    Raises:
        DataError: no such file, a format other than CSV or Parquet, or a file that cannot be read.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(
            f"no recommendation file at {str(file)!r}; pass the path of a CSV or Parquet file with {_USAGE}."
        )
    suffixes = [s.lower() for s in file.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    try:
        if kind in (".parquet", ".pq"):
            return pd.read_parquet(file)
        if kind == ".csv":
            return pd.read_csv(file)
        if kind == ".tsv":
            return pd.read_csv(file, sep="\t")
    except (OSError, ValueError, ImportError) as exc:  # pandas' parser errors are ValueErrors
        raise DataError(f"cannot read the recommendation file {str(file)!r}: {exc}") from None
    raise DataError(
        f"recommendation file {str(file)!r} is neither CSV (.csv, .tsv) nor Parquet (.parquet, .pq); "
        "save the lists in one of those formats."
    )


# --------------------------------------------------------------------------- checks
def _standard_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with the aliases renamed and the columns checked (the caller's frame is left alone)."""
    out = frame.rename(columns=_alias_renames(frame.columns))
    missing = [c for c in ("user", "item", "rank") if c not in out.columns]
    if missing:
        shown = ", ".join(map(str, out.columns)) or "none"
        raise DataError(f"recs has no {missing[0]!r} column (its columns: {shown}); give {_USAGE}.")
    if len(out) == 0:
        raise DataError(f"recs has no rows; give {_USAGE}.")
    for column in ("rank", "score"):
        if column in out.columns:
            out[column] = _numbers(out[column], allow_empty=column == "score")
    if "model" in out.columns and out["model"].isna().any():
        raise DataError(
            f"recs has an empty model value (row {_plain(out.index[out['model'].isna()][0])!r}); name the list of every row."
        )
    return out


def _alias_renames(columns: pd.Index) -> dict[str, str]:
    """``{alias: name}`` for each standard column that is missing but spelled as one of its aliases."""
    renames: dict[str, str] = {}
    for name, aliases in _ALIASES.items():
        found = [a for a in aliases if a in columns]
        if name not in columns and found:
            renames[found[0]] = name
    return renames


def _numbers(column: pd.Series, *, allow_empty: bool) -> pd.Series:
    """``column`` as float64, or a :class:`DataError` naming its first value that is not a (finite) number.

    With ``allow_empty`` (scores) a missing value is allowed and stays NaN.
    """
    values = pd.to_numeric(column, errors="coerce")
    number = values.to_numpy(np.float64)
    bad = (np.isnan(number) & column.notna().to_numpy()) if allow_empty else ~np.isfinite(number)
    if bad.any():
        first = _plain(column[bad].iloc[0])
        rule = "number." if allow_empty else "finite number (1 for the first item of a list)."
        raise DataError(
            f"recs has {column.name} {first!r} (row {_plain(column.index[bad][0])!r}); every {column.name} must be a {rule}"
        )
    return values.astype(np.float64)


def _positions(vocabulary: np.ndarray, ids: pd.Series) -> NDArray[np.int64]:
    """Index of each id in ``vocabulary`` (-1 where absent); ids read as text match numeric ids and back."""
    index = pd.Index(vocabulary)
    values = ids.to_numpy()
    pos = index.get_indexer(values)
    missing = pos < 0
    if missing.any():
        rest = values[missing]
        alt: np.ndarray | None = None
        if index.dtype.kind in "iuf" and rest.dtype.kind not in "iufb":
            alt = pd.to_numeric(pd.Series(rest), errors="coerce").to_numpy()
        elif index.dtype.kind not in "iufb" and rest.dtype.kind in "iu":
            alt = rest.astype(str)
        if alt is not None:
            pos[missing] = index.get_indexer(alt)
    return pos.astype(np.int64)


def _plain(value: object) -> object:
    """A numpy scalar as the Python value it holds, so messages show ``9999``, not ``np.int64(9999)``."""
    return value.item() if isinstance(value, np.generic) else value


def _unknown(kind: str, ids: pd.Series, pos: NDArray[np.int64], known: int) -> DataError:
    bad = ids[pos < 0]
    return DataError(
        f"recs names {bad.nunique():,} {kind} id(s) not among the split's {known:,} {kind}s, such as "
        f"{_plain(bad.iloc[0])!r}: the lists were made for other data (or the ids were changed). Score lists on "
        f"the data and split they were made from, with the data's own {kind} ids, or drop those rows."
    )


def _check_unique(
    frame: pd.DataFrame, codes: NDArray[np.int64], labels: list[str], users: NDArray[np.int64], items: NDArray[np.int64]
) -> None:
    """One rank per item and one item per rank in every list, or a :class:`DataError`."""
    many = len(labels) > 1
    for column, key in (("rank", frame["rank"].to_numpy()), ("item", items)):
        dup = pd.DataFrame({"list": codes, "user": users, "key": key}).duplicated(keep=False).to_numpy()
        if dup.any():
            row = int(np.flatnonzero(dup)[0])
            where = f" in list {labels[codes[row]]!r}" if many else ""
            value = _plain(frame[column].iloc[row])
            what = f"gives rank {value:g} to two items" if column == "rank" else f"holds item {value!r} twice"
            raise DataError(
                f"recs {what} for user {_plain(frame['user'].iloc[row])!r}{where}; a list needs distinct ranks "
                f"and distinct items (drop or fix the duplicated rows, such as row {_plain(frame.index[row])!r})."
            )


# --------------------------------------------------------------------------- scoring
def _arrays(
    rows: NDArray[np.int64],
    items: NDArray[np.int64],
    rank: NDArray[np.float64],
    score: NDArray[np.float64],
    n_users: int,
    k: int,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """``(n_users, k)`` lists and scores from rows of (evaluated user row, item, rank, score), cut at ``k`` by rank."""
    order = np.lexsort((rank, rows))
    rows, items, score = rows[order], items[order], score[order]
    starts = np.r_[0, np.flatnonzero(np.diff(rows)) + 1]
    position = np.arange(rows.size) - np.repeat(starts, np.diff(np.r_[starts, rows.size]))
    keep = position < k
    recs = np.full((n_users, k), -1, dtype=np.int64)
    scores = np.full((n_users, k), -np.inf)
    recs[rows[keep], position[keep]] = items[keep]
    scores[rows[keep], position[keep]] = score[keep]
    return recs, scores


def evaluate_lists(
    recs: pd.DataFrame | str | os.PathLike[str],
    split: Split,
    *,
    k: int = 10,
    threshold: float | None = 4.0,
    names: Sequence[str] | None = None,
    level: float = DEFAULT_LEVEL,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> EvaluationResult:
    """Score saved or external recommendation lists on ``split.test``, as :func:`evaluate` scores models.

    The evaluated users are ``evaluate``'s (test users with at least one relevant test item);
    rows of other users of the data are left out, and an evaluated user without rows gets an
    empty list. Each user's rows are ordered by ``rank`` and cut at ``k`` (so ranks need not be
    contiguous). Items are scored as listed: a list may hold the user's training items, which
    then count as misses. Metrics needing item vectors, and RMSE/MAE, are NaN.

    Args:
        recs: a frame (or the path of a CSV or Parquet file, see :func:`read_recommendations`)
            with columns ``user``, ``item``, ``rank``, optionally ``score`` and ``model`` (one list
            per value, compared like models). ``userId``/``user_id`` and ``movieId``/``item_id``
            are read as ``user`` and ``item``.
        split: the split the lists were made for.
        k: list length.
        threshold: lowest relevant test rating; ``None`` (or implicit data) makes every test
            item relevant.
        names: labels of the lists in reports (default: the ``model`` values, or ``"lists"``,
            or the file's name).
        level: confidence level of the intervals.
        n_resamples: bootstrap resamples.
        seed: bootstrap seed (same seed, same intervals).

    Returns:
        An :class:`~embrec.evaluation.results.EvaluationResult` with one model per list.

    Raises:
        DataError: a column is missing, a rank is not a number, a user or item id is not in the
            split's data, a list repeats a rank or an item, or no test user has a relevant item.
        ConfigError: a bad ``k``, ``threshold``, ``names`` or bootstrap setting.
    """
    check_bootstrap(level, n_resamples, seed)
    frame, default = _frame(recs)
    ctx = EvaluationContext.build(split, k=k, threshold=threshold)
    frame = _standard_columns(frame)
    users, items = _indexes(frame, split)
    codes, labels = _list_codes(frame, default)
    _check_unique(frame, codes, labels, users, items)
    if names is not None:
        labels = check_labels(names, len(labels), "list")
    rows = pd.Index(ctx.users).get_indexer(users).astype(np.int64)  # -1: a user who is not evaluated
    rank = frame["rank"].to_numpy(np.float64)
    score = frame["score"].to_numpy(np.float64) if "score" in frame.columns else np.full(len(frame), np.nan)
    scored = []
    for code, label in enumerate(labels):
        chosen = (codes == code) & (rows >= 0)
        lists, scores = _arrays(rows[chosen], items[chosen], rank[chosen], score[chosen], len(ctx.users), ctx.k)
        scored.append((label, "lists", ctx.scoring(lists), scores))
    return EvaluationResult.from_context(ctx, scored, level=level, n_resamples=n_resamples, seed=seed)


def _frame(recs: object) -> tuple[pd.DataFrame, str]:
    """The recommendation frame and the default label of its lists (the file's name, or ``"lists"``)."""
    if isinstance(recs, (str, os.PathLike)):
        return read_recommendations(recs), Path(recs).name.split(".")[0] or "lists"
    if isinstance(recs, pd.DataFrame):
        return recs, "lists"
    raise ConfigError(
        f"recs must be a DataFrame or the path of a CSV or Parquet file with {_USAGE}, got {type(recs).__name__}."
    )


def _indexes(frame: pd.DataFrame, split: Split) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The split's user and item index of every row, or a :class:`DataError` naming an unknown id."""
    train = split.train
    users = _positions(train.user_ids, frame["user"])
    if (users < 0).any():
        raise _unknown("user", frame["user"], users, train.n_users)
    items = _positions(train.item_ids, frame["item"])
    if (items < 0).any():
        raise _unknown("item", frame["item"], items, train.n_items)
    return users, items


def _list_codes(frame: pd.DataFrame, default: str) -> tuple[NDArray[np.int64], list[str]]:
    """Which list each row belongs to (an index into the labels), and the labels of the lists."""
    if "model" not in frame.columns:
        return np.zeros(len(frame), dtype=np.int64), [default]
    raw_codes, uniques = pd.factorize(frame["model"], sort=False)
    return np.asarray(raw_codes, dtype=np.int64), [str(u) for u in uniques]

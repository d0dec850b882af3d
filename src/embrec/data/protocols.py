"""Reference evaluation protocols: named, cited recipes for splitting data as published tables did.

:data:`PROTOCOLS` maps each name to a :class:`Protocol` (what it does, its source, its primary
metrics and its exact settings); ``PROTOCOLS[name].folds(data, seed=42)`` yields its
:class:`Fold` objects, one for single splits and five for the crossfolds. A :class:`Fold` *is* a
:class:`~embrec.data.splits.Split` (so everything that takes a split takes a fold) plus the parts
some protocols add: their own validation part, and for strong generalisation the held-out users'
fold-in ratings.

:func:`validation_split` carves a validation part from a training part the way the protocol
itself holds out test data (latest rows for leave-one-out, whole users for strong
generalisation, ...), so a tuner never looks at test rows. :func:`write_folds` writes folds in
the saved-split format of :mod:`embrec.data.split_files` (``embrec train --split-dir`` reads each
fold folder as it is) with the extra parts beside them, and :func:`load_fold` reads one back.
``docs/protocols.md`` documents every protocol with its source.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from embrec.atomic import folder as atomic_folder
from embrec.data.build import DuplicatePolicy, build_interactions
from embrec.data.choices import SplitMethod
from embrec.data.files import load_ratings_file
from embrec.data.interactions import Interactions
from embrec.data.quoting import quoted
from embrec.data.split_files import load_split_data, write_split
from embrec.data.splits import Split, make_split
from embrec.errors import DataError, EmbrecError, SplitError

__all__ = [
    "DEFAULT_SEED",
    "EXTRA_FILES",
    "PROTOCOLS",
    "Fold",
    "Protocol",
    "get_protocol",
    "load_fold",
    "load_folds",
    "validation_split",
    "write_folds",
]

DEFAULT_SEED = 42
_MAX_SEED = 2**32 - 1

#: the parts a fold may add to train and test, each written as ``<name>.csv`` beside them
EXTRA_FILES = {"validation": "validation.csv", "foldin": "foldin.csv", "validation_foldin": "validation_foldin.csv"}


# ---------------------------------------------------------------------------- the fold
@dataclass(frozen=True, eq=False, repr=False)
class Fold(Split):
    """One fold of a protocol: a :class:`~embrec.data.splits.Split` plus the parts some protocols add.

    ``method``, ``test_fraction`` and ``test_count`` give the nearest
    :class:`~embrec.data.choices.SplitMethod` (what ``split.json`` records, so the saved fold reads
    back as a split); ``protocol`` names the recipe that really made it. Every part shares the
    input's vocabulary, and every ``*_rows`` array holds positions in the input.

    Attributes:
        protocol: the protocol's name, such as ``"lenskit-user-crossfold"``.
        fold: this fold's number, from 1.
        n_folds: how many folds the protocol makes.
        validation: the protocol's own validation targets (``recbole-implicit-811``'s valid part,
            ``strong-generalisation``'s validation users' 20%), or ``None``.
        validation_rows: positions in the input of the ``validation`` rows.
        foldin: ``strong-generalisation`` only: the test users' other 80%, the input a model is given
            for them when it is scored on ``test``; else ``None``.
        foldin_rows: positions in the input of the ``foldin`` rows.
        validation_foldin: ``strong-generalisation`` only: the validation users' other 80%.
        validation_foldin_rows: positions in the input of the ``validation_foldin`` rows.
        filtered_rows: input rows the protocol leaves out before it splits (``recbole-implicit-811``:
            the ratings below 3).
    """

    protocol: str = ""
    fold: int = 1
    n_folds: int = 1
    validation: Interactions | None = None
    validation_rows: np.ndarray | None = None
    foldin: Interactions | None = None
    foldin_rows: np.ndarray | None = None
    validation_foldin: Interactions | None = None
    validation_foldin_rows: np.ndarray | None = None
    filtered_rows: int = 0

    def extra_parts(self) -> dict[str, Interactions]:
        """The parts beyond train and test that this fold has, by name (the keys of :data:`EXTRA_FILES`)."""
        parts = {name: getattr(self, name) for name in EXTRA_FILES}
        return {name: part for name, part in parts.items() if part is not None}

    def summary(self) -> dict[str, Any]:
        """:meth:`Split.summary` plus the protocol, the fold number and the extra parts' counts."""
        out = {"protocol": self.protocol, "fold": self.fold, "n_folds": self.n_folds, **super().summary()}
        out["filtered_rows"] = int(self.filtered_rows)
        for name, part in self.extra_parts().items():
            out[f"{name}_rows"] = int(part.n_ratings)
            out[f"{name}_users"] = int(len(np.unique(part.users)))
            out[f"{name}_items"] = int(len(np.unique(part.items)))
        return out

    def __repr__(self) -> str:
        extra = "".join(f", {part.n_ratings:,} {name} rows" for name, part in self.extra_parts().items())
        return (
            f"<Fold {self.fold}/{self.n_folds} of {self.protocol}: {self.train.n_ratings:,} train rows, "
            f"{self.test.n_ratings:,} test rows{extra}>"
        )


def _fold(
    data: Interactions,
    protocol: str,
    train_rows: np.ndarray,
    test_rows: np.ndarray,
    *,
    method: SplitMethod,
    seed: int,
    fraction: float | None = None,
    count: int | None = None,
    fold: int = 1,
    n_folds: int = 1,
    dropped: tuple[int, int, int] | None = None,
    filtered_rows: int = 0,
    **extra_rows: np.ndarray,
) -> Fold:
    """A :class:`Fold` of ``data`` from row positions (``extra_rows``: ``validation=``, ``foldin=``, ...)."""
    parts: dict[str, Any] = {}
    for name, rows in extra_rows.items():
        rows = np.asarray(rows, dtype=np.int64)
        parts[name], parts[f"{name}_rows"] = data.take(rows), rows
    train_rows = np.asarray(train_rows, dtype=np.int64)
    test_rows = np.asarray(test_rows, dtype=np.int64)
    dropped_rows, dropped_users, dropped_items = dropped or (0, 0, 0)
    return Fold(
        train=data.take(train_rows),
        test=data.take(test_rows),
        method=method,
        test_fraction=fraction,
        test_count=count,
        cutoff=None,
        seed=seed,
        drop_unseen=dropped is not None,
        train_rows=train_rows,
        test_rows=test_rows,
        dropped_rows=dropped_rows,
        dropped_users=dropped_users,
        dropped_items=dropped_items,
        protocol=protocol,
        fold=fold,
        n_folds=n_folds,
        filtered_rows=filtered_rows,
        **parts,
    )


def _as_fold(split: Split, protocol: str) -> Fold:
    """``split`` as the single fold of ``protocol``."""
    return Fold(**{f.name: getattr(split, f.name) for f in fields(Split)}, protocol=protocol)


# ---------------------------------------------------------------------------- the protocol
@dataclass(frozen=True, eq=False)
class Protocol:
    """A named, cited way of splitting data for evaluation.

    Attributes:
        name: the registry key, such as ``"random-90-10"``.
        description: what it does, in one sentence.
        source: the citation and its URL, as text.
        metrics: the primary metrics, as ``name`` or ``name@k`` with names from
            :data:`embrec.evaluation.catalog.METRICS` (``"rmse"``, ``"ndcg@10"``, ...).
        candidates: what ranking metrics rank: ``"all items"`` (every item the user has no
            training row of: full ranking, never sampled negatives), or ``"-"`` where the
            primary metrics are rating errors.
        settings: the exact settings (shares, counts, thresholds, tie rules) as plain values.
        n_folds: how many folds :meth:`folds` yields.
    """

    name: str
    description: str
    source: str
    metrics: tuple[str, ...]
    candidates: str
    settings: Mapping[str, Any]
    n_folds: int
    _split: Callable[[Interactions, int], Iterator[Fold]]
    _carve: Callable[[Interactions, int], Split]

    def folds(self, data: Interactions, seed: int = DEFAULT_SEED) -> Iterator[Fold]:
        """The protocol's folds of ``data``: one for single splits, five for the crossfolds.

        Bad input is refused at the call, before the first fold; each fold is made when it is
        reached, so five folds of a large data set are never all in memory at once.

        Raises:
            SplitError: ``data`` is not an :class:`Interactions`, ``seed`` is not a whole number
                from 0 to 2**32-1, or the data cannot be split this way (named in the message).
        """
        return self._split(_check_data(data, self.name), _check_seed(seed))

    def validation_split(self, train: Interactions | Fold, seed: int = DEFAULT_SEED) -> Split:
        """:func:`validation_split` of ``train`` with this protocol."""
        return validation_split(train, self, seed)

    def describe(self) -> dict[str, Any]:
        """Plain (JSON-ready) description: name, description, source, metrics, candidates, settings, folds."""
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "metrics": list(self.metrics),
            "candidates": self.candidates,
            "n_folds": self.n_folds,
            "settings": dict(self.settings),
        }

    def __repr__(self) -> str:
        return f"<Protocol {self.name}: {self.n_folds} fold(s), {', '.join(self.metrics)}>"


def _check_seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= int(value) <= _MAX_SEED:
        raise SplitError(f"seed={quoted(value)} is not allowed; give a whole number from 0 to {_MAX_SEED}.")
    return int(value)


def _check_data(data: Any, name: str) -> Interactions:
    if not isinstance(data, Interactions):
        raise SplitError(
            f"the {name!r} protocol splits an Interactions, not {type(data).__name__}; load one with load_data."
        )
    if data.n_ratings < 2:
        raise SplitError(f"{quoted(data.name)} has {data.n_ratings} row(s); the {name!r} protocol needs at least 2.")
    return data


def get_protocol(name: str | Protocol) -> Protocol:
    """The protocol called ``name`` (a :class:`Protocol` is returned as it is).

    Raises:
        SplitError: no protocol has that name; the message lists those that exist.
    """
    if isinstance(name, Protocol):
        return name
    protocol = PROTOCOLS.get(name) if isinstance(name, str) else None
    if protocol is None:
        raise SplitError(f"protocol={quoted(name)} is not a protocol; use one of {', '.join(PROTOCOLS)}.")
    return protocol


# ---------------------------------------------------------------------------- shared row pickers
def _ranks(users: np.ndarray, order: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's 0-based rank among its user's rows when rows are taken in ``order``; and rows per user."""
    grouped = order[np.argsort(users[order], kind="stable")]
    sizes = np.bincount(users, minlength=n_users).astype(np.int64)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    rank = np.empty(len(users), dtype=np.int64)
    rank[grouped] = np.arange(len(users), dtype=np.int64) - starts[users[grouped]]
    return rank, sizes


def _active_users(data: Interactions) -> np.ndarray:
    """Indexes of the users with at least one row (a subset's vocabulary may hold others)."""
    return np.flatnonzero(data.items_per_user() > 0)


def _share_of(n: int, share: float) -> int:
    """``share`` of ``n``, rounded half up, at least 1."""
    return max(1, math.floor(n * share + 0.5))


def _latest_per_user(data: Interactions, seed: int) -> np.ndarray:
    """Test mask: each user's latest row by timestamp, ties in a seeded random order (a random row
    without timestamps); a user with one row keeps it in train."""
    tie = np.random.default_rng(seed).random(data.n_ratings)
    order = np.argsort(tie) if data.timestamps is None else np.lexsort((tie, data.timestamps))
    rank, sizes = _ranks(data.users.astype(np.int64), order, data.n_users)
    users = data.users
    return (rank == sizes[users] - 1) & (sizes[users] >= 2)


def _sample_n_per_user(data: Interactions, chosen: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """LensKit's ``SampleN(n)`` for the users where ``chosen`` (by user index) is true: ``n`` random rows
    each, or all of a user's rows when they have ``n`` or fewer."""
    rank, _ = _ranks(data.users.astype(np.int64), np.argsort(rng.random(data.n_ratings)), data.n_users)
    return chosen[data.users] & (rank < n)


def _foldin_split(
    data: Interactions, heldout: np.ndarray, target_share: float, min_rows: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Liang et al.'s per-user split of held-out rows (positions): ``floor(target_share * n)`` random
    targets of each user with ``min_rows`` or more rows; the rest (all of a smaller user's) fold-in."""
    users = data.users[heldout].astype(np.int64)
    rank, sizes = _ranks(users, np.argsort(rng.random(len(heldout))), data.n_users)
    wanted = np.where(sizes >= min_rows, np.floor(sizes * target_share).astype(np.int64), 0)
    target = rank < wanted[users]
    return heldout[~target], heldout[target]


def _recbole_counts(sizes: np.ndarray, ratios: tuple[float, ...]) -> list[np.ndarray]:
    """Rows per part for each user, as RecBole's ``Dataset._calcu_split_ids`` counts them.

    Every part but the first gets ``int(ratio * n)`` rows and the first the rest; then, last part
    first, a part whose ``ratio * n`` lies in (0, 1) takes one row from the first while the first
    keeps more than one.
    """
    total = sum(ratios)
    shares = [r / total for r in ratios]
    counts = [np.floor(share * sizes).astype(np.int64) for share in shares]
    counts[0] = sizes - sum(counts[1:], np.zeros_like(sizes))
    for i in range(1, len(shares)):
        exact = shares[-i] * sizes
        bump = (exact > 0) & (exact < 1) & (counts[0] > 1)
        counts[-i] = counts[-i] + bump
        counts[0] = counts[0] - bump
    return counts


def _recbole_parts(data: Interactions, ratios: tuple[float, ...], seed: int) -> np.ndarray:
    """Part number of each row (0 = train, 1 = valid, ...): RecBole's ``RO`` order (every row
    shuffled), grouped by user, each user's rows cut by :func:`_recbole_counts`."""
    users = data.users.astype(np.int64)
    rank, sizes = _ranks(users, np.random.default_rng(seed).permutation(data.n_ratings), data.n_users)
    part = np.zeros(len(users), dtype=np.int64)
    bound = np.zeros_like(sizes)
    for count in _recbole_counts(sizes, ratios)[:-1]:
        bound = bound + count
        part += rank >= bound[users]
    return part


def _unseen_dropped(
    data: Interactions, train_rows: np.ndarray, heldout: np.ndarray
) -> tuple[np.ndarray, tuple[int, int, int]]:
    """The held-out rows whose item has a training row; and how many rows, users (left with none) and items went."""
    seen = np.bincount(data.items[train_rows], minlength=data.n_items) > 0
    keep = seen[data.items[heldout]]
    users_before = len(np.unique(data.users[heldout]))
    users_after = len(np.unique(data.users[heldout[keep]]))
    dropped = (int((~keep).sum()), users_before - users_after, len(np.unique(data.items[heldout[~keep]])))
    return heldout[keep], dropped


# ---------------------------------------------------------------------------- ml100k-u-folds
U_FOLDS = 5
U_FOLD_ROWS = 20_000
U_VALIDATION_FRACTION = 0.2
# sha256 of u.data's rows in file order (user, item, 2 x rating, timestamp as int64), so the
# position-based folds are only ever cut from the file that mku.sh cut
_U_DATA_SHA256 = "1f00e27f59a2906a1b2ddea7a0f89607f1a89f876320e34d6babfded506ec30e"


def _rows_digest(data: Interactions) -> str | None:
    """sha256 of the rows as (user id, item id, 2 x rating, timestamp) int64 columns, or ``None``
    when an id column holds text or the data has no ratings or timestamps."""
    if data.ratings is None or data.timestamps is None:
        return None
    try:
        users = np.asarray(data.user_ids, dtype=np.int64)[data.users]
        items = np.asarray(data.item_ids, dtype=np.int64)[data.items]
    except (TypeError, ValueError, OverflowError):
        return None
    h = hashlib.sha256()
    for column in (users, items, np.rint(data.ratings * 2).astype(np.int64), data.timestamps.astype(np.int64)):
        h.update(np.ascontiguousarray(column).tobytes())
    return h.hexdigest()


def _u_folds(data: Interactions, seed: int) -> Iterator[Fold]:
    n = U_FOLDS * U_FOLD_ROWS
    if data.n_ratings != n or _rows_digest(data) != _U_DATA_SHA256:
        raise SplitError(
            f"the 'ml100k-u-folds' protocol cuts ml-100k's own u1-u5 folds from u.data, but {quoted(data.name)} "
            f"({data.n_ratings:,} rows) is not u.data's {n:,} rows in file order; load the ml-100k folder itself "
            "(dataset='ml-100k', or load_data on the folder), or use the 'random-90-10' protocol for other data."
        )
    positions = np.arange(n, dtype=np.int64)
    block = positions // U_FOLD_ROWS  # mku.sh: u{k}.test is the k-th 20,000 lines of u.data, u{k}.base the rest
    return (
        _fold(
            data,
            "ml100k-u-folds",
            positions[block != k],
            positions[block == k],
            method=SplitMethod.random,
            seed=seed,
            fraction=1 / U_FOLDS,
            fold=k + 1,
            n_folds=U_FOLDS,
        )
        for k in range(U_FOLDS)
    )


def _random_carve(fraction: float) -> Callable[[Interactions, int], Split]:
    def carve(train: Interactions, seed: int) -> Split:
        return make_split(train, "random", test_fraction=fraction, seed=seed)

    return carve


# ---------------------------------------------------------------------------- random-90-10
RANDOM_TEST_FRACTION = 0.1


def _random_90_10(data: Interactions, seed: int) -> Iterator[Fold]:
    return iter([_as_fold(make_split(data, "random", test_fraction=RANDOM_TEST_FRACTION, seed=seed), "random-90-10")])


# ---------------------------------------------------------------------------- recbole-implicit-811
RECBOLE_MIN_RATING = 3.0
RECBOLE_RATIOS = (0.8, 0.1, 0.1)


def _recbole_811(data: Interactions, seed: int) -> Iterator[Fold]:
    if data.ratings is None:
        raise SplitError(
            f"the 'recbole-implicit-811' protocol keeps ratings >= {RECBOLE_MIN_RATING:g} but {quoted(data.name)} has "
            "no ratings (implicit feedback); load a rating column, or use the 'loo-full-ranking' protocol."
        )
    kept = np.flatnonzero(data.ratings >= RECBOLE_MIN_RATING)
    if len(kept) < 2:
        raise SplitError(
            f"{quoted(data.name)} has {len(kept)} rating(s) of {RECBOLE_MIN_RATING:g} or more; the "
            "'recbole-implicit-811' protocol needs at least 2."
        )
    positives = _implicit(data)
    part = _recbole_parts(positives.take(kept), RECBOLE_RATIOS, seed)
    fold = _fold(
        positives,
        "recbole-implicit-811",
        kept[part == 0],
        kept[part == 2],
        method=SplitMethod.user,
        seed=seed,
        fraction=RECBOLE_RATIOS[2],
        filtered_rows=data.n_ratings - len(kept),
        validation=kept[part == 1],
    )
    return iter([fold])


def _implicit(data: Interactions) -> Interactions:
    """``data`` without its ratings: every row a positive interaction."""
    return Interactions(
        data.users, data.items, None, data.timestamps, data.user_ids, data.item_ids, data.item_metadata, None, data.name
    )


def _recbole_carve(train: Interactions, seed: int) -> Split:
    # RecBole's rule with its train and valid ratios (8:1) cut from a training part alone
    part = _recbole_parts(train, RECBOLE_RATIOS[:2], seed)
    return _fold(
        train,
        "recbole-implicit-811",
        np.flatnonzero(part == 0),
        np.flatnonzero(part == 1),
        method=SplitMethod.user,
        seed=seed,
        fraction=RECBOLE_RATIOS[1] / sum(RECBOLE_RATIOS[:2]),
    )


# ---------------------------------------------------------------------------- lenskit-user-crossfold
LENSKIT_PARTITIONS = 5
LENSKIT_HOLDOUT = 5


def _lenskit_crossfold(data: Interactions, seed: int) -> Iterator[Fold]:
    users = _active_users(data)
    if len(users) < LENSKIT_PARTITIONS:
        raise SplitError(
            f"the 'lenskit-user-crossfold' protocol puts users into {LENSKIT_PARTITIONS} folds but "
            f"{quoted(data.name)} has {len(users)} user(s) with ratings; it needs at least {LENSKIT_PARTITIONS}."
        )
    rng = np.random.default_rng(seed)
    fold_of_user = np.zeros(data.n_users, dtype=np.int64)
    # LensKit: shuffle the users, then np.array_split them into the partitions
    for k, members in enumerate(np.array_split(rng.permutation(users), LENSKIT_PARTITIONS)):
        fold_of_user[members] = k + 1
    held = _sample_n_per_user(data, fold_of_user > 0, LENSKIT_HOLDOUT, rng)
    row_fold = np.where(held, fold_of_user[data.users], 0)
    return (
        _fold(
            data,
            "lenskit-user-crossfold",
            np.flatnonzero(row_fold != k),
            np.flatnonzero(row_fold == k),
            method=SplitMethod.user,
            seed=seed,
            count=LENSKIT_HOLDOUT,
            fold=k,
            n_folds=LENSKIT_PARTITIONS,
        )
        for k in range(1, LENSKIT_PARTITIONS + 1)
    )


def _lenskit_carve(train: Interactions, seed: int) -> Split:
    users = _active_users(train)
    rng = np.random.default_rng(seed)
    chosen = np.zeros(train.n_users, dtype=bool)
    chosen[rng.permutation(users)[: _share_of(len(users), 1 / LENSKIT_PARTITIONS)]] = True
    held = _sample_n_per_user(train, chosen, LENSKIT_HOLDOUT, rng)
    return _fold(
        train,
        "lenskit-user-crossfold",
        np.flatnonzero(~held),
        np.flatnonzero(held),
        method=SplitMethod.user,
        seed=seed,
        count=LENSKIT_HOLDOUT,
    )


# ---------------------------------------------------------------------------- strong-generalisation
SG_TEST_USERS = 0.1
SG_VALIDATION_USERS = 0.1
SG_TARGET_SHARE = 0.2
SG_MIN_ROWS = 5


def _strong_generalisation(data: Interactions, seed: int) -> Iterator[Fold]:
    users = _active_users(data)
    n_test, n_val = _share_of(len(users), SG_TEST_USERS), _share_of(len(users), SG_VALIDATION_USERS)
    if len(users) < n_test + n_val + 1:
        raise SplitError(
            f"the 'strong-generalisation' protocol holds out {n_test} test and {n_val} validation user(s) and "
            f"trains on the others, but {quoted(data.name)} has {len(users)} user(s) with ratings; it needs at "
            f"least {n_test + n_val + 1}."
        )
    rng = np.random.default_rng(seed)
    role = np.zeros(data.n_users, dtype=np.int64)  # 0 train, 1 test, 2 validation
    order = rng.permutation(users)
    role[order[:n_test]] = 1
    role[order[n_test : n_test + n_val]] = 2
    row_role = role[data.users]
    train_rows = np.flatnonzero(row_role == 0)
    parts: dict[str, np.ndarray] = {}
    dropped = np.zeros(3, dtype=np.int64)
    for label, which in (("test", 1), ("validation", 2)):
        # Liang et al. keep only held-out rows whose item is in train, then split each user 80/20
        heldout, counts = _unseen_dropped(data, train_rows, np.flatnonzero(row_role == which))
        dropped += counts
        foldin, targets = _foldin_split(data, heldout, SG_TARGET_SHARE, SG_MIN_ROWS, rng)
        parts[label], parts[f"{label}_foldin"] = targets, foldin
    fold = _fold(
        data,
        "strong-generalisation",
        train_rows,
        parts["test"],
        method=SplitMethod.user,
        seed=seed,
        fraction=SG_TARGET_SHARE,
        dropped=(int(dropped[0]), int(dropped[1]), int(dropped[2])),
        foldin=parts["test_foldin"],
        validation=parts["validation"],
        validation_foldin=parts["validation_foldin"],
    )
    return iter([fold])


def _strong_generalisation_carve(train: Interactions, seed: int) -> Split:
    users = _active_users(train)
    n_val = _share_of(len(users), SG_VALIDATION_USERS)
    if len(users) < n_val + 1:
        raise SplitError(
            f"a strong-generalisation validation part holds out whole users, but the training part "
            f"{quoted(train.name)} has {len(users)} user(s) with ratings; it needs at least {n_val + 1}."
        )
    rng = np.random.default_rng(seed)
    held = np.zeros(train.n_users, dtype=bool)
    held[rng.permutation(users)[:n_val]] = True
    inner = np.flatnonzero(~held[train.users])
    heldout, dropped = _unseen_dropped(train, inner, np.flatnonzero(held[train.users]))
    foldin, targets = _foldin_split(train, heldout, SG_TARGET_SHARE, SG_MIN_ROWS, rng)
    return _fold(
        train,
        "strong-generalisation",
        inner,
        targets,
        method=SplitMethod.user,
        seed=seed,
        fraction=SG_TARGET_SHARE,
        dropped=dropped,
        foldin=foldin,
    )


# ---------------------------------------------------------------------------- loo-full-ranking
def _loo_full_ranking(data: Interactions, seed: int) -> Iterator[Fold]:
    return iter([_loo_fold(data, seed)])


def _loo_fold(data: Interactions, seed: int) -> Fold:
    test = _latest_per_user(data, seed)
    if not test.any():
        raise SplitError(
            f"the 'loo-full-ranking' protocol holds out each user's latest row, but every user of "
            f"{quoted(data.name)} has a single row, which stays in train; it needs users with 2 or more rows."
        )
    return _fold(
        data,
        "loo-full-ranking",
        np.flatnonzero(~test),
        np.flatnonzero(test),
        method=SplitMethod.loo,
        seed=seed,
        count=1,
    )


# ---------------------------------------------------------------------------- the registry
def _protocols() -> dict[str, Protocol]:
    entries = [
        Protocol(
            name="ml100k-u-folds",
            description="MovieLens 100K's own five folds u1-u5: u{k}.test is the k-th block of 20,000 rows of "
            "u.data, u{k}.base the other 80,000.",
            source="GroupLens, ml-100k README (u1-u5 made by mku.sh), https://files.grouplens.org/datasets/movielens/"
            "ml-100k-README.txt; read as Surprise's PredefinedKFold example does, https://surprise.readthedocs.io/"
            "en/stable/getting_started.html (Surprise's own Benchmarks table uses KFold(random_state=0) instead).",
            metrics=("rmse", "mae"),
            candidates="-",
            settings={"folds": U_FOLDS, "test_rows_per_fold": U_FOLD_ROWS, "data": "ml-100k u.data, file order"},
            n_folds=U_FOLDS,
            _split=_u_folds,
            _carve=_random_carve(U_VALIDATION_FRACTION),
        ),
        Protocol(
            name="random-90-10",
            description="A random 90/10 holdout of all rows (scikit-learn's train_test_split, seeded).",
            source="Rendle, Zhang & Koren (2019), On the Difficulty of Evaluating Baselines: A Study on "
            "Recommender Systems, rating-prediction protocol on ML-10M, https://arxiv.org/abs/1905.01395.",
            metrics=("rmse",),
            candidates="-",
            settings={"test_fraction": RANDOM_TEST_FRACTION, "seed": DEFAULT_SEED},
            n_folds=1,
            _split=_random_90_10,
            _carve=_random_carve(RANDOM_TEST_FRACTION),
        ),
        Protocol(
            name="recbole-implicit-811",
            description="Ratings >= 3 kept as implicit positives (the rest dropped); each user's positives "
            "shuffled and cut 8:1:1 into train, valid and test (RecBole's RS/RO/group_by=user rounding).",
            source="RecBole (Zhao et al. 2021), default eval_args split {'RS': [0.8, 0.1, 0.1]}, order RO, group_by "
            "user, mode full (recbole/properties/overall.yaml, https://recbole.io/docs/user_guide/config/"
            "evaluation_settings.html); filter val_interval rating '[3,inf)' as in its benchmark configurations, "
            "https://github.com/RUCAIBox/RecBole.",
            metrics=("recall@10", "mrr@10", "ndcg@10", "hit@10", "precision@10"),
            candidates="all items",
            settings={
                "min_rating": RECBOLE_MIN_RATING,
                "ratios": list(RECBOLE_RATIOS),
                "group_by": "user",
                "order": "RO (random)",
                "valid_metric": "mrr@10",
            },
            n_folds=1,
            _split=_recbole_811,
            _carve=_recbole_carve,
        ),
        Protocol(
            name="lenskit-user-crossfold",
            description="Users shuffled into 5 folds; each fold's users hold out 5 random ratings each "
            "(SampleN(5): all of them when they have 5 or fewer); everything else trains.",
            source="LensKit for Python (Ekstrand 2020), crossfold_users(data, 5, SampleN(5)), "
            "user guide 'Splitting Data', https://lkpy.lenskit.org/ (lenskit/splitting/users.py).",
            metrics=("ndcg@10", "recall@10", "rmse"),
            candidates="all items",
            settings={"partitions": LENSKIT_PARTITIONS, "holdout": f"SampleN({LENSKIT_HOLDOUT})"},
            n_folds=LENSKIT_PARTITIONS,
            _split=_lenskit_crossfold,
            _carve=_lenskit_carve,
        ),
        Protocol(
            name="strong-generalisation",
            description="10% of users are test users and 10% validation users, never in train; each held-out "
            "user's rows (items seen in train only) split 80% fold-in input / 20% targets.",
            source="Liang, Krishnan, Hoffman & Jebara (2018), Variational Autoencoders for Collaborative "
            "Filtering, WWW, https://arxiv.org/abs/1802.05814 (code: https://github.com/dawenl/vae_cf).",
            metrics=("recall@20", "recall@50", "ndcg@100"),
            candidates="all items",
            settings={
                "test_users": SG_TEST_USERS,
                "validation_users": SG_VALIDATION_USERS,
                "target_share": SG_TARGET_SHARE,
                "min_rows_for_targets": SG_MIN_ROWS,
                "unseen_items": "dropped from held-out users",
            },
            n_folds=1,
            _split=_strong_generalisation,
            _carve=_strong_generalisation_carve,
        ),
        Protocol(
            name="loo-full-ranking",
            description="Leave one out: each user's latest rating (ties in a seeded order) is the test row, "
            "ranked against every item the user has not rated in train (no sampled negatives).",
            source="Krichene & Rendle (2020), On Sampled Metrics for Item Recommendation, KDD, "
            "https://doi.org/10.1145/3394486.3403226.",
            metrics=("hit@10", "ndcg@10"),
            candidates="all items",
            settings={"held_out": "latest row per user", "ties": "seeded random order", "sampled_negatives": None},
            n_folds=1,
            _split=_loo_full_ranking,
            _carve=_loo_fold,
        ),
    ]
    return {p.name: p for p in entries}


#: The reference protocols by name (read-only).
PROTOCOLS: Mapping[str, Protocol] = MappingProxyType(_protocols())


# ---------------------------------------------------------------------------- validation
def validation_split(train: Interactions | Fold, protocol: str | Protocol, seed: int = DEFAULT_SEED) -> Split:
    """Carve a validation part from a training part, the way ``protocol`` holds out its test part.

    Only ``train`` is read, so no test row can leak into tuning. The returned split's ``train`` is
    the inner training part and its ``test`` the validation part:

    * ``ml100k-u-folds``, ``random-90-10``: random rows (20% and 10% of ``train``).
    * ``recbole-implicit-811``: RecBole's per-user 8:1 cut of ``train``; given a :class:`Fold` of the
      protocol, its own valid part (``fold.validation``) with ``fold.train`` as the inner train.
    * ``lenskit-user-crossfold``: a fifth of the users hold out 5 random rows each (``SampleN(5)``).
    * ``strong-generalisation``: 10% of the users are held out whole (none of their rows in the inner
      train); the result is a :class:`Fold` whose ``foldin`` is their 80% and ``test`` their 20%.
      Given a :class:`Fold` of the protocol, its own validation users.
    * ``loo-full-ranking``: each user's latest training row (ties in a seeded order).

    ``train_rows`` and ``test_rows`` number the rows of ``train``; for a fold's own validation part,
    the rows of the data the fold was drawn from.

    Args:
        train: the training part (such as ``fold.train``), or a :class:`Fold` to use its own validation part.
        protocol: a protocol name (a key of :data:`PROTOCOLS`) or a :class:`Protocol`.
        seed: random seed; the same seed gives the same validation part.

    Raises:
        SplitError: an unknown protocol, a bad seed, a fold of another protocol, or a training part
            too small to carve from.
    """
    proto = get_protocol(protocol)
    seed = _check_seed(seed)
    if isinstance(train, Fold):
        if train.protocol != proto.name:
            raise SplitError(
                f"the fold is one of the {train.protocol!r} protocol, not of protocol={proto.name!r}; pass "
                f"protocol={train.protocol!r}, or pass fold.train to carve from its training part."
            )
        own = _own_validation(train)
        if own is not None:
            return own
        train = train.train
    return proto._carve(_check_data(train, proto.name), seed)


def _own_validation(fold: Fold) -> Fold | None:
    """The validation part a fold carries, as a fold with ``fold.train`` as its train; or ``None``."""
    if fold.validation is None or fold.validation_rows is None:
        return None
    parts: dict[str, Any] = {}
    if fold.validation_foldin is not None:
        parts = {"foldin": fold.validation_foldin, "foldin_rows": fold.validation_foldin_rows}
    return Fold(
        train=fold.train,
        test=fold.validation,
        method=fold.method,
        test_fraction=fold.test_fraction,
        test_count=fold.test_count,
        cutoff=None,
        seed=fold.seed,
        drop_unseen=fold.drop_unseen,
        train_rows=fold.train_rows,
        test_rows=fold.validation_rows,
        protocol=fold.protocol,
        filtered_rows=fold.filtered_rows,
        **parts,
    )


# ---------------------------------------------------------------------------- on disk
def write_folds(
    folds: Iterable[Fold], out: str | Path, *, force: bool = False, info: dict[str, Any] | None = None
) -> list[Path]:
    """Write a protocol's folds into ``out``, all or nothing.

    A single fold is written into ``out`` itself, many into ``out/fold-1``, ``out/fold-2``, ...
    (with ``out/protocol.json`` describing them). Each fold folder is a saved split
    (:func:`embrec.data.split_files.write_split`: ``train.csv``, ``test.csv``, ``split.json``, read
    by ``embrec train --split-dir``) plus one CSV per extra part (:data:`EXTRA_FILES`) in the same
    columns; ``split.json`` also records the protocol, its source and its settings.

    Args:
        folds: the folds, as :meth:`Protocol.folds` yields them (each is written, then let go).
        out: the folder to create (or fill, when it exists and is empty).
        force: replace an existing non-empty ``out`` (only once the new folder is complete).
        info: extra keys for every ``split.json``, such as :func:`~embrec.data.split_files.source_info`.

    Returns:
        The fold folders, in fold order.

    Raises:
        EmbrecError: ``out`` is a file, is not empty and ``force`` is false, or cannot be written
            (nothing is left behind, and an existing ``out`` stays as it was).
    """
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise EmbrecError(f"out={str(out)!r} exists and is not a folder; give a folder path.")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise EmbrecError(f"out={str(out)!r} is not empty; choose a new folder or pass force=True to replace it.")
    names: list[str] = []
    protocols: set[str] = set()
    with atomic_folder(out, replace=force) as staging:
        for fold in folds:
            name = "." if fold.n_folds == 1 else f"fold-{fold.fold}"
            _write_fold(fold, staging / name, info)
            names.append(name)
            protocols.add(fold.protocol)
        if names and names != ["."]:
            index = {**get_protocol(protocols.pop()).describe(), "folds": names}
            (staging / "protocol.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    return [out if name == "." else out / name for name in names]


def _write_fold(fold: Fold, folder: Path, info: dict[str, Any] | None) -> None:
    protocol = get_protocol(fold.protocol)
    extra: dict[str, Any] = {
        "protocol_source": protocol.source,
        "protocol_metrics": list(protocol.metrics),
        "protocol_settings": dict(protocol.settings),
        "extra_files": [EXTRA_FILES[name] for name in fold.extra_parts()],
    }
    write_split(fold, folder, force=True, info={**(info or {}), **extra})  # folder: new, or the empty staging
    for name, part in fold.extra_parts().items():
        part.to_frame().to_csv(folder / EXTRA_FILES[name], index=False)


def load_folds(folder: str | Path, *, item_metadata: pd.DataFrame | None = None) -> list[Fold]:
    """The folds :func:`write_folds` wrote into ``folder``: the one in it, or those in its ``fold-*`` folders.

    Raises:
        DataError: ``folder`` holds neither a saved split nor fold folders, or one of them is bad.
    """
    folder = Path(folder).expanduser()
    if (folder / "split.json").is_file() or not folder.is_dir():
        return [load_fold(folder, item_metadata=item_metadata)]
    numbered = sorted(
        (int(p.name.removeprefix("fold-")), p)
        for p in folder.glob("fold-*")
        if p.is_dir() and p.name.removeprefix("fold-").isdigit()
    )
    if not numbered:
        raise DataError(
            f"{folder} holds neither split.json nor fold-1, fold-2, ... folders; pass a folder written by "
            "write_folds (embrec split --protocol NAME --out FOLDER)."
        )
    return [load_fold(path, item_metadata=item_metadata) for _, path in numbered]


def load_fold(folder: str | Path, *, item_metadata: pd.DataFrame | None = None) -> Fold:
    """One fold folder written by :func:`write_folds` (or any saved split), with its extra parts.

    Every part shares one vocabulary: the ids of all the folder's CSV files. As in
    :func:`~embrec.data.split_files.load_split`, ``*_rows`` number the rows of the files in turn
    (train, test, then the extra parts), since positions in the original data are not stored.

    Raises:
        DataError: the folder is not a saved split, or its files are bad or disagree.
    """
    folder = Path(folder).expanduser()
    both, split = load_split_data(folder, item_metadata=item_metadata)
    meta = json.loads((folder / "split.json").read_text(encoding="utf-8"))
    scale = split.train.rating_scale
    extras = {name: folder / file for name, file in EXTRA_FILES.items() if (folder / file).is_file()}
    pieces = [split.train, split.test] + [
        load_ratings_file(path, rating_scale=scale, duplicates=DuplicatePolicy.error) for path in extras.values()
    ]
    data = both if not extras else _one_vocabulary(folder, pieces, scale, both.name, item_metadata)
    bounds = np.cumsum([0] + [p.n_ratings for p in pieces])
    rows = [np.arange(bounds[i], bounds[i + 1], dtype=np.int64) for i in range(len(pieces))]
    parts: dict[str, Any] = {}
    for name, part_rows in zip(extras, rows[2:], strict=True):
        parts[name], parts[f"{name}_rows"] = data.take(part_rows), part_rows
    base = {f.name: getattr(split, f.name) for f in fields(Split)}
    base.update(train=data.take(rows[0]), test=data.take(rows[1]), train_rows=rows[0], test_rows=rows[1])
    return Fold(
        **base,
        protocol=str(meta.get("protocol", "")),
        fold=int(meta.get("fold", 1)),
        n_folds=int(meta.get("n_folds", 1)),
        filtered_rows=int(meta.get("filtered_rows", 0)),
        **parts,
    )


def _one_vocabulary(
    folder: Path,
    pieces: list[Interactions],
    scale: tuple[float, float] | None,
    name: str,
    item_metadata: pd.DataFrame | None,
) -> Interactions:
    """All the pieces' rows, in turn, indexed by the ids of all of them."""
    kinds = [(p.user_ids.dtype.kind in "iu", p.item_ids.dtype.kind in "iu") for p in pieces]

    def ids(column: int, piece: Interactions) -> np.ndarray:
        own = piece.user_ids[piece.users] if column == 0 else piece.item_ids[piece.items]
        numeric = all(kind[column] for kind in kinds)
        return own if numeric else own.astype(str).astype(object)

    ratings = None
    if all(p.ratings is not None for p in pieces):
        ratings = np.concatenate([p.ratings for p in pieces if p.ratings is not None])
    timestamps = None
    if all(p.timestamps is not None for p in pieces):
        timestamps = np.concatenate([p.timestamps for p in pieces if p.timestamps is not None])
    try:
        return build_interactions(
            np.concatenate([ids(0, p) for p in pieces]),
            np.concatenate([ids(1, p) for p in pieces]),
            ratings,
            timestamps,
            source=f"{folder} (train.csv, test.csv, then {', '.join(EXTRA_FILES.values())} where present)",
            rating_scale=scale,
            duplicates=DuplicatePolicy.error,
            item_metadata=item_metadata,
            name=name,
        )
    except DataError as exc:
        if "duplicate" not in str(exc):
            raise
        raise DataError(
            f"{folder}: some (user, item) pairs are in more than one of its files, so they are not parts of one "
            "data set; write the folder again with write_folds."
        ) from None

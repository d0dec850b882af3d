"""The one container for ratings data: ids, ratings, timestamps, item metadata, scale.

Rows hold contiguous indexes (``users``, ``items``); ``user_ids`` and ``item_ids`` map those
indexes back to the dataset's own ids, which are what every public function takes and returns.
Subsets made by :meth:`Interactions.take` share the vocabulary, so a train and a test split
index the same users and items.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from embrec.data.quoting import clipped, quoted
from embrec.errors import DataError, UnknownIdError

__all__ = ["Interactions"]


def _as_id_array(ids: Any) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    return arr


def _by_item_id(meta: pd.DataFrame, item_ids: pd.Index) -> pd.DataFrame:
    """``meta`` indexed by item id, row ``i`` describing item index ``i``.

    A frame indexed by the same ids in another order is put in item-index order; any other index
    is read as one row per item index, in order.
    """
    if meta.index.equals(item_ids):
        return meta if meta.index.name == "item" else meta.rename_axis("item")
    with contextlib.suppress(TypeError):
        if meta.index.is_unique and len(meta.index.intersection(item_ids)) == len(item_ids):
            return meta.reindex(item_ids).rename_axis("item")
    return meta.set_axis(item_ids).rename_axis("item")


def _lookup_as_other_kind(lookup: pd.Index, ids: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Indexes of ids typed as the other kind: text ``"42"`` for integer ids (as a command line gives
    them) and the integer ``42`` for text ids (as files with some text ids give them)."""
    if ids.dtype.kind in "US" and lookup.dtype.kind in "iu":
        with contextlib.suppress(ValueError, OverflowError):  # "x" or "10**30" is no int64 id
            return lookup.get_indexer(ids.astype(np.int64))
    elif ids.dtype.kind in "iuO" and lookup.dtype.kind not in "iu":
        return lookup.get_indexer(np.array([str(x) for x in ids], dtype=object))
    return idx


@dataclass(frozen=True, eq=False, repr=False)
class Interactions:
    """Ratings (or implicit interactions) with their vocabularies.

    Attributes:
        users: user index of each row, ``int32``.
        items: item index of each row, ``int32``.
        ratings: rating of each row in stars (``float32``), or ``None`` for implicit feedback.
        timestamps: Unix seconds of each row (``int64``), or ``None``.
        user_ids: the dataset's own user id of each user index.
        item_ids: the dataset's own item id of each item index.
        item_metadata: item metadata indexed by item id (the index is ``item_ids``, so
            ``item_metadata.loc[item_id]`` is that item's row, and row ``i`` is item index ``i``),
            with columns such as ``title``, ``year``, ``genres`` as a ``|``-joined string; or
            ``None``. A frame given with another index but one row per item index (such as a
            ``0..n-1`` range) is taken row by row and given the item ids as its index.
        rating_scale: ``(lowest, highest)`` possible rating, or ``None`` for implicit feedback.
        name: a short label used in summaries and reports.
    """

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray | None
    timestamps: np.ndarray | None
    user_ids: np.ndarray
    item_ids: np.ndarray
    item_metadata: pd.DataFrame | None = None
    rating_scale: tuple[float, float] | None = None
    name: str = "ratings"
    _user_lookup: pd.Index = field(init=False, repr=False, compare=False)
    _item_lookup: pd.Index = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.users)
        if len(self.items) != n:
            raise DataError(f"users has {n} rows but items has {len(self.items)}; pass arrays of one length.")
        for label, arr in (("ratings", self.ratings), ("timestamps", self.timestamps)):
            if arr is not None and len(arr) != n:
                raise DataError(f"{label} has {len(arr)} rows but users has {n}; pass arrays of one length.")
        if self.item_metadata is not None and len(self.item_metadata) != len(self.item_ids):
            raise DataError(
                f"item_metadata has {len(self.item_metadata)} rows for {len(self.item_ids)} items; "
                "give one metadata row per item index."
            )
        object.__setattr__(self, "_user_lookup", pd.Index(self.user_ids))
        object.__setattr__(self, "_item_lookup", pd.Index(self.item_ids))
        if self.item_metadata is not None:
            object.__setattr__(self, "item_metadata", _by_item_id(self.item_metadata, self._item_lookup))

    # ------------------------------------------------------------------ sizes
    @property
    def n_users(self) -> int:
        """Number of users in the vocabulary (shared with every subset)."""
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        """Number of items in the vocabulary (shared with every subset)."""
        return len(self.item_ids)

    @property
    def n_ratings(self) -> int:
        """Number of rows (ratings or interactions)."""
        return len(self.users)

    def __len__(self) -> int:
        return self.n_ratings

    @property
    def is_implicit(self) -> bool:
        """True when the data has no ratings (implicit feedback)."""
        return self.ratings is None

    @property
    def density(self) -> float:
        """Fraction of the user x item matrix that holds a rating."""
        cells = self.n_users * self.n_items
        return self.n_ratings / cells if cells else 0.0

    def __repr__(self) -> str:
        kind = "implicit" if self.is_implicit else f"ratings {self.rating_scale}"
        return (
            f"<Interactions {self.name!r}: {self.n_ratings:,} rows, {self.n_users:,} users, "
            f"{self.n_items:,} items, {kind}, density {self.density:.4%}>"
        )

    # ------------------------------------------------------------------ ids
    def user_index(self, ids: Any) -> np.ndarray:
        """Indexes of the given user ids; raises :class:`UnknownIdError` naming unknown ones."""
        return self._lookup(self._user_lookup, ids, "user")

    def item_index(self, ids: Any) -> np.ndarray:
        """Indexes of the given item ids; raises :class:`UnknownIdError` naming unknown ones."""
        return self._lookup(self._item_lookup, ids, "item")

    def has_user(self, user_id: Any) -> bool:
        return bool(self._user_lookup.get_indexer(_as_id_array(user_id))[0] >= 0)

    def _lookup(self, lookup: pd.Index, ids: Any, kind: str) -> np.ndarray:
        arr = _as_id_array(ids)
        idx = lookup.get_indexer(arr)
        if (idx < 0).any():
            idx = _lookup_as_other_kind(lookup, arr, idx)
        missing = idx < 0
        if missing.any():
            bad = arr[missing]
            shown = ", ".join(quoted(x.item() if hasattr(x, "item") else x, 60) for x in bad[:5])
            more = f" and {missing.sum() - 5} more" if missing.sum() > 5 else ""
            examples = ", ".join(clipped(str(x), 60) for x in lookup[:3])
            raise UnknownIdError(
                f"unknown {kind} id {shown}{more} in {quoted(self.name)}; known {kind} ids look like "
                f"{examples} ({len(lookup):,} in all). Use an id from the data."
            )
        return idx.astype(np.int64)

    # ------------------------------------------------------------------ subsets
    def take(self, rows: np.ndarray) -> Interactions:
        """A subset of rows (indexes or a boolean mask) sharing this vocabulary."""
        rows = np.asarray(rows)
        return Interactions(
            users=self.users[rows],
            items=self.items[rows],
            ratings=None if self.ratings is None else self.ratings[rows],
            timestamps=None if self.timestamps is None else self.timestamps[rows],
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            item_metadata=self.item_metadata,
            rating_scale=self.rating_scale,
            name=self.name,
        )

    def with_name(self, name: str) -> Interactions:
        return Interactions(
            self.users,
            self.items,
            self.ratings,
            self.timestamps,
            self.user_ids,
            self.item_ids,
            self.item_metadata,
            self.rating_scale,
            name,
        )

    # ------------------------------------------------------------------ views
    def to_csr(self, values: str = "ones") -> sp.csr_matrix:
        """The users x items matrix; ``values`` is ``"ones"`` or ``"ratings"``."""
        if values == "ratings":
            if self.ratings is None:
                raise DataError(f"{self.name!r} has no ratings (implicit feedback); use values='ones'.")
            data = self.ratings.astype(np.float32)
        elif values == "ones":
            data = np.ones(self.n_ratings, dtype=np.float32)
        else:
            raise DataError(f"values={values!r} is not allowed; use 'ones' or 'ratings'.")
        mat = sp.csr_matrix((data, (self.users, self.items)), shape=(self.n_users, self.n_items))
        mat.sum_duplicates()
        return mat

    def to_frame(self) -> pd.DataFrame:
        """Rows with the dataset's own ids: columns user, item, [rating], [timestamp]."""
        cols: dict[str, Any] = {"user": self.user_ids[self.users], "item": self.item_ids[self.items]}
        if self.ratings is not None:
            cols["rating"] = self.ratings
        if self.timestamps is not None:
            cols["timestamp"] = self.timestamps
        return pd.DataFrame(cols)

    def titles(self, item_indexes: Iterable[int]) -> list[str]:
        """Titles of item indexes, or their ids as text when there is no title metadata."""
        idx = np.asarray(list(item_indexes), dtype=np.int64)
        meta = self.item_metadata
        if meta is not None and "title" in meta.columns:
            raw = meta["title"].to_numpy()[idx]
            ids = self.item_ids[idx]
            return [str(t) if isinstance(t, str) and t else str(i) for t, i in zip(raw, ids)]
        return [str(x) for x in self.item_ids[idx]]

    def items_per_user(self) -> np.ndarray:
        return np.bincount(self.users, minlength=self.n_users)

    def users_per_item(self) -> np.ndarray:
        return np.bincount(self.items, minlength=self.n_items)

    def fingerprint(self) -> str:
        """A sha256 over rows and vocabularies: equal data gives an equal fingerprint."""
        h = hashlib.sha256()
        for arr in (self.users, self.items, self.ratings, self.timestamps):
            if arr is not None:
                h.update(np.ascontiguousarray(arr).tobytes())
            h.update(b"|")
        for ids in (self.user_ids, self.item_ids):
            if ids.dtype.kind in "iuf":
                h.update(np.ascontiguousarray(ids).tobytes())
            else:
                h.update("\x1f".join(map(str, ids)).encode())
            h.update(b"|")
        return h.hexdigest()

"""The interface every embrec model follows, and the machinery they share.

A model learns from an :class:`~embrec.data.Interactions` in ``fit`` and keeps the training
vocabulary, so every public method takes and returns the dataset's own ids. Subclasses
implement ``_fit``, ``_score_users`` (ranking scores for a batch of user indexes) and the two
state hooks used by saving; the base class does recommending, similar items, predictions,
id checks and the run folder.
"""

from __future__ import annotations

import dataclasses
import logging
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from embrec.data.interactions import Interactions
from embrec.errors import ConfigError, DataError, NotFittedError, UnknownIdError
from embrec.ranking import top_n

__all__ = ["Recommender", "ProgressFn", "TrainingHistory"]

log = logging.getLogger(__name__)

#: Called after each epoch with (epoch number from 1, most epochs, that epoch's figures).
ProgressFn = Callable[[int, int, dict[str, float]], None]
TrainingHistory = list[dict[str, float]]


class Recommender(ABC):
    """Base class of every model.

    Learned attributes end in ``_``: ``user_ids_``, ``item_ids_`` (the training vocabulary),
    ``seen_`` (users x items matrix of training interactions), ``rating_scale_``,
    ``item_metadata_``, ``history_`` (per-epoch figures, empty for closed-form models).
    """

    #: Registry name (``models.create(name)``).
    name: ClassVar[str]
    #: The dataclass holding this model's settings.
    config_class: ClassVar[type]
    #: True when ``predict`` gives ratings on the star scale.
    predicts_ratings: ClassVar[bool] = False
    #: sha256 of the training data (set by ``fit``; read back from a run folder).
    data_fingerprint_: str | None
    #: The run folder's ``embrec.json`` (models loaded from a run folder only).
    run_info_: dict[str, Any]

    def __init__(self, config: Any | None = None, **overrides: Any) -> None:
        if config is None:
            config = self.config_class(**overrides)
        elif overrides:
            config = dataclasses.replace(config, **overrides)
        if not isinstance(config, self.config_class):
            raise ConfigError(
                f"{type(self).__name__} takes a {self.config_class.__name__}, got {type(config).__name__}."
            )
        self.config = config

    def __repr__(self) -> str:
        fitted = "fitted" if self.is_fitted else "not fitted"
        return f"<{type(self).__name__} {self.name!r} ({fitted}) {self.config}>"

    # ------------------------------------------------------------------ fitting
    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "seen_")

    def fit(self, train: Interactions, *, progress: ProgressFn | None = None) -> Self:
        """Learn from ``train``; returns ``self``."""
        if train.n_ratings == 0:
            raise DataError(f"cannot fit {self.name!r} on {train.name!r}: it has no rows.")
        self.user_ids_ = np.asarray(train.user_ids)
        self.item_ids_ = np.asarray(train.item_ids)
        self.seen_ = train.to_csr("ones")
        self.rating_scale_ = train.rating_scale
        self.item_metadata_ = train.item_metadata
        self.history_: TrainingHistory = []
        self._user_lookup = pd.Index(self.user_ids_)
        self._item_lookup = pd.Index(self.item_ids_)
        self.data_fingerprint_ = train.fingerprint()
        try:
            self._fit(train, progress)
        except BaseException:
            del self.seen_  # a failed fit leaves the model unfitted, not half-fitted
            raise
        return self

    @abstractmethod
    def _fit(self, train: Interactions, progress: ProgressFn | None) -> None:
        """Learn the model's parameters (vocabulary already set)."""

    @abstractmethod
    def _score_users(self, users: np.ndarray) -> torch.Tensor:
        """Ranking scores (higher is better) of every item for a batch of user indexes."""

    def _predict_indexes(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        raise ConfigError(
            f"model {self.name!r} ranks items but does not predict ratings; use recommend(), or train "
            "a rating model (objective 'rating')."
        )

    # ------------------------------------------------------------------ ids
    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(train) or load a saved run first.")

    def _index(self, lookup: pd.Index, ids: Any, kind: str) -> np.ndarray:
        arr = np.asarray(ids)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        idx = lookup.get_indexer(arr)
        if (idx < 0).any() and arr.dtype.kind in "USO" and lookup.dtype.kind in "iu":
            try:  # ids typed on a command line or sent as JSON text
                idx = lookup.get_indexer(arr.astype(np.int64))
            except (ValueError, TypeError):
                pass
        elif (idx < 0).any() and arr.dtype.kind in "iuf" and lookup.dtype.kind in "OU":
            idx = lookup.get_indexer(arr.astype(str))
        if (idx < 0).any():
            bad = arr[idx < 0]
            shown = ", ".join(repr(x.item() if hasattr(x, "item") else x) for x in bad[:5])
            raise UnknownIdError(
                f"unknown {kind} id {shown}: the model was trained on {len(lookup):,} {kind}s "
                f"(ids such as {', '.join(map(str, lookup[:3]))}). Use an id from the training data"
                + (", or fold a new user in with fold_in()." if kind == "user" else ".")
            )
        return idx.astype(np.int64)

    def user_index(self, ids: Any) -> np.ndarray:
        """Training indexes of user ids (raises :class:`UnknownIdError` for unknown ones)."""
        self._check_fitted()
        return self._index(self._user_lookup, ids, "user")

    def item_index(self, ids: Any) -> np.ndarray:
        """Training indexes of item ids (raises :class:`UnknownIdError` for unknown ones)."""
        self._check_fitted()
        return self._index(self._item_lookup, ids, "item")

    def titles(self, item_indexes: Iterable[int]) -> list[str]:
        idx = np.asarray(list(item_indexes), dtype=np.int64)
        meta = self.item_metadata_
        if meta is not None and "title" in meta.columns:
            raw = meta["title"].to_numpy()[idx]
            return [t if isinstance(t, str) and t else str(i) for t, i in zip(raw, self.item_ids_[idx])]
        return [str(x) for x in self.item_ids_[idx]]

    # ------------------------------------------------------------------ using the model
    def score(self, users: Any) -> np.ndarray:
        """Ranking scores (higher is better) of every item for the given user ids, ``(len(users), n_items)``."""
        idx = self.user_index(users)
        with torch.no_grad():
            return self._score_users(idx).float().cpu().numpy()

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """Predicted ratings in stars for aligned arrays of user and item ids."""
        u = self.user_index(users)
        i = self.item_index(items)
        if len(u) != len(i):
            raise DataError(f"got {len(u)} users but {len(i)} items; pass one item per user.")
        return self._predict_indexes(u, i)

    def recommend_indexes(
        self, users: np.ndarray, n: int = 10, *, exclude_seen: bool = True, chunk_size: int = 2048
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` item indexes and scores for user indexes (rows padded with -1)."""
        self._check_fitted()
        if n < 1:
            raise ConfigError(f"n={n} is not allowed; ask for at least 1 recommendation.")
        users = np.asarray(users, dtype=np.int64)
        with torch.no_grad():
            items, scores = top_n(
                self._score_users,
                users,
                n,
                seen=self.seen_ if exclude_seen else None,
                chunk_size=chunk_size,
            )
        return items, self._output_scores(users, items, scores)

    def _output_scores(self, users: np.ndarray, items: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """The scores shown for the top items (ranking scores by default; a rating model gives stars).

        Ranking works on any monotone score, so a model can skip an expensive transform over all
        items and apply it here to the few it returns.
        """
        return scores

    def recommend(
        self, users: Any | None = None, n: int = 10, *, exclude_seen: bool = True
    ) -> pd.DataFrame:
        """Top-``n`` recommendations for one user id, many, or all (``users=None``).

        Returns a frame with columns ``user, rank, item, score`` (and ``title`` when the data
        has titles), in the dataset's own ids; items the user rated in training are left out
        unless ``exclude_seen=False``.
        """
        self._check_fitted()
        idx = np.arange(len(self.user_ids_)) if users is None else self.user_index(users)
        items, scores = self.recommend_indexes(idx, n, exclude_seen=exclude_seen)
        return self._frame(self.user_ids_[idx], items, scores)

    def _frame(self, user_ids: np.ndarray, items: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
        k = items.shape[1]
        valid = items.ravel() >= 0
        flat_items = items.ravel()[valid]
        frame = pd.DataFrame(
            {
                "user": np.repeat(user_ids, k)[valid],
                "rank": np.tile(np.arange(1, k + 1), len(user_ids))[valid],
                "item": self.item_ids_[flat_items],
                "score": scores.ravel()[valid].astype(np.float64),
            }
        )
        if self.item_metadata_ is not None and "title" in self.item_metadata_.columns:
            frame["title"] = self.titles(flat_items)
        return frame

    def item_vectors(self) -> np.ndarray | None:
        """Item vectors for similarity and maps, ``(n_items, dim)``, or ``None`` when the model has none."""
        return None

    def similar_items(self, item: Any, n: int = 10) -> pd.DataFrame:
        """The ``n`` items most similar to ``item`` by cosine similarity of item vectors."""
        vectors = self.item_vectors()
        if vectors is None:
            raise ConfigError(f"model {self.name!r} has no item vectors, so it cannot find similar items.")
        if n < 1:
            raise ConfigError(f"n={n} is not allowed; ask for at least 1 similar item.")
        i = int(self.item_index(item)[0])
        v = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
        v = torch.nn.functional.normalize(v, dim=1)
        sims = v @ v[i]
        sims[i] = -torch.inf
        k = min(n, len(sims) - 1)
        vals, idx = torch.topk(sims, k)
        idx_np = idx.numpy()
        frame = pd.DataFrame(
            {"rank": np.arange(1, k + 1), "item": self.item_ids_[idx_np], "similarity": vals.numpy().astype(np.float64)}
        )
        if self.item_metadata_ is not None and "title" in self.item_metadata_.columns:
            frame["title"] = self.titles(idx_np)
        return frame

    # ------------------------------------------------------------------ saving
    def _get_state(self) -> dict[str, np.ndarray]:
        """The learned arrays to save (besides the vocabulary and seen matrix)."""
        return {}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore the learned arrays from :meth:`_get_state`."""

    def save(self, path: str | Path, *, extra: dict[str, Any] | None = None) -> Path:
        """Write the model to a run folder, atomically. Returns the folder."""
        from embrec.models.io import save_run

        self._check_fitted()
        return save_run(self, Path(path), extra=extra)

    @classmethod
    def load(cls, path: str | Path) -> "Recommender":
        """Load any saved model from its run folder."""
        from embrec.models.io import load_run

        return load_run(Path(path))

    def _restore_vocabulary(
        self,
        user_ids: np.ndarray,
        item_ids: np.ndarray,
        seen: sp.csr_matrix,
        rating_scale: tuple[float, float] | None,
        item_metadata: pd.DataFrame | None,
        history: TrainingHistory,
    ) -> None:
        self.user_ids_ = user_ids
        self.item_ids_ = item_ids
        self.seen_ = seen
        self.rating_scale_ = rating_scale
        self.item_metadata_ = item_metadata
        self.history_ = history
        self._user_lookup = pd.Index(user_ids)
        self._item_lookup = pd.Index(item_ids)

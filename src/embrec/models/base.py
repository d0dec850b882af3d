"""The interface every embrec model follows, and the machinery they share.

A model learns from an :class:`~embrec.data.Interactions` in ``fit`` and keeps the training
vocabulary, so every public method takes and returns the dataset's own ids. Subclasses
implement ``_fit``, ``_score_users`` (ranking scores for a batch of user indexes) and the two
state hooks used by saving; the base class does recommending, similar items, predictions,
id checks and the run folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from embrec import retrieval as ann
from embrec.data.interactions import Interactions
from embrec.errors import ConfigError, DataError, EmbrecError, NotFittedError, UnknownIdError
from embrec.models.runfolder import save_run
from embrec.models.settings import ModelConfig
from embrec.ranking import Block, Factors, iter_top_n, top_k_rows, top_n
from embrec.retrieval import Retrieval

__all__ = ["Recommender", "ProgressFn", "TrainingHistory"]

log = logging.getLogger(__name__)

#: One approximate index is built at a time (the service ranks on several threads).
_INDEX_LOCK = threading.Lock()
#: Users probed to check that a model's vectors multiply to its scores (:meth:`Recommender._ranking_factors`).
_PROBES = 8

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
    config_class: ClassVar[type[ModelConfig]]
    #: The dataclass of ``resolved_config_`` when it is not ``config_class``.
    resolved_class: ClassVar[type[ModelConfig] | None] = None
    #: The settings, exactly as given.
    config: ModelConfig
    #: The settings ``fit`` used: ``config`` with what it left to the data decided (a ``resolved_class``).
    resolved_config_: ModelConfig
    #: True when ``predict`` gives ratings on the star scale.
    predicts_ratings: ClassVar[bool] = False
    #: True when the model can fold a new user in from their ratings, without retraining (``fold_in``).
    can_fold_in: ClassVar[bool] = False
    #: True when the model can rank every item for a user who is not in the training data from that
    #: user's history alone (``score_history``): every model that folds users in, and the models
    #: without user parameters (EASE, popularity), whose scores are a function of the history.
    can_score_history: ClassVar[bool] = False
    #: sha256 of the training data (set by ``fit``; read back from a run folder).
    data_fingerprint_: str | None
    #: The run folder's ``embrec.json`` (models loaded from a run folder only).
    run_info_: dict[str, Any]

    def __init__(self, config: Any | None = None, **overrides: Any) -> None:
        # only stores the settings, exactly as given; what fit decides from them goes to resolved_config_
        if config is None:
            config = self.config_class(**overrides)
        if not isinstance(config, self.config_class):
            raise ConfigError(
                f"{type(self).__name__} takes a {self.config_class.__name__} (or its settings by name), "
                f"got {type(config).__name__}: {config!r}."
            )
        if overrides:
            config = dataclasses.replace(config, **overrides)
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
        self._check_memory(train)  # before the seen matrix, the first thing fit allocates
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

    def settings_for(self, train: Interactions) -> dict[str, Any]:
        """The settings a fit on ``train`` would train with: the config's, with every setting that
        ``fit`` decides from the data (``None``, ``auto``) decided. Reads only the data's shape."""
        return self.config.to_dict()

    def _check_memory(self, train: Interactions) -> None:  # noqa: B027 - a hook; models that know their needs override it
        """Raise :class:`~embrec.errors.ConfigError` when fitting ``train`` would need more memory
        than is free (:mod:`embrec.models.memory`); called before ``fit`` allocates anything."""

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
            with contextlib.suppress(
                ValueError, TypeError, OverflowError
            ):  # ids typed on a command line or as JSON text
                idx = lookup.get_indexer(arr.astype(np.int64))
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
        self,
        users: np.ndarray,
        n: int = 10,
        *,
        exclude_seen: bool = True,
        chunk_size: int | None = None,
        retrieval: Retrieval = "exact",
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` item indexes and scores for user indexes (rows padded with -1).

        ``retrieval``: ``"exact"`` scores every item; ``"ann"`` searches the model's approximate
        index (:mod:`embrec.retrieval`; needs ``embrec[ann]`` and a model whose scores are a
        product of vectors); ``"auto"`` searches it only for catalogues where that was measured
        to pay. ``chunk_size``: users ranked at once (``None``: as many as bounded memory allows).
        """
        users = np.asarray(users, dtype=np.int64)
        items = np.full((len(users), max(n, 0)), -1, dtype=np.int64)
        scores = np.full((len(users), max(n, 0)), -np.inf, dtype=np.float32)
        for block in self.iter_recommend_indexes(
            users, n, exclude_seen=exclude_seen, block_size=chunk_size, retrieval=retrieval
        ):
            rows = slice(block.start, block.start + len(block.items))
            items[rows], scores[rows] = block.items, block.scores
        return items, scores

    def retrieval_mode(self, retrieval: Retrieval, n_users: int) -> str:
        """``exact`` or ``ann``: what ``retrieval`` decides for a request of ``n_users`` users of this
        model (``auto`` by the catalogue's size and the users'; a part of a request split across
        processes passes the whole request's decision on, so its lists are the whole request's)."""
        self._check_fitted()
        return ann.resolve(retrieval, len(self.item_ids_), n_users, has_factors=self._has_factors())

    def iter_recommend_indexes(
        self,
        users: np.ndarray,
        n: int = 10,
        *,
        exclude_seen: bool = True,
        block_size: int | None = None,
        retrieval: Retrieval = "exact",
    ) -> Iterator[Block]:
        """:meth:`recommend_indexes` a block of users at a time: memory for one block, whatever the number of users.

        Yields :class:`~embrec.ranking.Block` objects (``start``, ``items``, ``scores``) in the
        order of ``users``; the scores are the ones :meth:`recommend` shows.
        """
        self._check_fitted()
        if n < 1:
            raise ConfigError(f"n={n} is not allowed; ask for at least 1 recommendation.")
        users = np.asarray(users, dtype=np.int64)
        seen = self.seen_ if exclude_seen else None
        n_items = len(self.item_ids_)
        mode = ann.resolve(retrieval, n_items, len(users), has_factors=self._has_factors())
        blocks: Iterator[Block]
        with torch.no_grad():
            if mode == "ann":
                blocks = self._recommend_index().iter_recommend(users, n, seen=seen)
            else:
                # many users: the model's factors into one reused buffer; a few: its own scores
                factors = self._ranking_factors() if len(users) > ann.FEW_USERS else None
                scorer = factors if factors is not None else self._score_users
                blocks = iter_top_n(scorer, users, n, seen=seen, block_size=block_size)
        while True:
            # no grad while a block is made, never across a yield: the caller's own code would run without it
            with torch.no_grad():
                block = next(blocks, None)
                if block is None:
                    return
                rows = users[block.start : block.start + len(block.items)]
                out = Block(block.start, block.items, self._output_scores(rows, block.items, block.scores))
            yield out

    def _output_scores(self, users: np.ndarray, items: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """The scores shown for the top items (ranking scores by default; a rating model gives stars).

        Ranking works on any monotone score, so a model can skip an expensive transform over all
        items and apply it here to the few it returns.
        """
        return scores

    def recommend(
        self, users: Any | None = None, n: int = 10, *, exclude_seen: bool = True, retrieval: Retrieval = "exact"
    ) -> pd.DataFrame:
        """Top-``n`` recommendations for one user id, many, or all (``users=None``).

        Returns a frame with columns ``user, rank, item, score`` (and ``title`` when the data
        has titles), in the dataset's own ids; items the user rated in training are left out
        unless ``exclude_seen=False``. ``retrieval`` as in :meth:`recommend_indexes`.
        """
        self._check_fitted()
        idx = np.arange(len(self.user_ids_)) if users is None else self.user_index(users)
        items, scores = self.recommend_indexes(idx, n, exclude_seen=exclude_seen, retrieval=retrieval)
        return self._frame(self.user_ids_[idx], items, scores)

    def iter_recommend(
        self,
        users: Any | None = None,
        n: int = 10,
        *,
        exclude_seen: bool = True,
        retrieval: Retrieval = "exact",
        block_size: int | None = None,
    ) -> Iterator[pd.DataFrame]:
        """:meth:`recommend`, a frame per block of users: concatenated, they are what it returns.

        Memory stays at one block whatever the number of users (``embrec recommend --all-users``
        streams these to its file).
        """
        self._check_fitted()
        idx = np.arange(len(self.user_ids_)) if users is None else self.user_index(users)
        for block in self.iter_recommend_indexes(
            idx, n, exclude_seen=exclude_seen, block_size=block_size, retrieval=retrieval
        ):
            rows = idx[block.start : block.start + len(block.items)]
            yield self._frame(self.user_ids_[rows], block.items, block.scores)

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

    def similar_indexes(
        self, item_index: int, n: int = 10, *, retrieval: Retrieval = "exact"
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` items most similar to the item at ``item_index``, by cosine similarity of item vectors.

        Returns ``(indexes, similarities)``, most similar first (equal similarities by lower
        index), ``min(n, n_items - 1)`` of each (the item itself is left out). ``retrieval`` as
        in :meth:`recommend_indexes` (``"ann"`` searches an index over the unit-length vectors).
        """
        self._check_fitted()
        vectors = self.item_vectors()
        if vectors is None:
            raise ConfigError(f"model {self.name!r} has no item vectors, so it cannot find similar items.")
        if n < 1:
            raise ConfigError(f"n={n} is not allowed; ask for at least 1 similar item.")
        n_items = len(self.item_ids_)
        i = int(item_index)
        if not 0 <= i < n_items:
            raise UnknownIdError(
                f"item index {item_index!r} is out of range: the model has {n_items:,} items (indexes 0 to "
                f"{n_items - 1}); turn item ids into indexes with item_index()."
            )
        if ann.resolve(retrieval, n_items) == "ann":
            found = self._similar_index(vectors).similar(i, n)
            if found is not None:  # else the index found too few: rank them all
                return found
        v = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
        v = torch.nn.functional.normalize(v, dim=1)
        sims = v @ v[i]
        sims[i] = -torch.inf
        vals, idx = top_k_rows(sims[None, :], min(n, n_items - 1))  # equal similarities: lower index first
        return idx[0].numpy().astype(np.int64), vals[0].numpy().astype(np.float64)

    def similar_items(self, item: Any, n: int = 10, *, retrieval: Retrieval = "exact") -> pd.DataFrame:
        """The ``n`` items most similar to ``item`` by cosine similarity of item vectors."""
        idx, sims = self.similar_indexes(int(self.item_index(item)[0]), n, retrieval=retrieval)
        frame = pd.DataFrame({"rank": np.arange(1, len(idx) + 1), "item": self.item_ids_[idx], "similarity": sims})
        if self.item_metadata_ is not None and "title" in self.item_metadata_.columns:
            frame["title"] = self.titles(idx)
        return frame

    # ------------------------------------------------------------------ factors and the approximate index
    def _ranking_factors(self) -> Factors | None:
        """The model's ranking scores as a product, ``users[u] @ items.T + item_bias``, or ``None``.

        A hook: models whose scores have that form may return their factors directly. By default
        they come from ``user_vectors()`` and :meth:`item_vectors`, with the item offsets of
        ``score_new_user(zero vector)`` for models that fold users in, and are used only if
        they give :meth:`_score_users`'s scores for a few probed users (to float32 rounding).
        Exact ranking of many users goes through them (one buffer for every block, bfloat16 first
        on AMX), and the approximate index is built from them.
        """
        user_vectors = getattr(self, "user_vectors", None)
        items = self.item_vectors()
        if user_vectors is None or items is None:
            return None
        users = np.asarray(user_vectors())
        if users.ndim != 2 or items.ndim != 2 or users.shape[1] != items.shape[1] or len(users) == 0:
            return None
        bias = None
        if self.can_fold_in:
            with contextlib.suppress(EmbrecError):
                bias = np.asarray(self.score_new_user(np.zeros(users.shape[1], dtype=np.float32)), dtype=np.float32)
        factors = Factors.from_numpy(users, items, bias)
        probe = np.unique(np.linspace(0, len(users) - 1, min(_PROBES, len(users))).astype(np.int64))
        with torch.no_grad():
            want = self._score_users(probe).float()
        got = factors.scores(probe)
        if want.shape != got.shape or not bool(torch.isfinite(want).all()):
            return None
        scale = float(want.abs().max()) if want.numel() else 0.0
        if not torch.allclose(got, want.cpu(), rtol=1e-4, atol=1e-5 * max(scale, 1e-30)):
            return None
        return factors.to(want.device) if want.device.type != "cpu" else factors

    def _has_factors(self) -> bool:
        """Whether the model's scores may be a product of vectors (checked when the index is built)."""
        return (
            getattr(self, "user_vectors", None) is not None and type(self).item_vectors is not Recommender.item_vectors
        )

    def _cached_index(self, kind: str, build: Callable[[], Any]) -> Any:
        """The approximate index ``kind`` of this fitted model, built on first use.

        ``fit`` and loading give the model a new ``seen_``, which drops the indexes of the model
        it was before; weights changed in place keep a stale index.
        """
        with _INDEX_LOCK:
            cache: tuple[sp.csr_matrix, dict[str, Any]] | None = getattr(self, "_indexes", None)
            if cache is None or cache[0] is not self.seen_:
                cache = (self.seen_, {})
                self._indexes = cache
            if kind not in cache[1]:
                cache[1][kind] = build()
                log.info("built the %s index of %r", kind, self.name)
            return cache[1][kind]

    def _recommend_index(self) -> ann.RecommendIndex:
        def build() -> ann.RecommendIndex:
            factors = self._ranking_factors()
            if factors is None:
                raise ConfigError(
                    f"model {self.name!r} does not score items as a product of user and item vectors, so it has no "
                    "approximate index; use retrieval='exact'."
                )
            return ann.RecommendIndex(factors)

        index: ann.RecommendIndex = self._cached_index("recommend", build)
        return index

    def _similar_index(self, vectors: np.ndarray) -> ann.SimilarIndex:
        index: ann.SimilarIndex = self._cached_index("similar", lambda: ann.SimilarIndex(vectors))
        return index

    # ------------------------------------------------------------------ new users
    def _cannot_fold_in(self) -> ConfigError:
        return ConfigError(
            f"model {self.name!r} cannot fold new users in (can_fold_in is False); train an embedding model "
            "(models.create('embedding')) to recommend for users who are not in the training data."
        )

    def fold_in(self, items: Iterable[Any], ratings: Iterable[float] | None = None) -> tuple[np.ndarray, float]:
        """Vector and bias of a new user from their (item id, rating) pairs, without retraining.

        Only models whose ``can_fold_in`` is true can; the others raise :class:`ConfigError`.
        """
        raise self._cannot_fold_in()

    def score_new_user(self, vector: np.ndarray, bias: float = 0.0) -> np.ndarray:
        """Ranking scores (higher is better) of every item, ``(n_items,)``, for a user folded in with
        :meth:`fold_in` (its ``vector`` and ``bias``)."""
        raise self._cannot_fold_in()

    def score_history(self, items: Iterable[Any], ratings: Iterable[float] | None = None) -> np.ndarray:
        """Ranking scores (higher is better) of every item, ``(n_items,)``, for a user who is not in the
        training data, from their (item id, rating) pairs, without retraining.

        Models that fold users in fold the user in (:meth:`fold_in`) and score the vector; models
        without user parameters (``can_score_history`` true) score the history as they score a
        training user's. The history's own items are not left out (see :meth:`recommend_new_user`).

        Raises:
            ConfigError: the model cannot score a history (``can_score_history`` is false).
        """
        if self.can_fold_in:
            vector, bias = self.fold_in(items, ratings)
            return np.asarray(self.score_new_user(vector, bias))
        raise ConfigError(
            f"model {self.name!r} cannot score a user who is not in its training data (can_score_history is "
            "False); use an embedding, EASE or popularity model, or train with that user's rows."
        )

    def predict_new_user(self, vector: np.ndarray, bias: float, items: Any) -> np.ndarray:
        """Predicted ratings in stars of the given item ids for a user folded in with :meth:`fold_in`
        (rating models only)."""
        if not self.can_fold_in:
            raise self._cannot_fold_in()
        raise ConfigError(
            f"model {self.name!r} ranks items but does not predict ratings, so it predicts none for a new user "
            "either; use recommend_new_user(), or train a rating model (objective='rating')."
        )

    def recommend_new_user_indexes(
        self, vector: np.ndarray, bias: float = 0.0, n: int = 10, *, exclude: Any | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` item indexes and scores for a user folded in with :meth:`fold_in` (padded with -1).

        ``exclude`` holds item indexes to leave out (the items the user rated). The scores are
        the ones :meth:`recommend_indexes` shows: ranking scores, or stars for a rating model.
        """
        self._check_fitted()
        if n < 1:
            raise ConfigError(f"n={n} is not allowed; ask for at least 1 recommendation.")
        n_items = len(self.item_ids_)
        # a copy: top_n masks the excluded items in place
        scores = torch.from_numpy(np.array(self.score_new_user(vector, bias), dtype=np.float32)).unsqueeze(0)
        seen = None
        if exclude is not None:
            rated = np.asarray(exclude, dtype=np.int64).reshape(-1)
            if ((rated < 0) | (rated >= n_items)).any():
                raise UnknownIdError(
                    f"item index {rated[(rated < 0) | (rated >= n_items)][0]} is out of range: the model has "
                    f"{n_items:,} items (indexes 0 to {n_items - 1}); turn item ids into indexes with item_index()."
                )
            seen = sp.csr_matrix(
                (np.ones(len(rated)), (np.zeros(len(rated), dtype=np.int64), rated)), shape=(1, n_items)
            )
        top, shown = top_n(lambda _: scores, np.zeros(1, dtype=np.int64), n, seen=seen)
        return top[0], self._new_user_output_scores(top[0], shown[0], bias)

    def _new_user_output_scores(self, items: np.ndarray, scores: np.ndarray, bias: float) -> np.ndarray:
        """The scores shown for a new user's top items (as :meth:`_output_scores` for training users)."""
        return scores

    def recommend_new_user(
        self, items: Iterable[Any], ratings: Iterable[float] | None = None, n: int = 10, *, exclude_rated: bool = True
    ) -> pd.DataFrame:
        """Top-``n`` for a new user folded in from their ratings (their rated items left out).

        Returns a frame with columns ``rank, item, score`` (and ``title``), as :meth:`recommend`.
        """
        items = list(items)
        vector, bias = self.fold_in(items, ratings)
        rated = self.item_index(items) if exclude_rated else None
        top, scores = self.recommend_new_user_indexes(vector, bias, n, exclude=rated)
        frame = self._frame(np.asarray(["new"], dtype=object), top[None, :], scores[None, :])
        return frame.drop(columns="user")

    # ------------------------------------------------------------------ saving
    def _get_state(self) -> dict[str, np.ndarray]:
        """The learned arrays to save (besides the vocabulary and seen matrix)."""
        return {}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:  # noqa: B027 - a hook; models without state keep it
        """Restore the learned arrays from :meth:`_get_state`."""

    def save(self, path: str | Path, *, extra: dict[str, Any] | None = None) -> Path:
        """Write the model to a run folder, atomically. Returns the folder.

        Load it back with :func:`embrec.models.load`.
        """
        self._check_fitted()
        return save_run(self, Path(path), extra=extra)

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

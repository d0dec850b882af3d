"""What every set of lists is scored against, built once per split.

:class:`EvaluationContext` holds the evaluated users (test users with at least one relevant test
item), their relevant items, training popularity and item genres; it lines a model up with the
split, ranks for it and gathers its predicted ratings (:class:`RatingPredictions`).
:class:`ScoringContext` is one set of top-``k`` lists together with everything a metric of the
catalogue (:mod:`embrec.evaluation.catalog`) may read beside them.

Two definitions live here (``docs/metrics.md`` gives the reasons): the **catalogue** of coverage
and Gini is the items with at least one training interaction (:attr:`ScoringContext.catalog`),
and RMSE/MAE score only the test pairs whose user and item both have training data (the
others, *cold* pairs, are counted and left out).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from embrec.data.splits import Split
from embrec.errors import ConfigError, DataError
from embrec.evaluation.genres import genre_matrix
from embrec.metrics import item_popularity

if TYPE_CHECKING:
    from embrec.data.interactions import Interactions
    from embrec.evaluation.rerank import Reranker
    from embrec.models.base import Recommender

__all__ = ["MAX_K", "EvaluationContext", "ModelView", "ScoringContext", "RatingPredictions", "check_k", "longest_k"]

# Test pairs predicted per call, so RMSE on a large test set stays within memory.
_PREDICT_CHUNK = 1 << 20


#: Longest list evaluated: trec_eval's deepest cut-off. Every evaluated user gets ``k`` numbers
#: (and every metric pads to ``k``), so ``k=10**9`` would ask for hundreds of GiB.
MAX_K = 1000
#: Lists up to this long may run past a small catalogue (padded with empty slots, which count as
#: misses), as a top-10 of a toy catalogue of 5 films does.
_PADDED_K = 100


def longest_k(n_items: int) -> int:
    """The longest list length allowed on a catalogue of ``n_items`` items (see :func:`check_k`)."""
    return min(MAX_K, max(n_items, _PADDED_K))


def check_k(k: object, n_items: int) -> int:
    """The list length ``k``, checked: a whole number from 1 to :func:`longest_k` of ``n_items``.

    That is at most the catalogue (a list holds each item once; a small catalogue's lists may be
    padded up to 100 slots) and at most :data:`MAX_K`.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k must be a positive integer (the list length), got {k!r}; pass for example k=10.")
    longest = longest_k(n_items)
    if k > longest:
        raise ConfigError(
            f"k={k!r} is too long: the catalogue has {n_items:,} items and lists are at most {MAX_K:,} long; "
            f"give k from 1 to {longest:,}."
        )
    return int(k)


@dataclass(frozen=True)
class ScoringContext:
    """One set of top-``k`` lists and everything the catalogue's metrics may read beside them.

    Attributes:
        recs: ``(n_users, k)`` item indexes of the split's vocabulary, ``-1`` padding.
        truth: ``(n_users, n_items)`` boolean relevance, rows aligned with ``recs``.
        k: list length.
        n_items: size of the item vocabulary.
        item_user_counts: training users per item (its non-zeros are the :attr:`catalog`).
        n_training_users: users with at least one training interaction.
        item_vectors: ``(n_items, d)`` item embeddings in the split's item order, if any.
        genres: binary ``(n_items, n_genres)`` matrix, if the data has genres.
        predictions: predicted ratings (stars) of the test pairs whose user and item have
            training data, if a model predicts ratings.
        ratings: the true ratings of those same test pairs.
        cold_pairs: test pairs left out of ``predictions`` because their user or item has no
            training data (0 when nothing is predicted).
    """

    recs: NDArray[np.int64]
    truth: sp.csr_matrix
    k: int
    n_items: int
    item_user_counts: NDArray[np.int64]
    n_training_users: int
    item_vectors: NDArray[np.float64] | None = None
    genres: sp.csr_matrix | None = None
    predictions: NDArray[np.float64] | None = None
    ratings: NDArray[np.float64] | None = None
    cold_pairs: int = 0

    @property
    def n_users(self) -> int:
        return int(self.recs.shape[0])

    @property
    def catalog(self) -> NDArray[np.int64]:
        """The catalogue of coverage and Gini: indexes of the items with at least one training user.

        An item without training data has no learned parameters (a model's score of it comes from
        its initialisation or defaults), so the items that appear only in the test part are
        outside the catalogue (``docs/metrics.md``).
        """
        return np.flatnonzero(np.asarray(self.item_user_counts) > 0).astype(np.int64)


@dataclass(frozen=True)
class RatingPredictions:
    """A model's predicted ratings of the test pairs RMSE and MAE score, and how many were left out.

    Attributes:
        predicted: predicted ratings (stars) of the test pairs whose user and item both have
            training data, in test order.
        ratings: the true ratings of those pairs.
        cold_pairs: the other test pairs (user or item without training data), not scored.
    """

    predicted: NDArray[np.float64]
    ratings: NDArray[np.float64]
    cold_pairs: int

    @property
    def rated_pairs(self) -> int:
        return int(self.predicted.size)


@dataclass
class ModelView:
    """A model's indexes lined up with the split's vocabulary."""

    users: NDArray[np.int64]  # the model's index of each evaluated user
    to_split: NDArray[np.int64] | None  # split item index of each model item (None: identical)
    vectors: NDArray[np.float64] | None  # item vectors in split item order


@dataclass
class EvaluationContext:
    """What every model (or set of saved lists) is scored against: users, relevance, popularity, genres."""

    split: Split
    k: int
    threshold: float | None
    users: NDArray[np.int64]
    truth: sp.csr_matrix
    item_user_counts: NDArray[np.int64]
    n_training_users: int
    genres: sp.csr_matrix | None

    @classmethod
    def build(cls, split: Split, *, k: int, threshold: float | None) -> EvaluationContext:
        """The evaluated users of ``split`` (a relevant test item each) and what they are scored on.

        Raises:
            DataError: ``split`` is not a :class:`Split`, or no test user has a relevant item.
            ConfigError: a bad ``k`` or ``threshold``.
        """
        if not isinstance(split, Split):
            raise DataError(f"split must be a Split (see make_split), got {type(split).__name__}.")
        check_k(k, split.train.n_items)
        used = _used_threshold(split.test, threshold)
        rel = _relevance(split.test, used)
        users = np.flatnonzero(np.diff(rel.indptr) > 0).astype(np.int64)
        if users.size == 0:
            raise _nothing_relevant(split.test, used)
        counts, n_train = item_popularity(split.train.to_csr("ones"))
        return cls(
            split=split,
            k=int(k),
            threshold=used,
            users=users,
            truth=rel[users],
            item_user_counts=counts,
            n_training_users=n_train,
            genres=genre_matrix(split.train.item_metadata),
        )

    @property
    def user_ids(self) -> np.ndarray:
        """The evaluated users' own ids, the rows of every table."""
        return self.split.train.user_ids[self.users]

    @property
    def item_ids(self) -> np.ndarray:
        """The data's item ids, indexed by the item indexes of the lists."""
        return self.split.train.item_ids

    @property
    def n_items(self) -> int:
        return self.split.train.n_items

    @property
    def catalog_items(self) -> int:
        """Size of the catalogue of coverage and Gini: items with at least one training interaction."""
        return int(np.count_nonzero(self.item_user_counts))

    def scoring(
        self,
        recs: NDArray[np.int64],
        *,
        item_vectors: NDArray[np.float64] | None = None,
        predictions: RatingPredictions | None = None,
    ) -> ScoringContext:
        """``recs`` (one row per evaluated user) with everything the catalogue's metrics read.

        ``predictions`` are a model's predicted ratings, as from :meth:`predictions`.
        """
        predicted, ratings, cold = None, None, 0
        if predictions is not None:
            cold = predictions.cold_pairs
            if predictions.rated_pairs:
                predicted, ratings = predictions.predicted, predictions.ratings
        return ScoringContext(
            recs=recs,
            truth=self.truth,
            k=self.k,
            n_items=self.n_items,
            item_user_counts=self.item_user_counts,
            n_training_users=self.n_training_users,
            item_vectors=item_vectors,
            genres=self.genres,
            predictions=predicted,
            ratings=ratings,
            cold_pairs=cold,
        )

    def align(self, model: Recommender) -> ModelView:
        """Line ``model`` up with the split, or explain why it was trained on other data."""
        label = getattr(model, "name", type(model).__name__)
        if not model.is_fitted:
            raise DataError(f"model {label!r} is not fitted; fit it on split.train (or load a run) before evaluating.")
        data_items = self.split.train.item_ids
        model_items = np.asarray(model.item_ids_)
        to_split: NDArray[np.int64] | None = None
        if not (len(model_items) == len(data_items) and np.array_equal(model_items, data_items)):
            to_split = pd.Index(data_items).get_indexer(model_items).astype(np.int64)
            if (to_split < 0).any():
                missing = model_items[to_split < 0]
                raise DataError(
                    f"model {label!r} knows {missing.size:,} item id(s) not in the evaluation data (such as "
                    f"{missing[0]!r}): it was trained on other data. Evaluate it on the data and split it was trained on."
                )
        users = pd.Index(np.asarray(model.user_ids_)).get_indexer(self.user_ids).astype(np.int64)
        if (users < 0).any():
            missing = self.user_ids[users < 0]
            raise DataError(
                f"model {label!r} does not know {missing.size:,} evaluated user id(s) (such as {missing[0]!r}): "
                "it was trained on other data. Evaluate it on the data and split it was trained on."
            )
        raw = model.item_vectors()
        vectors = None
        if raw is not None:
            raw = np.asarray(raw, dtype=np.float64)
            if to_split is None:
                vectors = raw
            else:
                vectors = np.zeros((self.n_items, raw.shape[1]))
                vectors[to_split] = raw
        return ModelView(users=users, to_split=to_split, vectors=vectors)

    def rank(
        self, model: Recommender, n: int, view: ModelView | None = None
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Top-``n`` items (split indexes, ``-1`` padding) and scores of every evaluated user."""
        view = view or self.align(model)
        items, scores = model.recommend_indexes(view.users, n, exclude_seen=True)
        items = np.asarray(items, dtype=np.int64)
        if view.to_split is not None:
            items = np.where(items >= 0, view.to_split[np.where(items >= 0, items, 0)], -1)
        return items, np.asarray(scores, dtype=np.float64)

    def rerank(
        self,
        reranker: Reranker,
        model: Recommender,
        view: ModelView,
        candidates: NDArray[np.int64],
        scores: NDArray[np.float64],
    ) -> NDArray[np.int64]:
        """``reranker``'s top-``k`` lists from ``model``'s ``candidates`` (as from :meth:`rank`) and their scores.

        MMR uses the item vectors of ``view``; the novelty re-ranker the training popularity.
        """
        return reranker.apply(
            model,
            self.split.train,
            candidates,
            scores,
            self.k,
            item_vectors=view.vectors,
            item_user_counts=self.item_user_counts,
            n_training_users=self.n_training_users,
        )

    def predictions(self, model: Recommender) -> RatingPredictions | None:
        """The model's predicted ratings of the test pairs whose user and item both have training
        data, or ``None`` when it predicts no ratings or the data has none.

        The other test pairs (cold pairs) are counted, not predicted: the model has no trained
        parameters for their user or item, so its rating would be its initial value (or only its
        global mean), which measures the initialisation rather than what was learned.
        """
        test = self.split.test
        if not bool(model.predicts_ratings) or test.ratings is None:
            return None
        trained_users = np.bincount(self.split.train.users, minlength=test.n_users) > 0
        warm = trained_users[test.users] & (self.item_user_counts > 0)[test.items]
        user_ids, item_ids = test.user_ids[test.users], test.item_ids[test.items]
        users = pd.Index(np.asarray(model.user_ids_)).get_indexer(user_ids)
        items = pd.Index(np.asarray(model.item_ids_)).get_indexer(item_ids)
        known = warm & (users >= 0) & (items >= 0)
        cold = int(test.n_ratings - known.sum())
        if not known.any():
            return RatingPredictions(np.zeros(0), np.zeros(0), cold)
        u, i = user_ids[known], item_ids[known]
        predicted = np.concatenate(
            [
                np.asarray(model.predict(u[s : s + _PREDICT_CHUNK], i[s : s + _PREDICT_CHUNK]), dtype=np.float64)
                for s in range(0, u.size, _PREDICT_CHUNK)
            ]
        )
        return RatingPredictions(predicted, np.asarray(test.ratings[known], dtype=np.float64), cold)


def _used_threshold(test: Interactions, threshold: float | None) -> float | None:
    """The checked ``threshold``, or ``None`` where every test item is relevant (no threshold, or no ratings)."""
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not math.isfinite(float(threshold))
    ):
        raise ConfigError(
            f"threshold must be a finite rating or None, got {threshold!r}; pass for example threshold=4.0."
        )
    return None if test.ratings is None or threshold is None else float(threshold)


def _relevance(test: Interactions, threshold: float | None) -> sp.csr_matrix:
    """Boolean ``(n_users, n_items)`` relevance of the test pairs: rating ``>= threshold``, or all of them."""
    if threshold is None or test.ratings is None:
        keep = np.ones(test.n_ratings, dtype=bool)
    else:
        keep = test.ratings >= threshold
    rel = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.bool_), (test.users[keep], test.items[keep])),
        shape=(test.n_users, test.n_items),
    )
    rel.sum_duplicates()
    return rel


def _nothing_relevant(test: Interactions, threshold: float | None) -> DataError:
    span, lower = "", "a lower threshold"
    if test.ratings is not None and test.n_ratings:
        span = f" (they run from {test.ratings.min():g} to {test.ratings.max():g})"
        lower = f"a lower threshold, such as threshold={test.ratings.max():g},"
    return DataError(
        f"no test user has a relevant item: none of the {test.n_ratings:,} test ratings is >= "
        f"threshold={threshold}{span}; pass {lower} or threshold=None to count every test item."
    )

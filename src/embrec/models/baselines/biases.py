"""Damped biases: a global mean plus user and item offsets, the classic rating baseline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from embrec.data.interactions import Interactions
from embrec.errors import ConfigError
from embrec.models.base import ProgressFn, Recommender
from embrec.models.settings import ModelConfig, NonNegative
from embrec.models.space import Float, SearchSpace

__all__ = ["BiasConfig", "BiasRecommender"]


@dataclass(frozen=True, kw_only=True)
class BiasConfig(ModelConfig):
    """Configuration of :class:`BiasRecommender`."""

    model_name: ClassVar[str] = "biases"
    #: What ``embrec tune`` tries: from almost no damping to a hundred pseudo-ratings.
    search_space: ClassVar[SearchSpace] = {
        "item_damping": Float(0.1, 100.0, log=True),
        "user_damping": Float(0.1, 100.0, log=True),
    }

    item_damping: NonNegative = 5.0
    """Pseudo-ratings at the global mean added to each item: pulls the bias of rarely rated
    items towards 0."""
    user_damping: NonNegative = 5.0
    """Pseudo-ratings added to each user, as ``item_damping``."""


def _damped_mean(index: np.ndarray, values: np.ndarray, size: int, damping: float) -> np.ndarray:
    """``sum(values of group g) / (count of g + damping)`` per group; 0 for an empty group."""
    total = np.bincount(index, weights=values, minlength=size)
    denominator = np.bincount(index, minlength=size) + damping
    return np.divide(total, denominator, out=np.zeros(size), where=denominator > 0)


class BiasRecommender(Recommender):
    """Predicts ``mu + b_u + b_i`` stars, with damped means as biases.

    ``b_i = sum_u (r_ui - mu) / (n_i + item_damping)`` and
    ``b_u = sum_i (r_ui - mu - b_i) / (n_u + user_damping)``, as LensKit's ``BiasScorer``
    (Ekstrand, *LensKit for Python*, CIKM 2020) and Koren's baseline predictor
    (*Factor in the Neighbors*, TKDD 2010, section 2.1) computed in one pass.

    Predictions are clipped to the rating scale. Ranking scores are the unclipped
    predictions, so every user gets the same order of items (by item bias): it ranks
    poorly and is here as a rating baseline, not a top-N one.
    """

    name = "biases"
    config_class = BiasConfig
    config: BiasConfig
    predicts_ratings: ClassVar[bool] = True

    def _fit(self, train: Interactions, progress: ProgressFn | None) -> None:
        if train.ratings is None:
            raise ConfigError(
                f"{train.name!r} has no ratings (implicit feedback), so the biases model cannot be trained; "
                "use 'popularity', 'ease', 'als' or 'bpr' instead."
            )
        cfg = self.config
        r = train.ratings.astype(np.float64)
        mu = float(r.mean())
        n_items, n_users = train.n_items, train.n_users
        item_bias = _damped_mean(train.items, r - mu, n_items, cfg.item_damping)
        user_bias = _damped_mean(train.users, r - mu - item_bias[train.items], n_users, cfg.user_damping)
        self.resolved_config_ = cfg  # nothing is left to decide
        self.global_mean_ = np.float32(mu)
        self.item_bias_ = item_bias.astype(np.float32)
        self.user_bias_ = user_bias.astype(np.float32)

    def _score_users(self, users: np.ndarray) -> torch.Tensor:
        self._check_fitted()
        bu = torch.from_numpy(self.user_bias_[np.asarray(users, dtype=np.int64)])
        bi = torch.from_numpy(self.item_bias_)
        return float(self.global_mean_) + bu.unsqueeze(1) + bi.unsqueeze(0)

    def _predict_indexes(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        pred = (self.global_mean_ + self.user_bias_[users] + self.item_bias_[items]).astype(np.float64)
        if self.rating_scale_ is not None:
            lo, hi = self.rating_scale_
            pred = np.clip(pred, lo, hi)
        return pred

    def _get_state(self) -> dict[str, np.ndarray]:
        return {
            "global_mean": np.asarray([self.global_mean_], dtype=np.float32),
            "user_bias": self.user_bias_,
            "item_bias": self.item_bias_,
        }

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        user_bias = np.asarray(state["user_bias"], dtype=np.float32)
        item_bias = np.asarray(state["item_bias"], dtype=np.float32)
        if user_bias.shape != (len(self.user_ids_),) or item_bias.shape != (len(self.item_ids_),):
            raise ValueError(
                f"biases are for {user_bias.shape} users x {item_bias.shape} items, the vocabulary has "
                f"{len(self.user_ids_)} x {len(self.item_ids_)}"
            )
        self.global_mean_ = np.float32(state["global_mean"][0])
        self.user_bias_ = user_bias
        self.item_bias_ = item_bias

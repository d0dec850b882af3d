"""The popularity baseline: every user gets the items most training users have."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from embrec.data.interactions import Interactions
from embrec.models.base import ProgressFn, Recommender
from embrec.models.settings import ModelConfig

__all__ = ["PopularityConfig", "PopularityRecommender"]


@dataclass(frozen=True, kw_only=True)
class PopularityConfig(ModelConfig):
    """Configuration of :class:`PopularityRecommender` (it has no settings)."""

    model_name: ClassVar[str] = "popularity"


class PopularityRecommender(Recommender):
    """Ranks items by the number of distinct training users who have them, the same list for everyone.

    Not personalised, yet hard to beat on accuracy metrics; the yardstick for every other model.
    Items with equal counts come in ascending item index, which is ascending item id for data
    loaded by embrec (ids are sorted into the vocabulary): :func:`embrec.ranking.top_n` breaks
    every model's ties that way, so the lists are the same on every machine.
    """

    name = "popularity"
    config_class = PopularityConfig
    config: PopularityConfig
    can_score_history = True

    def _fit(self, train: Interactions, progress: ProgressFn | None) -> None:
        self.resolved_config_ = self.config  # nothing is left to decide
        # seen_ is the de-duplicated binary matrix, so column counts are distinct users
        self.item_counts_ = np.diff(self.seen_.tocsc().indptr).astype(np.float32)

    def _score_users(self, users: np.ndarray) -> torch.Tensor:
        self._check_fitted()
        counts = torch.from_numpy(self.item_counts_)
        return counts.unsqueeze(0).expand(len(users), -1).clone()

    def score_history(self, items: Iterable[Any], ratings: Iterable[float] | None = None) -> np.ndarray:
        """The training counts, the same for every user (the history's ids are checked, then unused)."""
        self._check_fitted()
        self.item_index(list(items))
        return self.item_counts_.copy()

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"item_counts": self.item_counts_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        counts = np.asarray(state["item_counts"], dtype=np.float32)
        if counts.shape != (len(self.item_ids_),):
            raise ValueError(f"item_counts has shape {counts.shape}, the vocabulary has {len(self.item_ids_)} items")
        self.item_counts_ = counts

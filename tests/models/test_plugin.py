"""A model from outside embrec, registered with ``register``, passes the shared contract."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import torch

from embrec import models
from embrec.data.interactions import Interactions
from embrec.models import ModelConfig, Recommender
from embrec.models.base import ProgressFn
from embrec.models.settings import NonNegative
from embrec.testing import ModelContract


@dataclass(frozen=True, kw_only=True)
class CooccurrenceConfig(ModelConfig):
    """Configuration of :class:`CooccurrenceRecommender`."""

    model_name: ClassVar[str] = "toy-cooccurrence"

    damping: NonNegative = 1.0
    """Added to each item's user count before dividing the co-occurrence counts by it."""
    normalise: bool = True
    """Divide each item's column of co-occurrence counts by its damped user count."""


class CooccurrenceRecommender(Recommender):
    """Scores an item by how often it occurs with the user's items (a toy item-item model)."""

    name = "toy-cooccurrence"
    config_class = CooccurrenceConfig
    config: CooccurrenceConfig

    def _fit(self, train: Interactions, progress: ProgressFn | None) -> None:
        self.resolved_config_ = self.config
        x = self.seen_.astype(np.float32)
        counts = np.asarray((x.T @ x).todense(), dtype=np.float32)
        np.fill_diagonal(counts, 0.0)
        if self.config.normalise:
            counts /= np.diag((x.T @ x).todense()).astype(np.float32) + self.config.damping
        self.weights_ = np.ascontiguousarray(counts)

    def _score_users(self, users: np.ndarray) -> torch.Tensor:
        self._check_fitted()
        rows = self.seen_[np.asarray(users, dtype=np.int64)]
        return torch.from_numpy(np.asarray(rows @ self.weights_, dtype=np.float32))

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.weights_ = np.ascontiguousarray(state["weights"], dtype=np.float32)


@pytest.fixture(autouse=True)
def registered() -> Iterator[None]:
    models.register("toy-cooccurrence", CooccurrenceRecommender)
    yield
    models.unregister("toy-cooccurrence")


class TestCooccurrencePlugin(ModelContract):
    def make_model(self) -> Recommender:
        return models.create("toy-cooccurrence", damping=0.5)


def test_the_plugin_is_listed_only_while_registered() -> None:
    assert "toy-cooccurrence" in models.available()
    assert models.get("toy-cooccurrence") is CooccurrenceRecommender
    models.unregister("toy-cooccurrence")
    assert "toy-cooccurrence" not in models.available()

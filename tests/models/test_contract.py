"""The contract every registered model keeps (:mod:`embrec.testing`), run against each of them.

A model in the registry (``embrec.models.available()``) joins this suite on its own; give it
small, fast settings in ``FAST`` (and, if it needs more training to see a pattern, in
``CHECKERBOARD``), and list it in ``NOT_PERSONALISED`` if every user gets the same list.
"""

from __future__ import annotations

from typing import Any

import pytest

from embrec import models
from embrec.models.base import Recommender
from embrec.testing import ModelContract

#: Small, fast settings per model for the tiny data (models not listed use their defaults).
FAST: dict[str, dict[str, Any]] = {
    "embedding": dict(epochs=3, embedding_dim=8),
    "als": dict(embedding_dim=8, epochs=5, weight_decay=0.1),
    "bpr": dict(embedding_dim=8, epochs=20, learning_rate=0.05),
    "ease": dict(weight_decay=10.0),
}
#: Settings that learn the checkerboard (models not listed use FAST). The pattern has rank 2:
#: ALS with more factors than that fits each user's own items and guesses at the rest.
CHECKERBOARD: dict[str, dict[str, Any]] = {
    "embedding": dict(embedding_dim=8, epochs=60, learning_rate=0.05, early_stopping=False),
    "als": dict(embedding_dim=2, epochs=5, weight_decay=0.1),
}
#: Models that give every user the same ranking, so cannot learn the checkerboard.
NOT_PERSONALISED = {"popularity", "biases"}

NAMES = models.available()


def make(name: str, settings: dict[str, dict[str, Any]] = FAST) -> Recommender:
    return models.create(name, **settings.get(name, FAST.get(name, {})))


class TestEveryRegisteredModel(ModelContract):
    """The whole contract, once per registered model."""

    @pytest.fixture(autouse=True, params=NAMES)
    def model_name(self, request: pytest.FixtureRequest) -> str:
        self.name = str(request.param)
        self.personalised = self.name not in NOT_PERSONALISED
        return self.name

    def make_model(self) -> Recommender:
        return make(self.name)

    def make_checkerboard_model(self) -> Recommender:
        return make(self.name, CHECKERBOARD)

    def test_the_registry_builds_the_same_model_from_its_config(self) -> None:
        config = make(self.name).config
        assert models.get(self.name)(config).config == config
        assert type(make(self.name)) is models.get(self.name)


def test_every_builtin_model_is_registered() -> None:
    assert {"embedding", "popularity", "biases", "ease", "als", "bpr"} <= set(NAMES)

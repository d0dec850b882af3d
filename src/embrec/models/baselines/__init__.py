"""Baselines every new model should beat, under the same :class:`~embrec.models.Recommender` interface.

* ``popularity`` (:class:`PopularityRecommender`): items ranked by how many training users have them.
* ``biases`` (:class:`BiasRecommender`): damped global, user and item biases; predicts stars.
* ``ease`` (:class:`EASERecommender`): Steck's closed-form item-item model.
* ``als`` and ``bpr`` (:class:`ALSRecommender`, :class:`BPRRecommender`): matrix factorisation
  from the ``implicit`` library.
* ``item_knn`` and ``user_knn`` (:class:`ItemKNNRecommender`, :class:`UserKNNRecommender`): the classic
  neighbourhood models, as LensKit's; predict stars from explicit ratings, rank with implicit feedback.

Each is listed in the registry (``embrec.models.create("ease")``); its config derives from
:class:`~embrec.models.config.ModelConfig`.
"""

from __future__ import annotations

from embrec.models.baselines.biases import BiasConfig, BiasRecommender
from embrec.models.baselines.ease import EASEConfig, EASERecommender
from embrec.models.baselines.implicit_models import ALSConfig, ALSRecommender, BPRConfig, BPRRecommender
from embrec.models.baselines.knn import ItemKNNConfig, ItemKNNRecommender, UserKNNConfig, UserKNNRecommender
from embrec.models.baselines.popularity import PopularityConfig, PopularityRecommender

__all__ = [
    "ALSConfig",
    "ALSRecommender",
    "BPRConfig",
    "BPRRecommender",
    "BiasConfig",
    "BiasRecommender",
    "EASEConfig",
    "EASERecommender",
    "ItemKNNConfig",
    "ItemKNNRecommender",
    "PopularityConfig",
    "PopularityRecommender",
    "UserKNNConfig",
    "UserKNNRecommender",
]

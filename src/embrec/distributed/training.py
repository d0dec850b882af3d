"""Fitting a model across the ranks of a ``torch.distributed`` process group.

Every rank calls :func:`fit_distributed` with the same data and the same settings (each reads its own
copy; the trainer keeps only its own rows of the tables and its own users' ratings while it trains).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import torch.distributed as dist

from embrec.errors import ConfigError

if TYPE_CHECKING:
    from embrec.data.interactions import Interactions
    from embrec.models.base import ProgressFn
    from embrec.models.embedding import EmbeddingRecommender

__all__ = ["fit_distributed", "sharding_plan"]


def sharding_plan(model: EmbeddingRecommender, world: int) -> dict[str, Any]:
    """How a fit across ``world`` ranks shards the tables (for ``train --json``)."""
    return {
        "method": "dsgd-row-wise",
        "world_size": world,
        "user_table": "row-wise by user block: rank r holds blocks b with b mod world == r, and their ratings",
        "item_table": "row-wise by item block, each block passed to the rank whose users it meets next",
        "engine": model.resolved_config_.engine if hasattr(model, "resolved_config_") else "numba",
    }


def fit_distributed(
    model: EmbeddingRecommender,
    train: Interactions,
    *,
    group: dist.ProcessGroup | None = None,
    progress: ProgressFn | None = None,
) -> EmbeddingRecommender:
    """Fit ``model`` on ``train`` across the ranks of ``group`` (the default group when ``None``).

    The rating objective trains on the numba engine by DSGD across the ranks
    (:func:`embrec.distributed.dsgd.train_rating_sharded`): every rank ends with the same history and
    best epoch, and rank 0's model holds the whole trained tables, the same model as one process fits.

    Raises:
        ConfigError: no process group is initialised, or the model would not train the rating
            objective on the numba engine (the one this trainer distributes).
    """
    if not dist.is_available() or not dist.is_initialized():
        raise ConfigError(
            "fit_distributed needs a torch.distributed process group; start the workers with torchrun "
            "(or `embrec train --nproc N`), which sets one up."
        )
    used = model.settings_for(train)
    if used["objective"] != "rating" or used["engine"] != "numba":
        raise ConfigError(
            f"training across processes runs the rating objective on the numba engine; this model would train "
            f"objective={used['objective']!r} with engine={used['engine']!r}. Use objective='rating' on the CPU."
        )
    from embrec.distributed.dsgd import train_rating_sharded

    model.rating_trainer = functools.partial(train_rating_sharded, group=group)
    try:
        model.fit(train, progress=progress)
    finally:
        model.rating_trainer = None
    return model

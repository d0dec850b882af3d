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
    from embrec.distributed.checkpoint import Checkpoints
    from embrec.models.base import ProgressFn
    from embrec.models.embedding import EmbeddingRecommender

__all__ = ["fit_distributed", "sharding_plan"]


def sharding_plan(model: EmbeddingRecommender, world: int) -> dict[str, Any]:
    """How a fit across ``world`` ranks shards the tables (for ``train --json``)."""
    resolved = getattr(model, "resolved_config_", None)
    if resolved is not None and resolved.objective == "ranking":
        return {
            "method": "softmax-row-wise",
            "world_size": world,
            "user_table": "row-wise, contiguous: rank r holds users [r*n/world, (r+1)*n/world); a batch's rows are "
            "all-reduced to every rank",
            "item_table": "row-wise, contiguous: rank r holds items [r*n/world, (r+1)*n/world) and their ratings, "
            "and scores every batch against them",
            "engine": resolved.engine,
        }
    return {
        "method": "dsgd-row-wise",
        "world_size": world,
        "user_table": "row-wise by user block: rank r holds blocks b with b mod world == r, and their ratings",
        "item_table": "row-wise by item block, each block passed to the rank whose users it meets next",
        "engine": resolved.engine if resolved is not None else "numba",
    }


def fit_distributed(
    model: EmbeddingRecommender,
    train: Interactions,
    *,
    group: dist.ProcessGroup | None = None,
    progress: ProgressFn | None = None,
    checkpoints: Checkpoints | None = None,
) -> EmbeddingRecommender:
    """Fit ``model`` on ``train`` across the ranks of ``group`` (the default group when ``None``).

    The rating objective trains on the numba engine by DSGD across the ranks
    (:func:`embrec.distributed.dsgd.train_rating_sharded`), the ranking objective's full softmax with
    both tables split by rows (:func:`embrec.distributed.softmax.train_ranking_sharded`). Every rank
    ends with the same history and best epoch, and rank 0's model holds the whole trained tables: the
    model one process fits (bit for bit for rating, up to the order of float sums for ranking).
    With ``checkpoints``, every epoch's state is saved there; with ``checkpoints.resume``, a fit stopped
    part-way continues from its last epoch and ends with the uninterrupted fit's model.

    Raises:
        ConfigError: no process group is initialised, or the model would train on a GPU, with another
            engine, or with sampled negatives (none of which is distributed).
    """
    if not dist.is_available() or not dist.is_initialized():
        raise ConfigError(
            "fit_distributed needs a torch.distributed process group; start the workers with torchrun "
            "(or `embrec train --nproc N`), which sets one up."
        )
    used = model.settings_for(train)
    if used["objective"] == "rating" and used["engine"] == "numba":
        from embrec.distributed.dsgd import train_rating_sharded

        model.rating_trainer = functools.partial(train_rating_sharded, group=group, checkpoints=checkpoints)
    elif used["objective"] == "ranking" and used["engine"] == "torch" and used["device"] == "cpu":
        if used["n_negatives"] is not None:
            raise ConfigError(
                f"training across processes runs the ranking objective's full softmax, each process scoring its "
                f"share of the {train.n_items:,} items; this model would sample n_negatives={used['n_negatives']}. "
                f"Set n_negatives={train.n_items} (--set n_negatives={train.n_items})."
            )
        from embrec.distributed.softmax import train_ranking_sharded

        model.ranking_trainer = functools.partial(train_ranking_sharded, group=group, checkpoints=checkpoints)
    else:
        raise ConfigError(
            f"training across processes runs the rating objective on the numba engine or the ranking objective on "
            f"the CPU; this model would train objective={used['objective']!r} with engine={used['engine']!r} on "
            f"{used['device']!r}. Use device='cpu' and the default engine."
        )
    try:
        model.fit(train, progress=progress)
    finally:
        model.rating_trainer = model.ranking_trainer = None
    return model

"""Fitting a model across the ranks of a ``torch.distributed`` process group.

Every rank calls :func:`fit_distributed` with the same settings; rank 0 alone reads the data, fits,
and sends each other rank its share of each training run (:mod:`embrec.distributed.messages`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch.distributed as dist

from embrec.distributed.messages import DONE, FAILED, announce, hear
from embrec.errors import ConfigError, EmbrecError

if TYPE_CHECKING:
    from embrec.data.interactions import Interactions
    from embrec.distributed.checkpoint import Checkpoints
    from embrec.models.base import ProgressFn
    from embrec.models.embedding import EmbeddingRecommender

__all__ = ["LeaderFailed", "abandon", "fit_distributed", "sharding_plan"]


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


class LeaderFailed(EmbrecError):
    """Rank 0 stopped before training (it says why); a rank that follows stops without a word."""


def fit_distributed(
    model: EmbeddingRecommender,
    train: Interactions | None,
    *,
    group: dist.ProcessGroup | None = None,
    progress: ProgressFn | None = None,
    checkpoints: Checkpoints | None = None,
) -> EmbeddingRecommender:
    """Fit ``model`` on ``train`` across the ranks of ``group`` (the default group when ``None``).

    Every rank calls it; only rank 0 needs ``train`` (the others may pass ``None``, and what they pass
    is not read). Rank 0 fits ``model`` as one process would, but each training run inside the fit is
    shared: rank 0 announces it, sends every other rank its share of the data and of the start, and
    all train together. The rating objective trains on the numba engine by DSGD
    (:func:`embrec.distributed.dsgd.train_rating_sharded`), the ranking objective's full softmax with
    both tables split by rows (:func:`embrec.distributed.softmax.train_ranking_sharded`). Rank 0's
    model is then the model one process fits (bit for bit for rating, up to the order of float sums
    for ranking); the other ranks' models stay unfitted. With ``checkpoints``, every epoch's state
    is saved there; with ``checkpoints.resume``, a fit stopped part-way continues from its last epoch
    and ends with the uninterrupted fit's model.

    Raises:
        ConfigError: no process group is initialised, or the model would train on a GPU, with another
            engine, or with sampled negatives (none of which is distributed).
        LeaderFailed: (ranks other than 0) rank 0 stopped before training; it reports why.
    """
    if not dist.is_available() or not dist.is_initialized():
        raise ConfigError(
            "fit_distributed needs a torch.distributed process group; start the workers with torchrun "
            "(or `embrec train --nproc N`), which sets one up."
        )
    if dist.get_rank(group) != 0:
        _follow(group, checkpoints)
        return model
    if train is None:
        raise ConfigError("rank 0 fits the model: give it the training data.")
    started = False

    def announced(trainer: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            nonlocal started
            started = True
            return trainer(*args, group=group, checkpoints=checkpoints, **kwargs)

        return run

    try:
        used = model.settings_for(train)
        if used["objective"] == "rating" and used["engine"] == "numba":
            from embrec.distributed.dsgd import train_rating_sharded

            model.rating_trainer = announced(train_rating_sharded)
        elif used["objective"] == "ranking" and used["engine"] == "torch" and used["device"] == "cpu":
            if used["n_negatives"] is not None:
                raise ConfigError(
                    f"training across processes runs the ranking objective's full softmax, each process scoring "
                    f"its share of the {train.n_items:,} items; this model would sample "
                    f"n_negatives={used['n_negatives']}. Set n_negatives={train.n_items} "
                    f"(--set n_negatives={train.n_items})."
                )
            from embrec.distributed.softmax import train_ranking_sharded

            model.ranking_trainer = announced(train_ranking_sharded)
        else:
            raise ConfigError(
                f"training across processes runs the rating objective on the numba engine or the ranking objective "
                f"on the CPU; this model would train objective={used['objective']!r} with engine={used['engine']!r} "
                f"on {used['device']!r}. Use device='cpu' and the default engine."
            )
        model.fit(train, progress=progress)
    except Exception:
        if not started:  # the others wait for a run: tell them there will be none
            abandon(group)
        raise
    finally:
        model.rating_trainer = model.ranking_trainer = None
    announce(DONE, group)
    return model


def abandon(group: dist.ProcessGroup | None = None) -> None:
    """Rank 0, failing before any training run (reading the data, checking the settings): tell the
    ranks that follow to stop."""
    announce(FAILED, group)


def _follow(group: dist.ProcessGroup | None, checkpoints: Checkpoints | None) -> None:
    from embrec.distributed.dsgd import RatingRun, follow_rating
    from embrec.distributed.softmax import RankingRun, follow_ranking

    while (message := hear(group)) != DONE:
        if message == FAILED:
            raise LeaderFailed("rank 0 stopped before training")
        if isinstance(message, RatingRun):
            follow_rating(message, group, checkpoints)
        elif isinstance(message, RankingRun):
            follow_ranking(message, group, checkpoints)
        else:
            raise TypeError(f"rank 0 sent {type(message).__name__}, not a training run")

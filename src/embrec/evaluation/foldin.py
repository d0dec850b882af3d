"""Held-out users scored from their fold-in rows alone (strong generalisation, Liang et al. 2018).

A split of the ``strong-generalisation`` protocol (:class:`embrec.data.protocols.Fold`) carries, for
its held-out users, fold-in rows (``split.foldin``) apart from their target rows (``split.test``).
A model that can score a history (:attr:`Recommender.can_score_history`) trains on the other users
alone (:func:`training_users`) and ranks each held-out user's items from that history
(:func:`foldin_lists`); :func:`embrec.evaluation.evaluate_lists` scores the lists. The experiment
cells and the tuning trials both score this way.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd

from embrec.data.interactions import Interactions
from embrec.data.splits import Split

__all__ = ["foldin_lists", "scores_by_foldin", "training_users"]


def scores_by_foldin(model: str, split: Split) -> bool:
    """Whether registry model ``model`` is scored on ``split`` from fold-in rows: ``split`` holds
    fold-in rows and the model can score a history."""
    from embrec.models import registry

    return getattr(split, "foldin", None) is not None and registry.get(model).can_score_history


def training_users(split: Split) -> Interactions:
    """``split.train`` less every row of the users who are folded in (``split.foldin``'s users)."""
    foldin = split.foldin  # type: ignore[attr-defined]
    held_out = np.asarray(foldin.user_ids)[np.unique(foldin.users)]
    train = split.train
    keep = ~np.isin(np.asarray(train.user_ids)[train.users], held_out)
    return train if keep.all() else train.take(np.flatnonzero(keep))


def foldin_lists(recommender: Any, split: Split, n: int) -> pd.DataFrame:
    """Top-``n`` lists of the held-out users of a strong-generalisation ``split``, each scored from
    their fold-in rows alone (:meth:`~embrec.models.base.Recommender.score_history`), those items left out."""
    import scipy.sparse as sp
    import torch

    from embrec.ranking import top_n

    foldin = split.foldin  # type: ignore[attr-defined]
    users, items = foldin.users, foldin.items
    ratings = foldin.ratings
    order = np.argsort(users, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(users[order]) != 0])
    bounds = np.r_[starts, len(order)]
    item_ids = np.asarray(foldin.item_ids)
    frames = []
    n_items = foldin.n_items
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        rows = order[a:b]
        own = items[rows]
        scores = recommender.score_history(item_ids[own], None if ratings is None else ratings[rows])
        scores_t = torch.from_numpy(np.asarray(scores, dtype=np.float32)).unsqueeze(0)
        seen = sp.csr_matrix((np.ones(len(own)), (np.zeros(len(own), dtype=np.int64), own)), shape=(1, n_items))
        top, shown = top_n(functools.partial(_fixed, scores_t), np.zeros(1, dtype=np.int64), n, seen=seen)
        keep = top[0] >= 0
        frames.append(
            pd.DataFrame(
                {
                    "user": foldin.user_ids[users[rows[0]]],
                    "item": item_ids[top[0][keep]],
                    "rank": np.arange(1, keep.sum() + 1),
                    "score": shown[0][keep],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _fixed(scores: Any, _users: np.ndarray) -> Any:
    return scores

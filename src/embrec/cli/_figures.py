"""The test-split figures `embrec train` reports right after fitting."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from embrec.metrics import ranking_report, rmse

if TYPE_CHECKING:
    from embrec.data.splits import Split
    from embrec.models.base import Recommender


def test_figures(model: Recommender, split: Split, *, k: int = 10, threshold: float = 4.0) -> dict[str, Any]:
    """``test_rmse`` (stars, rating models) and ``ndcg@k``/``recall@k`` on the held-out split.

    Relevant = test rating >= ``threshold`` (every test row for implicit data); seen training
    items are excluded; users without a relevant test item are left out of the means.
    """
    test = split.test
    out: dict[str, Any] = {}
    if test.n_ratings == 0:
        return out
    if model.predicts_ratings and test.ratings is not None:
        pred = model.predict(test.user_ids[test.users], test.item_ids[test.items])
        out["test_rmse"] = round(float(rmse(pred, test.ratings)), 5)
    truth = test.to_csr("ratings" if test.ratings is not None else "ones")
    users = np.unique(test.users)
    recs, _ = model.recommend_indexes(users, k)
    full = np.full((test.n_users, k), -1, dtype=np.int64)
    full[users] = recs
    report = ranking_report(full, truth, threshold=threshold if test.ratings is not None else None, k=k)
    for key in ("ndcg", "recall"):
        value = report[key]
        out[f"test_{key}@{k}"] = None if value is None or math.isnan(value) else round(float(value), 5)
    out["test_users_ranked"] = int(report.get("users", 0))
    return out

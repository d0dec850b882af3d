"""How well new users folded in without retraining are served, by the prior's width.

Hides 150 users of ml-100k from training (random 90/10 split, seed 42), folds each in from
their training ratings, and scores NDCG@10 on their test ratings (relevant = rating >= 4),
next to the trained users' figure. Each user is folded in as ``EmbeddingRecommender.fold_in``
does it (``ranking_evidence``: likes weighted as training weighted them, ratings below the middle
of the scale as dislikes; ``picks`` = the trained users' mean number of items), only the prior's
width varies. Writes the "## Fold-in" section of docs/benchmarks.md.

    EMBREC_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_foldin.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402
from embrec.data.load import load_data  # noqa: E402
from embrec.data.splits import make_split  # noqa: E402
from embrec.metrics import mean_over_users, ndcg  # noqa: E402
from embrec.models.embedding import EmbeddingRecommender  # noqa: E402
from embrec.models.foldin import PRIOR_WIDTH, fold_in_ranking, ranking_evidence  # noqa: E402

DATA = Path(os.environ.get("EMBREC_DATA_DIR", "../shared/data"))
WIDTHS = (1.0, 4.0, 16.0, 64.0)


def _fold_in(model, q, bias, items, ratings, prior_variance, picks):
    """``EmbeddingRecommender.fold_in`` with another prior variance."""
    cfg = model.resolved_config_
    ev = ranking_evidence(
        ratings,
        len(items),
        rating_scale=model.rating_scale_,
        liked_rating=cfg.liked_rating,
        low_rating_weight=cfg.low_rating_weight,
    )
    idx = torch.from_numpy(items.astype(np.int64))
    with torch.enable_grad():
        return fold_in_ranking(
            q,
            bias,
            idx[torch.from_numpy(ev.liked)],
            torch.from_numpy(ev.liked_weights),
            disliked=idx[torch.from_numpy(ev.disliked)],
            disliked_weights=torch.from_numpy(ev.disliked_weights),
            prior_variance=prior_variance,
            picks=picks,
        )


def main() -> None:
    data = load_data(DATA / "ml-100k")
    split = make_split(data)
    held = np.sort(np.random.default_rng(0).choice(data.n_users, 150, replace=False))
    train = split.train
    model = EmbeddingRecommender(objective="ranking").fit(train.take(~np.isin(train.users, held)))
    net = model.net_
    q, bias = net.item_embedding.weight.detach(), net.item_bias.weight.detach()[:, 0]
    trained = np.setdiff1d(np.arange(data.n_users), held)
    spread = float(net.user_embedding.weight.detach().pow(2).mean())  # as fold_in measures it
    truth = split.test.to_csr("ratings")
    picks = model._mean_picks()
    rows = []
    for width in WIDTHS:
        recs = np.full((len(held), 10), -1, dtype=np.int64)
        t0 = time.perf_counter()
        for k, user in enumerate(held):
            mine = train.users == user
            items, ratings = train.items[mine], train.ratings[mine]
            if width == PRIOR_WIDTH:  # the served path itself, as `embrec serve` and the API call it
                p = torch.from_numpy(model.fold_in(data.item_ids[items], ratings)[0])
            else:
                p = _fold_in(model, q, bias, items, ratings, width * spread, picks)
            scores = (q @ p + bias).numpy()
            scores[items] = -np.inf
            recs[k] = np.argsort(-scores)[:10]
        seconds = (time.perf_counter() - t0) / len(held)
        rows.append((width, mean_over_users(ndcg(recs, truth[held], threshold=4.0, k=10)), seconds * 1000))
    full = model.recommend_indexes(trained, 10)[0]
    trained_ndcg = mean_over_users(ndcg(full, truth[trained], threshold=4.0, k=10))
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}.",
        "",
        "Reproduce: `EMBREC_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_foldin.py`",
        "",
        'Ranking model (defaults for `objective="ranking"`) trained without 150 held-out users of ml-100k; each is '
        "folded in from their training ratings. *Prior width* multiplies the mean square of the user vectors "
        f"to give the Gaussian prior's variance (embrec uses {PRIOR_WIDTH:g}: that row calls `EmbeddingRecommender.fold_in`, the path the API and the service use; the others change only the width). Ratings below the middle of the scale "
        "count as dislikes.",
        "",
        "| prior width | NDCG@10 of folded-in users | ms per fold-in |",
        "|---:|---:|---:|",
    ]
    lines += [f"| {w:g} | {v:.4f} | {ms:.1f} |" for w, v, ms in rows]
    lines += ["", f"Trained users of the same model: NDCG@10 {trained_ndcg:.4f}."]
    write_section("Fold-in of new users", "bench_foldin", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

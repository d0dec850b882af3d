"""How well new users folded in without retraining are served, by the prior's width.

Hides 150 users of ml-100k from training (random 90/10 split, seed 42), folds each in from
their training ratings, and scores NDCG@10 on their test ratings (relevant = rating >= 4),
next to the trained users' figure. Writes the "## Fold-in" section of docs/benchmarks.md.

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
from embrec.models.foldin import fold_in_ranking  # noqa: E402

DATA = Path(os.environ.get("EMBREC_DATA_DIR", "../shared/data"))
WIDTHS = (1.0, 4.0, 16.0, 64.0)


def main() -> None:
    data = load_data(DATA / "ml-100k")
    split = make_split(data)
    held = np.sort(np.random.default_rng(0).choice(data.n_users, 150, replace=False))
    train = split.train
    model = EmbeddingRecommender(objective="ranking").fit(train.take(~np.isin(train.users, held)))
    net = model.net_
    q, bias = net.item_embedding.weight.detach(), net.item_bias.weight.detach()[:, 0]
    trained = np.setdiff1d(np.arange(data.n_users), held)
    spread = float(net.user_embedding.weight.detach()[torch.from_numpy(trained)].pow(2).mean())
    truth = split.test.to_csr("ratings")
    weights_all = model._target_weights(train)
    rows = []
    for width in WIDTHS:
        recs = np.full((len(held), 10), -1, dtype=np.int64)
        t0 = time.perf_counter()
        for k, user in enumerate(held):
            mine = train.users == user
            items, ratings, weights = train.items[mine], train.ratings[mine], weights_all[mine]
            liked = (ratings - 1.0) / 4.0 >= 0.5  # as EmbeddingRecommender.fold_in: the upper half of the scale
            pick = liked if liked.any() else np.ones_like(liked)
            with torch.enable_grad():
                p = fold_in_ranking(
                    q,
                    bias,
                    torch.from_numpy(items[pick].astype(np.int64)),
                    torch.from_numpy(weights[pick]),
                    prior_variance=width * spread,
                )
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
        "folded in from their training ratings. *Prior width* multiplies the mean square of the trained user vectors "
        "to give the Gaussian prior's variance (embrec uses 4).",
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

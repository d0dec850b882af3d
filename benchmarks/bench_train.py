"""Training speed and quality: the exercise's loop as written vs embrec, side by side.

Writes the "## Training" section of docs/benchmarks.md. Run from the repository root:

    EMBREC_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_train.py [--large]

``--large`` adds synthetic data of ML-25M's shape (25M ratings, 162,541 users, 59,047 items):
seconds per epoch, peak RSS, and top-10 for every user with seen items masked.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402
from embrec.cli._figures import test_figures  # noqa: E402
from embrec.data.load import load_data  # noqa: E402
from embrec.data.splits import make_split  # noqa: E402
from embrec.models import create, preset  # noqa: E402
from embrec.models.embedding import EmbeddingRecommender  # noqa: E402
from exercise_loop import run_exercise  # noqa: E402

DATA = Path(os.environ.get("EMBREC_DATA_DIR", "../shared/data"))


def test_mse_scaled(model: EmbeddingRecommender, split) -> float:
    test = split.test
    lo, hi = model.rating_scale_
    pred = model._predict_indexes(test.users.astype(np.int64), test.items.astype(np.int64))
    return float(np.mean(((pred - test.ratings) / (hi - lo)) ** 2))


def exercise_vs_embrec(name: str) -> dict:
    data = load_data(DATA / name)
    split = make_split(data)  # the exercise's split: random rows 90/10, seed 42
    lo, hi = data.rating_scale
    tr, te = split.train, split.test
    x_tr = np.stack([tr.users, tr.items], 1)
    x_te = np.stack([te.users, te.items], 1)
    y_tr = ((tr.ratings - lo) / (hi - lo)).astype(np.float32)
    y_te = ((te.ratings - lo) / (hi - lo)).astype(np.float32)
    epochs_log: list[tuple[int, float, float]] = []
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    run_exercise(
        x_tr, y_tr, x_te, y_te, data.n_users, data.n_items, on_epoch=lambda e, tl, vl, s: epochs_log.append((e, vl, s))
    )
    ex_seconds = time.perf_counter() - t0
    best_epoch, best_val, best_at = min(epochs_log, key=lambda r: r[1])
    row = {
        "data": name,
        "exercise_seconds": ex_seconds,
        "exercise_best_mse": best_val,
        "exercise_best_rmse": float(np.sqrt(best_val)) * (hi - lo),
        "exercise_best_epoch": best_epoch,
        "exercise_seconds_to_best": best_at,
    }
    notebook = EmbeddingRecommender(preset("notebook")).fit(tr)
    EmbeddingRecommender(epochs=1).fit(tr)  # loads numba's compiled kernels: once per process, timed under Engines
    row["notebook_seconds"] = notebook.train_seconds_
    row["notebook_rmse"] = test_figures(notebook, split)["test_rmse"]
    model = EmbeddingRecommender().fit(tr)
    figures = test_figures(model, split)
    row.update(
        embrec_seconds=model.train_seconds_,
        embrec_rmse=figures["test_rmse"],
        embrec_ndcg=figures["test_ndcg@10"],
        embrec_best_epoch=model.best_epoch_,
        embrec_epochs=model.epochs_run_,
    )
    # the first epoch count at which embrec's default reaches the exercise's best test loss
    row["embrec_seconds_to_exercise_best"] = None
    for e in range(1, 30):
        m = EmbeddingRecommender(epochs=e, patience=1000).fit(tr)
        if test_mse_scaled(m, split) <= best_val:
            row["embrec_seconds_to_exercise_best"] = m.train_seconds_
            row["embrec_epochs_to_exercise_best"] = e
            break
    return row


def u1_rmse() -> dict:
    """The classic ml-100k u1 split: one vocabulary over u1.base + u1.test, trained on u1.base."""
    from embrec.data.build import build_interactions

    base = load_data(DATA / "ml-100k" / "u1.base").to_frame()
    test = load_data(DATA / "ml-100k" / "u1.test").to_frame()
    both = build_interactions(
        list(base["user"]) + list(test["user"]),
        list(base["item"]) + list(test["item"]),
        np.concatenate([base["rating"], test["rating"]]),
        rating_scale=(1.0, 5.0),
        name="u1",
    )
    train, held = both.take(np.arange(len(base))), both.take(np.arange(len(base), both.n_ratings))
    model = EmbeddingRecommender().fit(train)
    pred = model._predict_indexes(held.users.astype(np.int64), held.items.astype(np.int64))
    rmse = float(np.sqrt(np.mean((pred - held.ratings) ** 2)))
    return {"rmse": rmse, "seconds": model.train_seconds_, "rows": held.n_ratings}


def ranking_ml100k() -> list[dict]:
    data = load_data(DATA / "ml-100k")
    split = make_split(data)
    rows = []
    for label, model in (
        ("embrec ranking (default for objective=ranking)", EmbeddingRecommender(objective="ranking")),
        ("embrec rating (default: numba engine)", EmbeddingRecommender()),
        ("embrec notebook preset", EmbeddingRecommender(preset("notebook"))),
        ("popularity", create("popularity")),
    ):
        t0 = time.perf_counter()
        model.fit(split.train)
        seconds = time.perf_counter() - t0
        fig = test_figures(model, split)
        rows.append({"model": label, "seconds": seconds, "ndcg": fig["test_ndcg@10"], "recall": fig["test_recall@10"]})
    return rows


def thread_settings(repeats: int = 3) -> list[dict]:
    data = load_data(DATA / "ml-latest-small-2016")
    split = make_split(data)
    out = []
    for engine in ("numba", "torch"):
        for threads in (1, 2):
            epoch_times, totals = [], []
            for r in range(repeats):
                m = EmbeddingRecommender(engine=engine, threads=threads, seed=r).fit(split.train)
                totals.append(m.train_seconds_)
                epoch_times += [h["seconds"] for h in m.history_]
            out.append(
                {
                    "engine": engine,
                    "threads": threads,
                    "median_epoch": statistics.median(epoch_times),
                    "max_epoch": max(epoch_times),
                    "median_total": statistics.median(totals),
                    "max_total": max(totals),
                }
            )
    return out


#: The ways of training the rating objective compared: label, settings. The torch large-batch
#: learning rate and weight decay were chosen on a validation slice of the training rows (seeds 1-3).
APPROACHES = [
    ("numba engine (default on the CPU): SGD per rating, row-wise Adagrad", dict(engine="numba")),
    ("torch engine: batch 1,024, fused Adam (the default before)", dict(engine="torch")),
    (
        "torch engine: batch 65,536, dense fused Adam",
        dict(engine="torch", optimizer="adam", batch_size=65_536, learning_rate=0.01, weight_decay=0.01, epochs=400),
    ),
]

_COLD_CHILD = r"""
import json, sys, time
import numpy as np
from embrec.data.load import load_data
from embrec.data.splits import make_split
from embrec.models.embedding import EmbeddingRecommender
split = make_split(load_data(sys.argv[1]))
model = EmbeddingRecommender(**json.loads(sys.argv[2])).fit(split.train)
print(json.dumps({"seconds": model.train_seconds_}))
"""


def engines(name: str, repeats: int = 5) -> list[dict]:
    """Each approach on the exercise's split: median fit of ``repeats`` in one process (after a
    first fit), the first fit of a fresh process, test RMSE, epochs."""
    data = load_data(DATA / name)
    split = make_split(data)
    rows = []
    for label, settings in APPROACHES:
        cold = subprocess.run(
            [sys.executable, "-c", _COLD_CHILD, str(DATA / name), json.dumps(settings)],
            check=True,
            capture_output=True,
            text=True,
        )
        first = json.loads(cold.stdout.strip().splitlines()[-1])["seconds"]
        EmbeddingRecommender(**settings).fit(split.train)  # warm: compiled kernels loaded
        fits = [EmbeddingRecommender(**settings).fit(split.train) for _ in range(repeats)]
        figures = test_figures(fits[0], split)
        rows.append(
            {
                "data": name,
                "approach": label,
                "first_fit": first,
                "median_fit": statistics.median(m.train_seconds_ for m in fits),
                "rmse": figures["test_rmse"],
                "best_epoch": fits[0].best_epoch_,
                "epochs": fits[0].epochs_run_,
                "median_epoch": statistics.median(h["seconds"] for h in fits[0].history_),
            }
        )
    return rows


_LARGE_CHILD = r"""
import json, resource, sys, time
import numpy as np, torch
from embrec.data.build import build_interactions
from embrec.models.embedding import EmbeddingRecommender
from embrec.ranking import top_n
rng = np.random.default_rng(0)
n, nu, ni = 25_000_000, 162_541, 59_047
keys = np.unique(rng.integers(0, nu * ni, size=int(n * 1.01), dtype=np.int64))[:n]
rng.shuffle(keys)
data = build_interactions(keys // ni, keys % ni, (rng.integers(1, 11, size=len(keys)) / 2).astype(np.float32),
                          rating_scale=(0.5, 5.0), name="synthetic-25m")
del keys
t0 = time.perf_counter()
model = EmbeddingRecommender(epochs=1, early_stopping=False, threads=int(sys.argv[1])).fit(data)
fit = time.perf_counter() - t0
t0 = time.perf_counter()
items, _ = model.recommend_indexes(np.arange(data.n_users), 10)
topn = time.perf_counter() - t0
print(json.dumps({"rows": data.n_ratings, "epoch_seconds": model.history_[0]["seconds"], "fit_seconds": fit,
                  "top10_all_seconds": topn, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "device": model.device_, "engine": model.resolved_config_.engine}))
"""


def large(threads: int) -> dict:
    out = subprocess.run([sys.executable, "-c", _LARGE_CHILD, str(threads)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def render(
    rows: list[dict], u1: dict, ranking: list[dict], threads: list[dict], big: list[dict], approaches: list[dict]
) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}.",
        "",
        "Reproduce: `EMBREC_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_train.py"
        + (" --large`." if big else "`."),
        "",
        "### The exercise's loop vs embrec (random 90/10 split, seed 42; RMSE in stars on the test split)",
        "",
        "The exercise: per-row `Dataset` + `DataLoader`, batch 64, 10 epochs, validating on the test split each "
        "epoch (its best epoch is picked with the test split, as the exercise did). embrec's default: early "
        "stopping on a 5% slice of the training rows, best epoch restored; its seconds are the whole `fit` (the "
        "numba engine's kernels already loaded, as torch is imported before the exercise's clock starts; the first "
        "fit of a process adds about 0.5 s, see Engines below).",
        "",
        "| data | exercise 10 epochs (s) | exercise best RMSE | exercise s to best | notebook preset (s) | notebook RMSE "
        "| embrec default (s) | embrec RMSE | speed-up, whole fit | embrec s to exercise's best | speed-up to best |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        reach = r["embrec_seconds_to_exercise_best"]
        lines.append(
            f"| {r['data']} | {r['exercise_seconds']:.1f} | {r['exercise_best_rmse']:.3f} (epoch {r['exercise_best_epoch']}) "
            f"| {r['exercise_seconds_to_best']:.1f} | {r['notebook_seconds']:.2f} | {r['notebook_rmse']:.3f} "
            f"| {r['embrec_seconds']:.2f} | **{r['embrec_rmse']:.4f}** | {r['exercise_seconds'] / r['embrec_seconds']:.0f}x "
            f"| {reach:.2f} ({r['embrec_epochs_to_exercise_best']} epochs) | {r['exercise_seconds_to_best'] / reach:.0f}x |"
            if reach
            else f"| {r['data']} | ... | not reached |"
        )
    lines += [
        "",
        "### Engines on the exercise's split (random 90/10, seed 42; RMSE in stars on the test split)",
        "",
        "Each way of training the rating objective with early stopping on the 5% validation slice of the "
        "training rows. *Fit*: the median `train_seconds_` of 5 fits in one process after a first one; *first "
        "fit*: the one fit of a fresh process (for numba it loads the compiled kernels from numba's cache, "
        "about 0.4 s once per process; the very first run after installing compiles them, some 10-20 s). "
        "The numba engine's defaults (d=64, learning rate 0.02, weight decay 2.5e-3, refit on all training rows, no "
        "global offset) were derived with `embrec tune` on validation parts of the training rows of ml-100k and "
        'ml-latest-small (section "Where the defaults come from"), the start of its accumulators (3e-3) on a '
        "validation slice of the training rows; never on the test rows below. Its fit includes the refit. The torch "
        "rows keep their own defaults (d=32, lr 4e-3, no refit). For scale: the issue quotes Cornac's MF at 0.08 s "
        "and LensKit at 0.45 s on ml-100k.",
        "",
        "| data | approach | fit (s) | first fit in a process (s) | median epoch (s) | best epoch / run | RMSE |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {a['data']} | {a['approach']} | {a['median_fit']:.3f} | {a['first_fit']:.2f} | {a['median_epoch']:.4f} "
        f"| {a['best_epoch']} / {a['epochs']} | **{a['rmse']:.4f}** |"
        for a in approaches
    ]
    lines += [
        "",
        f"ml-100k `u1.base` -> `u1.test` (embrec default): RMSE **{u1['rmse']:.4f}** stars on all {u1['rows']:,} test "
        f"rows (items never rated in `u1.base` get the biases only), fit {u1['seconds']:.2f} s. "
        "Target 0.90; Surprise's SVD is about 0.93 there.",
        "",
        "### Ranking on ml-100k (random 90/10, seed 42, relevant = test rating >= 4, seen items excluded)",
        "",
        "| model | fit (s) | NDCG@10 | recall@10 |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {r['model']} | {r['seconds']:.2f} | {r['ndcg']:.4f} | {r['recall']:.4f} |" for r in ranking]
    lines += [
        "",
        "### CPU threads (default rating model, ml-latest-small-2016, 3 fits each)",
        "",
        "The numba engine's model is the same on any number of threads; by default it uses one below "
        "1,000,000 training rows (an epoch here takes milliseconds, less than a busy second core makes "
        "the first wait) and every core from there. The torch engine uses one thread by default.",
        "",
        "| engine | threads | median epoch (s) | slowest epoch (s) | median fit (s) | slowest fit (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {t['engine']} | {t['threads']} | {t['median_epoch']:.4f} | {t['max_epoch']:.4f} | {t['median_total']:.3f} "
        f"| {t['max_total']:.3f} |"
        for t in threads
    ]
    if big:
        lines += [
            "",
            "### Synthetic data of ML-25M's shape (25M ratings, 162,541 users, 59,047 items), CPU",
            "",
            "The default model (the numba engine on the CPU); `benchmarks/bench_scale.py` compares the engines "
            "at this size (section Scale).",
            "",
            "| threads | device | engine | seconds per epoch | top-10 for all users, seen masked (s) | peak RSS (MiB) |",
            "|---:|---|---|---:|---:|---:|",
        ]
        lines += [
            f"| {b['threads']} | {b['device']} | {b['engine']} | {b['epoch_seconds']:.1f} | {b['top10_all_seconds']:.1f} "
            f"| {b['peak_mib']:,.0f} |"
            for b in big
        ]
        if not torch.cuda.is_available():
            lines += [
                "",
                "No GPU rows: no CUDA device was available for this run (`device=auto` uses one when present).",
            ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large", action="store_true", help="also run the 25M-row synthetic benchmark")
    args = parser.parse_args()
    rows = [exercise_vs_embrec(name) for name in ("ml-latest-small-2016", "ml-100k")]
    for r in rows:
        print(json.dumps(r))
    u1 = u1_rmse()
    print(json.dumps(u1))
    ranking = ranking_ml100k()
    print(json.dumps(ranking))
    threads = thread_settings()
    print(json.dumps(threads))
    approaches = [row for name in ("ml-latest-small-2016", "ml-100k") for row in engines(name)]
    print(json.dumps(approaches))
    big = []
    if args.large:
        for t in (1, 2):
            b = large(t)
            b["threads"] = t
            print(json.dumps(b))
            big.append(b)
    write_section("Training", "bench_train", render(rows, u1, ranking, threads, big, approaches))


if __name__ == "__main__":
    main()

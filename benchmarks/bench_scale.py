"""Training at scale, side by side: embrec's engines and objectives, a plain torch loop, implicit and Surprise.

Writes the "## Scale" section of docs/benchmarks.md (``--device cuda``: "## Scale on a GPU").
Run from the repository root (``--help`` lists every flag)::

    flock /tmp/embrec-bench.lock .venv/bin/python benchmarks/bench_scale.py          # 1M, 5M, 25M rows
    .venv/bin/python benchmarks/bench_scale.py --sizes 200000 --growth-rows 200000 --no-write   # a smoke run
    .venv/bin/python benchmarks/bench_scale.py --parts growth --no-write
    .venv/bin/python benchmarks/bench_scale.py --device cuda            # the torch engine on a GPU

Surprise runs in its own environment so that it never touches the repository's torch or numpy::

    python3.11 -m venv /tmp/peers && /tmp/peers/bin/pip install scikit-surprise

(``--peer-python`` names that interpreter; without one the Surprise rows say so.)

**Data.** ``embrec.data.synthetic.planted('ml-25m', rows=..., seed=0)``: ratings of ML-25M's
shape (162,541 users, 59,047 items, half stars) from a known low-rank model. The implicit rows
(ranking objective, ALS, BPR) use the same pairs without ratings, which is what
``planted(..., implicit=True)`` draws. Every model trains on the truth's protocol split (random
90/10, seed 42) and is scored on its test part: rating models by test RMSE against the truth's
noise floor (``Truth.noiseless_rating``) and best RMSE (``Truth.expected_rating``, the least any
model can reach in expectation), ranking models by recall@20 (``embrec.evaluation.evaluate``,
``threshold=None``: every test item relevant, training items left out) on the 10,000 test users
the truth's own recall@20 (``truth.figures["ranking"]["relevance"]``) was measured on. Draws are
cached in ``--cache-dir`` (keyed by the generator's source, so a changed generator redraws).

**Measures.** Every row trains in a fresh process, which imports, trains a tiny model with the
same settings (compiled kernels loaded), notes its RSS (the baseline), loads the arrays and
fits. *Seconds per epoch*: the median over the epochs run (training plus the validation loss
where there is one); *rows/s*: the rows trained per epoch over that. *Peak RSS net*:
``ru_maxrss`` at the end of the fit less the baseline (the data, the split, the model and all
training allocates; scoring comes after).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402

N_USERS, N_ITEMS = 162_541, 59_047
SEED, PROTOCOL_SEED, TEST_FRACTION, RANKED_USERS, K = 0, 42, 0.1, 10_000, 20
PLAIN_BATCH, PLAIN_LR = 65_536, 0.01
#: Sizes from which (or above which) the slow rows cut their epochs or stop running: see :func:`plan`.
BIG = 5_000_000

#: The rows of the rating table, by device. ``fit``: ``"stop"`` trains with early stopping as a default fit
#: does (at most --max-epochs; ``stop_up_to``: only up to that many rows, above it as ``"fixed"``),
#: ``"fixed"`` trains --epochs epochs (``epochs``: ``(up to rows, epochs)`` pairs instead; ``one_epoch_from``:
#: 1 epoch from that many rows). ``skip_above``: not run above that many rows unless --slow.
RATING: dict[str, list[dict[str, Any]]] = {
    "cpu": [
        dict(label="embrec numba (the CPU default)", kind="embrec", settings=dict(engine="numba"), fit="stop"),
        dict(label="embrec numba, 1 thread", kind="embrec", settings=dict(engine="numba", threads=1), fit="fixed"),
        dict(
            label="embrec torch: batch 1,024, sparse Adam (the torch default)",
            kind="embrec",
            settings=dict(engine="torch", threads=2),
            fit="fixed",
            one_epoch_from=1_000_000,
            skip_above=BIG,
        ),
        dict(
            label="embrec torch: batch 65,536, dense fused Adam",
            kind="embrec",
            settings=dict(engine="torch", threads=2, optimizer="adam", batch_size=65_536, learning_rate=0.01),
            fit="stop",
            stop_up_to=BIG,
            max_epochs=10,
        ),
        dict(
            label="plain torch loop: batch 65,536, dense fused Adam",
            kind="plain",
            settings=dict(threads=2),
            fit="fixed",
        ),
        dict(
            label="Surprise SVD, 1 thread",
            kind="surprise",
            settings={},
            fit="fixed",
            epochs=((1_000_000, 20),),  # its default: a finished model where that is affordable
            one_epoch_from=BIG,
            skip_above=BIG,
        ),
        dict(  # last, so that the row numbers of --engines and CONVERGE stay as they were
            label="embrec torch: batch 1,024, sparse Adam, 1 thread",
            kind="embrec",
            settings=dict(engine="torch", threads=1),
            fit="fixed",
            one_epoch_from=BIG,
            skip_above=BIG,
        ),
    ],
    "cuda": [
        dict(
            label="torch: batch 1,024, sparse Adam (the torch default)",
            kind="embrec",
            settings=dict(engine="torch", device="cuda"),
            fit="fixed",
        ),
        dict(
            label="torch: batch 65,536, dense fused Adam",
            kind="embrec",
            settings=dict(engine="torch", device="cuda", optimizer="adam", batch_size=65_536, learning_rate=0.01),
            fit="fixed",
        ),
        dict(
            label="torch: batch 65,536, sparse Adam",
            kind="embrec",
            settings=dict(
                engine="torch", device="cuda", optimizer="sparse_adam", batch_size=65_536, learning_rate=0.01
            ),
            fit="fixed",
        ),
    ],
}
#: The ranking table (CPU only), planned as RATING's rows are.
RANKING: list[dict[str, Any]] = [
    dict(
        label='embrec objective="ranking" (sampled softmax, 1,024 negatives), 2 threads',
        kind="embrec",
        settings=dict(objective="ranking", threads=2, early_stopping=False, refit=False),
        fit="fixed",
        epochs=((1_000_000, 10), (BIG, 5)),
    ),
    dict(label="implicit ALS, 2 threads", kind="als", settings={}, fit="fixed", epochs=((BIG, 15),)),  # its default
    dict(label="implicit BPR, 2 threads", kind="bpr", settings={}, fit="fixed", epochs=((1_000_000, 100), (BIG, 30))),
]
#: The rows of RATING trained to the end with --converge-rows (the torch default is too slow for it on a CPU).
CONVERGE = {"cpu": [0, 3], "cuda": [0, 1]}
PARTS = ("engines", "peers", "ranking", "growth")
GROWTH_DIMS = (16, 32, 64, 128)
GROWTH_SHAPES = ("ml-1m", "ml-20m", "ml-25m")


# ---------------------------------------------------------------------------- data (runs in a child)
def _generator_key() -> str:
    """A short hash of the planted generator's source: a changed generator draws afresh."""
    import hashlib
    from importlib.util import find_spec

    spec = find_spec("embrec.data.synthetic")
    source = Path(spec.origin).read_bytes() if spec and spec.origin else b"own"
    return hashlib.sha1(source).hexdigest()[:10]


def data_folder(cache: Path, shape: str, rows: int) -> Path:
    """The cached draw of ``rows`` rows of ``shape`` (ratings and the implicit figures), drawn when missing."""
    folder = cache / f"{shape}-{rows}-seed{SEED}-{_generator_key()}"
    if not (folder / "meta.json").exists():
        t0 = time.perf_counter()
        _child(
            [
                sys.executable,
                __file__,
                "--child",
                json.dumps(dict(kind="data", folder=str(folder), shape=shape, rows=rows)),
            ]
        )
        print(f"data: {shape}, {rows:,} rows drawn in {time.perf_counter() - t0:.0f} s -> {folder}", flush=True)
    return folder


def _draw(folder: Path, shape: str, rows: int) -> dict:
    """Draw the data, its protocol split and the truth's figures into ``folder`` (atomically)."""
    import dataclasses

    from embrec.data.interactions import Interactions
    from embrec.data.splits import make_split
    from embrec.data.synthetic import planted, truth_figures

    t0 = time.perf_counter()
    data, truth = planted(shape, rows=rows, seed=SEED, figures=False)
    split = make_split(data, "random", test_fraction=TEST_FRACTION, seed=PROTOCOL_SEED)
    test = split.test_rows
    u, i, r = data.users[test], data.items[test], data.ratings[test].astype(np.float64)
    meta: dict[str, Any] = {
        "shape": shape,
        "rows": int(data.n_ratings),
        "users": int(data.n_users),
        "items": int(data.n_items),
        "rating_scale": list(data.rating_scale),
        "train_rows": int(len(split.train_rows)),
        "test_rows": int(len(test)),
        # the truth's own rating figures on the protocol's test rows (what truth.figures calls *_test)
        "noise_floor_rmse_test": float(np.sqrt(np.mean((truth.noiseless_rating(u, i) - r) ** 2))),
        "best_rmse_test": float(np.sqrt(np.mean((truth.expected_rating(u, i) - r) ** 2))),
    }
    if shape == "ml-25m":  # the ranking rows: the same pairs as implicit feedback, and the truth's recall@20
        implicit = Interactions(
            users=data.users, items=data.items, ratings=None, timestamps=None, user_ids=data.user_ids,
            item_ids=data.item_ids, name=data.name + "-implicit",
        )  # fmt: skip
        settings = dataclasses.replace(truth.settings, implicit=True, noise=None)
        truth = dataclasses.replace(truth, settings=settings, rating_scale=None, rating_step=None, figures={})
        figures = truth_figures(implicit, truth)
        candidates = np.unique(split.test.users)  # implicit: every test user has a relevant item
        ranked = candidates
        if len(candidates) > RANKED_USERS:  # the truth's sample (synthetic._ranking_figures)
            ranked = np.sort(np.random.default_rng(PROTOCOL_SEED).choice(candidates, RANKED_USERS, replace=False))
        if len(ranked) != figures["ranking"]["protocol"]["users"]:
            raise RuntimeError("the ranked users differ from the truth's; synthetic._ranking_figures changed")
        meta["truth_recall"] = float(figures["ranking"]["relevance"][f"recall@{K}"])
        meta["ranked_users"] = int(len(ranked))
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    arrays = dict(
        users=data.users, items=data.items, ratings=data.ratings, train_rows=split.train_rows.astype(np.int32)
    )
    arrays["test_rows"] = test.astype(np.int32)
    if "ranked_users" in meta:
        arrays["ranked"] = ranked.astype(np.int32)
    for name, array in arrays.items():
        np.save(tmp / f"{name}.npy", array)
    meta["seconds"] = time.perf_counter() - t0
    (tmp / "meta.json").write_text(json.dumps(meta))
    os.replace(tmp, folder)
    return meta


# ---------------------------------------------------------------------------- the children
def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """User plus system CPU seconds of this process (over a stretch of wall time: the cores it kept busy)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load(folder: Path, implicit: bool) -> tuple[dict, dict, dict]:
    """meta, train and test arrays (users, items, ratings) of a cached draw."""
    meta = json.loads((folder / "meta.json").read_text())
    names = ("users", "items") if implicit else ("users", "items", "ratings")
    full = {name: np.load(folder / f"{name}.npy") for name in names}
    parts = []
    for part in ("train_rows", "test_rows"):
        rows = np.load(folder / f"{part}.npy")
        parts.append({name: a[rows] for name, a in full.items()})
    return meta, parts[0], parts[1]


def _interactions(meta: dict, arrays: dict, implicit: bool):  # -> Interactions
    from embrec.data.interactions import Interactions

    return Interactions(
        users=arrays["users"], items=arrays["items"], ratings=None if implicit else arrays["ratings"],
        timestamps=None, user_ids=np.arange(meta["users"]), item_ids=np.arange(meta["items"]),
        rating_scale=None if implicit else tuple(meta["rating_scale"]), name=f"planted-{meta['shape']}",
    )  # fmt: skip


def _tiny(implicit: bool):  # -> Interactions
    from embrec.data.interactions import Interactions

    rng = np.random.default_rng(0)
    return Interactions(
        users=rng.integers(0, 50, 2000).astype(np.int32), items=rng.integers(0, 40, 2000).astype(np.int32),
        ratings=None if implicit else rng.integers(1, 11, 2000).astype(np.float32) / 2, timestamps=None,
        user_ids=np.arange(50), item_ids=np.arange(40), rating_scale=None if implicit else (0.5, 5.0), name="warm-up",
    )  # fmt: skip


def _rmse(pred: np.ndarray, actual: np.ndarray) -> float:
    diff = np.asarray(pred, dtype=np.float64) - actual
    return float(math.sqrt(np.dot(diff, diff) / len(diff)))


def _ranked_split(meta: dict, train, test_arrays: dict, folder: Path):  # -> Split
    """The protocol split with its test part cut to the users the truth's recall was measured on."""
    from embrec.data.splits import Split, SplitMethod

    keep = np.isin(test_arrays["users"], np.load(folder / "ranked.npy"))
    test = _interactions(meta, {k: a[keep] for k, a in test_arrays.items()}, implicit=True)
    return Split(
        train=train, test=test, method=SplitMethod.random, test_fraction=TEST_FRACTION, test_count=None, cutoff=None,
        seed=PROTOCOL_SEED, drop_unseen=False, train_rows=np.empty(0, np.int64), test_rows=np.flatnonzero(keep),
    )  # fmt: skip


def child_embrec(spec: dict) -> dict:
    """Fit EmbeddingRecommender (either objective) and score it on the protocol's test rows."""
    import torch

    from embrec.evaluation import evaluate
    from embrec.models.embedding import EmbeddingRecommender

    settings, implicit = spec["settings"], spec["settings"].get("objective") == "ranking"
    EmbeddingRecommender(**{**settings, "epochs": 1}).fit(_tiny(implicit))  # loads the compiled kernels or CUDA
    baseline = _rss_mib()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    folder = Path(spec["folder"])
    meta, train_arrays, test_arrays = _load(folder, implicit)
    train = _interactions(meta, train_arrays, implicit)
    stop = {} if spec["fit"] == "stop" or implicit else {"patience": 1000}  # fixed: never stops early
    config = {**settings, "embedding_dim": spec["dim"], "epochs": spec["epochs"], **stop}
    t0, cpu = time.perf_counter(), _cpu_seconds()
    model = EmbeddingRecommender(**config).fit(train)
    fit = time.perf_counter() - t0
    peak, cores = _peak_mib(), (_cpu_seconds() - cpu) / fit
    used = model.resolved_config_
    val = 0 if implicit else round(used.validation_fraction * train.n_ratings)
    out = dict(
        epoch_seconds=[h["seconds"] for h in model.history_], fit_seconds=fit, train_rows=train.n_ratings - val,
        baseline_mib=baseline, peak_mib=peak, cores=cores, best_epoch=model.best_epoch_, engine=used.engine,
        optimizer=used.optimizer, batch_size=used.batch_size, threads=used.threads, device=used.device,
        gpu_peak_mib=torch.cuda.max_memory_allocated() / 2**20 if used.device.startswith("cuda") else None,
    )  # fmt: skip
    t0 = time.perf_counter()
    if implicit:
        split = _ranked_split(meta, train, test_arrays, folder)
        result = evaluate(model, split, k=K, threshold=None, n_resamples=10)
        out["recall"] = float(result.models[0].summary["recall"].mean)
    else:
        out["test_rmse"] = _rmse(model.predict(test_arrays["users"], test_arrays["items"]), test_arrays["ratings"])
    out["score_seconds"] = time.perf_counter() - t0
    return out


def plain_torch_loop(
    train: dict, test: dict, n_users: int, n_items: int, scale: tuple[float, float], dim: int, epochs: int, threads: int
) -> dict:
    """The textbook loop: embeddings + biases, dot product, sigmoid, MSE on ratings scaled to [0, 1],
    dense fused Adam, batches of PLAIN_BATCH; 5% of the rows validate, the best epoch's test RMSE counts."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    lo, hi = scale
    user, item = torch.nn.Embedding(n_users, dim), torch.nn.Embedding(n_items, dim)
    user_bias, item_bias = torch.nn.Embedding(n_users, 1), torch.nn.Embedding(n_items, 1)
    with torch.no_grad():
        for table in (user, item):
            table.weight.normal_(0.0, 0.01)
        for table in (user_bias, item_bias):
            table.weight.zero_()
    params = [p for m in (user, item, user_bias, item_bias) for p in m.parameters()]
    optimizer = torch.optim.Adam(params, lr=PLAIN_LR, fused=True)

    def tensors(arrays: dict) -> tuple[torch.Tensor, ...]:
        u, i = (torch.from_numpy(arrays[k].astype(np.int64)) for k in ("users", "items"))
        return u, i, torch.from_numpy((arrays["ratings"] - lo) / (hi - lo)).float()

    u, i, y = tensors(train)
    val = torch.from_numpy(np.random.default_rng(0).random(len(y)) < 0.05)
    (u, vu), (i, vi), (y, vy) = ((t[~val], t[val]) for t in (u, i, y))
    mean = float(y.mean())
    offset = math.log(mean / (1 - mean))

    def predict(us: torch.Tensor, its: torch.Tensor) -> torch.Tensor:
        dot = (user(us) * item(its)).sum(1)
        return torch.sigmoid(offset + user_bias(us)[:, 0] + item_bias(its)[:, 0] + dot)

    def rmse(us: torch.Tensor, its: torch.Tensor, ys: torch.Tensor) -> float:
        with torch.no_grad():
            sse = sum(
                float(((predict(a, b) - c) ** 2).sum()) for a, b, c in zip(*(t.split(1 << 18) for t in (us, its, ys)))
            )
        return math.sqrt(sse / len(ys)) * (hi - lo)  # in stars

    tu, ti, ty = tensors(test)
    history = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        for batch in torch.randperm(len(y)).split(PLAIN_BATCH):
            loss = F.mse_loss(predict(u[batch], i[batch]), y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        val_rmse = rmse(vu, vi, vy)  # timed, as embrec's history times its validation loss
        history.append(dict(seconds=time.perf_counter() - t0, val_rmse=val_rmse, test_rmse=rmse(tu, ti, ty)))
    return dict(history=history, train_rows=len(y))


def child_plain(spec: dict) -> dict:
    tiny = _tiny(False)
    arrays = dict(users=tiny.users, items=tiny.items, ratings=tiny.ratings)
    plain_torch_loop(arrays, arrays, 50, 40, (0.5, 5.0), spec["dim"], 1, spec["settings"]["threads"])  # warm-up
    baseline = _rss_mib()
    meta, train, test = _load(Path(spec["folder"]), implicit=False)
    t0, cpu = time.perf_counter(), _cpu_seconds()
    run = plain_torch_loop(
        train, test, meta["users"], meta["items"], tuple(meta["rating_scale"]), spec["dim"], spec["epochs"],
        spec["settings"]["threads"],
    )  # fmt: skip
    fit = time.perf_counter() - t0
    history = run["history"]
    best = min(range(len(history)), key=lambda e: history[e]["val_rmse"])
    return dict(
        epoch_seconds=[h["seconds"] for h in history], fit_seconds=fit, train_rows=run["train_rows"],
        baseline_mib=baseline, peak_mib=_peak_mib(), cores=(_cpu_seconds() - cpu) / fit, best_epoch=best + 1, test_rmse=history[best]["test_rmse"],
        threads=spec["settings"]["threads"], optimizer="adam (fused)", batch_size=PLAIN_BATCH,
    )  # fmt: skip


def child_implicit(spec: dict) -> dict:
    """implicit's ALS or BPR on the users x items CSR of the training pairs; recall@20 of its own top-N."""
    import pandas as pd
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking
    from threadpoolctl import threadpool_limits

    from embrec.evaluation import evaluate_lists

    def make(epochs: int):
        common = dict(factors=64, iterations=epochs, num_threads=2, random_state=0)
        return AlternatingLeastSquares(**common) if spec["kind"] == "als" else BayesianPersonalizedRanking(**common)

    def csr(users: np.ndarray, items: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
        matrix = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)), shape=shape)
        matrix.sort_indices()
        return matrix

    with threadpool_limits(1, "blas"):  # implicit warns when BLAS runs its own threads (and slows down)
        rng = np.random.default_rng(0)
        make(1).fit(csr(rng.integers(0, 50, 2000), rng.integers(0, 40, 2000), (50, 40)), show_progress=False)
        baseline = _rss_mib()
        folder = Path(spec["folder"])
        meta, train_arrays, test_arrays = _load(folder, implicit=True)
        t0, cpu = time.perf_counter(), _cpu_seconds()
        matrix = csr(train_arrays["users"], train_arrays["items"], (meta["users"], meta["items"]))
        seconds: list[float] = []
        model = make(spec["epochs"])
        model.fit(matrix, show_progress=False, callback=lambda _epoch, elapsed, *_: seconds.append(elapsed))
        fit = time.perf_counter() - t0
        peak, cores = _peak_mib(), (_cpu_seconds() - cpu) / fit
        t0 = time.perf_counter()
        users = np.load(folder / "ranked.npy").astype(np.int64)
        ids, _ = model.recommend(users, matrix[users], N=K, filter_already_liked_items=True)
    frame = pd.DataFrame(
        {"user": np.repeat(users, K), "item": ids.ravel(), "rank": np.tile(np.arange(1, K + 1), len(users))}
    )
    frame = frame[frame["item"] >= 0]
    train = _interactions(meta, train_arrays, implicit=True)
    result = evaluate_lists(frame, _ranked_split(meta, train, test_arrays, folder), k=K, threshold=None, n_resamples=10)
    return dict(
        epoch_seconds=seconds, fit_seconds=fit, train_rows=int(matrix.nnz), baseline_mib=baseline, peak_mib=peak,
        cores=cores, recall=float(result.models[0].summary["recall"].mean), threads=2, score_seconds=time.perf_counter() - t0,
    )  # fmt: skip


def child_surprise(spec: dict) -> dict:
    """Surprise's SVD (biased matrix factorisation by SGD, pure Cython, one thread); test RMSE by its own predict."""
    import contextlib
    import io

    import pandas as pd
    from surprise import SVD, Dataset, Reader

    def trainset(frame: pd.DataFrame, scale: tuple[float, float]):
        return Dataset.load_from_df(frame, Reader(rating_scale=scale)).build_full_trainset()

    class EpochClock(io.StringIO):  # SVD(verbose=True) prints "Processing epoch N" as each epoch starts
        def __init__(self) -> None:
            super().__init__()
            self.starts: list[float] = []

        def write(self, text: str) -> int:
            if text.startswith("Processing epoch"):
                self.starts.append(time.perf_counter())
            return len(text)

    rng = np.random.default_rng(0)
    tiny = pd.DataFrame({"u": rng.integers(0, 50, 2000), "i": rng.integers(0, 40, 2000), "r": rng.integers(1, 6, 2000)})
    SVD(n_factors=spec["dim"], n_epochs=1).fit(trainset(tiny, (1, 5)))
    baseline = _rss_mib()
    meta, train, test = _load(Path(spec["folder"]), implicit=False)
    scale = tuple(meta["rating_scale"])
    t0 = time.perf_counter()
    built = trainset(pd.DataFrame({"u": train["users"], "i": train["items"], "r": train["ratings"]}), scale)
    build = time.perf_counter() - t0
    clock, cpu, started = EpochClock(), _cpu_seconds(), time.perf_counter()
    algo = SVD(n_factors=spec["dim"], n_epochs=spec["epochs"], random_state=0, verbose=True)
    with contextlib.redirect_stdout(clock):
        algo.fit(built)
    end = time.perf_counter()
    peak, cores = _peak_mib(), (_cpu_seconds() - cpu) / (end - started)
    starts = clock.starts + [end]
    pred = np.array([algo.predict(u, i).est for u, i in zip(test["users"].tolist(), test["items"].tolist())])
    return dict(
        epoch_seconds=[b - a for a, b in zip(starts, starts[1:])], fit_seconds=end - t0, build_seconds=build,
        train_rows=len(train["users"]), baseline_mib=baseline, peak_mib=peak, cores=cores,
        test_rmse=_rmse(pred, test["ratings"]),
        threads=1, optimizer="SGD", batch_size=1, score_seconds=time.perf_counter() - end,
    )  # fmt: skip


CHILDREN = {"embrec": child_embrec, "plain": child_plain, "als": child_implicit, "bpr": child_implicit}


def _child(command: list[str], timeout: float = 1800) -> dict:
    out = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        lines = [line for line in out.stderr.strip().splitlines() if line.strip()]
        raise RuntimeError(lines[-1] if lines else f"exit status {out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_row(spec: dict, peer_python: str | None) -> dict:
    """One row in a fresh process; a row that fails says why instead of stopping the run."""
    python = peer_python if spec["kind"] == "surprise" else sys.executable
    if python is None:
        return dict(error="no interpreter with Surprise (--peer-python)")
    try:
        return _child([python, __file__, "--child", json.dumps(spec)])
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return dict(error=str(exc)[:300])


# ---------------------------------------------------------------------------- tables
def _epoch(row: dict) -> float:
    return statistics.median(row["epoch_seconds"])


def _epochs_cell(row: dict) -> str:
    run = len(row["epoch_seconds"])
    return f"{row['best_epoch']} / {run}" if row.get("stopped") else f"{run}"


def _mib(row: dict) -> str:
    return f"{row['peak_mib'] - row['baseline_mib']:,.0f}"


def _failed(head: str, r: dict, cells: int) -> str:
    return head + f" {r.get('skipped') or 'failed: ' + r['error']} |" + " |" * (cells - 1)


def render_truth(metas: list[dict]) -> list[str]:
    lines = [
        "| rows | test rows | noise floor (test RMSE) | best possible (test RMSE) | truth's recall@20 (implicit) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for m in metas:
        recall = f"{m['truth_recall']:.4f}" if m.get("truth_recall") is not None else "-"
        lines.append(
            f"| {m['rows']:,} | {m['test_rows']:,} | {m['noise_floor_rmse_test']:.4f} | {m['best_rmse_test']:.4f} "
            f"| {recall} |"
        )
    return lines


def render_rating(rows: list[dict], ratio_name: str) -> list[str]:
    reference = {r["rows"]: _epoch(r) for r in rows if r.get("index") == 0 and "epoch_seconds" in r}
    gpu = any(r.get("gpu_peak_mib") is not None for r in rows)  # --device cuda
    lines = [
        f"| rows | model | threads | epochs | seconds per epoch | {ratio_name} | ratings/s | test RMSE | RMSE / floor "
        "| cores busy | peak RSS net (MiB) |" + (" GPU peak (MiB) |" if gpu else ""),
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if gpu else ""),
    ]
    for r in rows:
        head = f"| {r['rows']:,} | {r['label']} |"
        if "epoch_seconds" not in r:
            lines.append(_failed(head, r, 10 if gpu else 9))
            continue
        epoch = _epoch(r)
        ratio = f"{epoch / reference[r['rows']]:.1f}" if r["rows"] in reference else "-"
        lines.append(
            head + f" {r.get('threads') or '-'} | {_epochs_cell(r)} | {epoch:.2f} | {ratio} | "
            f"{r['train_rows'] / epoch:,.0f} | {r['test_rmse']:.4f} | {r['test_rmse'] / r['floor']:.3f} | {r['cores']:.2f} "
            f"| {_mib(r)} |" + (f" {r['gpu_peak_mib']:,.0f} |" if gpu else "")
        )
    return lines


def render_ranking(rows: list[dict]) -> list[str]:
    lines = [
        "| rows | model | epochs | seconds per epoch | interactions/s | recall@20 | share of the truth's "
        "| cores busy | peak RSS net (MiB) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        head = f"| {r['rows']:,} | {r['label']} |"
        if "epoch_seconds" not in r:
            lines.append(_failed(head, r, 7))
            continue
        epoch = _epoch(r)
        lines.append(
            head + f" {len(r['epoch_seconds'])} | {epoch:.2f} | {r['train_rows'] / epoch:,.0f} | {r['recall']:.4f} "
            f"| {r['recall'] / r['truth']:.0%} | {r['cores']:.2f} | {_mib(r)} |"
        )
    return lines


def render_growth(growth: dict[str, list[dict]], growth_rows: int, dim: int) -> list[str]:
    lines: list[str] = []
    tables = (
        ("rows", f"By rows (ML-25M's shape, d={dim})", "rows", lambda r: f"{r['rows']:,}"),
        ("dims", f"By embedding dimension ({growth_rows:,} rows of ML-25M's shape)", "d", lambda r: f"{r['dim']}"),
        (
            "shapes",
            f"By catalogue ({growth_rows:,} rows of each edition's planted shape, d={dim}; users change with items)",
            "shape | users | items",
            lambda r: f"{r['shape']} | {r['users']:,} | {r['items']:,}",
        ),
    )

    def cells(r: dict, first: float | None) -> str:
        if "epoch_seconds" not in r:
            return f" failed: {r.get('error')} |" + " |" * 4
        epoch = _epoch(r)
        ratio = f"{epoch / first:.2f}" if first else "-"
        return f" {len(r['epoch_seconds'])} | {epoch:.3f} | {ratio} | {r['train_rows'] / epoch:,.0f} |"

    for key, title, column, cell in tables:
        rows = growth.get(key, [])
        if not rows:
            continue
        first = next((_epoch(r) for r in rows if "epoch_seconds" in r), None)
        first_one = next((_epoch(r["one_thread"]) for r in rows if "epoch_seconds" in r["one_thread"]), None)
        lines += [
            "",
            f"{title}:",
            "",
            f"| {column} | threads | cores busy | epochs | seconds per epoch | x first row | ratings/s "
            "| 1 thread: epochs | seconds per epoch | x first row | ratings/s |",
            "|" + "---:|" * (column.count("|") + 11),
        ]
        for r in rows:
            busy = f"{r['cores']:.2f}" if "cores" in r else "-"
            lines.append(
                f"| {cell(r)} | {r.get('threads', '-')} | {busy} |"
                + cells(r, first)
                + cells(r["one_thread"], first_one)
            )
    return lines


def _by(rows: list[dict], size: int, index: int) -> dict | None:
    """The measured row ``index`` of a table at ``size`` rows, if it ran."""
    return next((r for r in rows if r["rows"] == size and r.get("index") == index and "epoch_seconds" in r), None)


def summary(saved: dict) -> list[str]:
    """A few sentences read off the measurements (every figure in them is in the tables)."""
    out = []
    rating, ranking = saved.get("rating", []), saved.get("ranking", [])
    for size in saved["sizes"]:
        numba, plain, surprise = _by(rating, size, 0), _by(rating, size, 4), _by(rating, size, 5)
        if numba and plain:
            text = (
                f"At {size:,} rows the default numba engine's epoch took {_epoch(numba):.2f} s, "
                f"{_epoch(plain) / _epoch(numba):.1f}x less than the plain torch loop's ({_epoch(plain):.2f} s)"
            )
            if surprise:
                text += f" and {_epoch(surprise) / _epoch(numba):.1f}x less than Surprise's ({_epoch(surprise):.2f} s)"
            out.append(
                text + f"; its test RMSE was {numba['test_rmse']:.4f} against the plain loop's "
                f"{plain['test_rmse']:.4f} (noise floor {numba['floor']:.4f})."
            )
    pairs = [(size, _by(rating, size, 2), _by(rating, size, 6)) for size in saved["sizes"]]
    pairs = [(size, two, one) for size, two, one in pairs if two and one]
    if pairs:
        out.append(
            "The torch default (batch 1,024, sparse Adam) on 2 threads against 1: "
            + "; ".join(
                f"{_epoch(two):.1f} s ({two['cores']:.2f} cores busy) against {_epoch(one):.1f} s an epoch at "
                f"{size:,} rows"
                for size, two, one in pairs
            )
            + ". Where *cores busy* stays near 1 on 2 threads the process shared the CPU with other load, and a "
            "thread pool that meets at every operation of a small batch waits there for its descheduled thread."
        )
    for size in saved["sizes"]:
        ours, als = _by(ranking, size, 0), _by(ranking, size, 1)
        if ours and als:
            out.append(
                f"Ranking at {size:,} rows: embrec's recall@20 {ours['recall']:.4f} "
                f"({ours['recall'] / ours['truth']:.0%} of the truth's) after {len(ours['epoch_seconds'])} epochs of "
                f"{_epoch(ours):.2f} s, implicit's ALS {als['recall']:.4f} ({als['recall'] / als['truth']:.0%}) after "
                f"{len(als['epoch_seconds'])} iterations of {_epoch(als):.2f} s."
            )
    return [" ".join(out)] if out else []


def render(saved: dict) -> str:
    device, sizes, dim = saved["device"], saved["sizes"], saved["dim"]
    lines = [f"Measured {saved['date']} on {saved['where']}.", "", f"Reproduce: `{saved['command']}`", ""]
    if saved.get("wall_seconds"):
        drawn, found = sum(m.get("seconds", 0.0) for m in saved.get("drawn", [])), saved["data_seconds"]
        took = f"The whole run took {saved['wall_seconds'] / 60:.1f} minutes"
        lines += [
            took + f" with its data cached by an earlier run (drawing it afresh takes {drawn:.0f} s more)."
            if found < drawn / 2
            else took + f", {found:.0f} s of it drawing data.",
            "",
        ]
    loads = [r["load"] for key in ("rating", "ranking") for r in saved.get(key, []) if "load" in r]
    lines += [
        f"Planted data of ML-25M's shape ({N_USERS:,} users, {N_ITEMS:,} items, half stars) drawn by "
        f"`embrec.data.synthetic.planted('ml-25m', rows=..., seed={SEED})` at {', '.join(f'{s:,}' for s in sizes)} "
        f"rows; embedding dimension {dim}. Every model trains on the truth's protocol split (random 90/10, seed "
        f"{PROTOCOL_SEED}) and is scored on its 10% test rows. Each row is a fresh process. *Seconds per epoch*: the "
        "median over its epochs (training plus the validation loss where it has one); *ratings/s*: the rows trained "
        "per epoch over that; *x numba*: seconds per epoch over the default numba engine's at that size; *cores "
        "busy*: the process's CPU seconds over the fit's wall seconds; *peak RSS net*: `ru_maxrss` at the end of "
        "the fit less the RSS after imports and a warm-up fit (data, split, model, optimizer and all that training "
        "allocates)."
        + (
            f" The machine is shared: the 1-minute load average when a row started ranged from {min(loads):.1f} to "
            f"{max(loads):.1f} on its 2 cores (other sessions' jobs ran alongside at times), so seconds "
            "carry that noise and *cores busy* shows what each row got."
            if loads
            else ""
        ),
    ]
    lines += ["", *summary(saved)]
    if saved.get("metas"):
        lines += ["", "The truth's own figures on each size's protocol test rows:", "", *render_truth(saved["metas"])]
    budget = (
        "Epochs per row and size are in the *epochs* column: they were cut, and the slowest rows left out at the "
        "largest size, to keep one run of the script near 25 minutes on 2 cores (`--slow` runs those rows too)."
    )
    if saved.get("rating") and device == "cuda":
        lines += [
            "",
            "### Rating objective",
            "",
            "embrec's torch engine on the GPU fits `EmbeddingRecommender` on the training 90%, which holds out 5% of "
            f"it as a default fit does (so 85.5% of the rows train), {saved['epochs']} epochs.",
            "",
            *render_rating(saved["rating"], "x first row"),
        ]
    elif saved.get("rating"):
        lines += [
            "",
            "### Rating objective",
            "",
            "embrec's rows fit `EmbeddingRecommender` on the training 90%, which holds out 5% of it as a default fit "
            "does (so 85.5% of the rows train). *Epochs*: `best / run` for rows trained with early stopping (patience "
            "3, the best epoch restored), else the epochs run, whose test RMSE is then that of an unfinished model. "
            f"{budget} The plain torch loop is this script's `plain_torch_loop` (some 50 lines: embeddings and "
            "biases, dot product, sigmoid, MSE on ratings scaled to [0, 1], `torch.optim.Adam(fused=True)`, lr "
            f"{PLAIN_LR}, batch {PLAIN_BATCH:,}, no weight decay; 5% of its rows validate and the test RMSE is the "
            "best validation epoch's), apart from embrec's torch engine (the `embrec torch` rows). Surprise's `SVD` "
            f"(scikit-surprise 1.1.5, `n_factors={dim}`, its other defaults; its default 20 epochs where affordable) "
            "runs in its own environment on one thread (it has no threads); its seconds leave out building its "
            "trainset. The torch default's epoch at 25,000,000 rows took 114.7 s in this section's previous run.",
            "",
            *render_rating(saved["rating"], "x numba"),
        ]
    if saved.get("ranking"):
        lines += [
            "",
            "### Ranking objective and implicit feedback",
            "",
            "The same pairs without ratings (what `planted(..., implicit=True)` draws). embrec's ranking objective "
            "(above 20,000 items a sampled softmax with 1,024 popularity-drawn negatives per batch, log-Q corrected, "
            "lazy AdamW) trains without a validation slice. implicit 0.7.3's "
            "`implicit.cpu.als.AlternatingLeastSquares` and `implicit.cpu.bpr.BayesianPersonalizedRanking` fit the "
            "users x items CSR of the training pairs with factors=64, their other defaults (15 ALS iterations and "
            "100 BPR epochs where affordable), 2 threads and one BLAS thread, and rank with their own "
            f"`recommend(..., filter_already_liked_items=True)`. {budget} *Recall@20*: "
            "`embrec.evaluation.evaluate` (`evaluate_lists` for implicit's lists), `threshold=None`, on the "
            f"{RANKED_USERS:,} test users the truth's own recall@20 was measured on "
            "(`truth.figures['ranking']['relevance']`: every item ranked by the planted choice weights); *share of "
            "the truth's* is how close a model comes.",
            "",
            *render_ranking(saved["ranking"]),
        ]
    if saved.get("growth"):
        n = saved["growth_epochs"]
        lines += [
            "",
            "### How cost grows",
            "",
            f"The default numba engine, {n} epoch{'s' if n > 1 else ''} a run (the by-rows table and d={dim} reuse "
            "the rating table's rows, which ran more); below 1,000,000 training rows it trains on one thread by "
            "design. *1 thread*: the same runs with `threads=1`, which keep a core to themselves on this shared "
            "machine, so they show how the work grows with less noise than the 2-thread runs.",
            *render_growth(saved["growth"], saved["growth_rows"], dim),
        ]
    if saved.get("converged"):
        lines += [
            "",
            f"**Quality when trained to the end** ({saved['converge_rows']:,} ratings, d={dim}): early stopping as a "
            f"default fit has it (patience 3, best epoch restored, at most {saved['converge_epochs']} epochs).",
            "",
            "| engine | best epoch / run | test RMSE | seconds per epoch | seconds to best |",
            "|---|---:|---:|---:|---:|",
        ]
        for r in saved["converged"]:
            if "epoch_seconds" not in r:
                lines.append(f"| {r['label']} | failed: {r.get('error')} | | | |")
                continue
            lines.append(
                f"| {r['label']} | {r['best_epoch']} / {len(r['epoch_seconds'])} | {r['test_rmse']:.4f} "
                f"| {_epoch(r):.2f} | {sum(r['epoch_seconds'][: r['best_epoch']]):.1f} |"
            )
    if device == "cuda":
        lines += [
            "",
            "`--device cpu` (the default) measures the CPU engines, the peers and the growth (section Scale).",
        ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- the run
def plan(row: dict, size: int, args: argparse.Namespace) -> tuple[str, int] | str:
    """``(fit, epochs)`` of a row at ``size`` rows, or why it is skipped."""
    if size > row.get("skip_above", math.inf) and not args.slow:
        return f"not run above {row['skip_above']:,} rows (--slow runs it)"
    fit = row["fit"] if size <= row.get("stop_up_to", math.inf) else "fixed"
    if fit == "stop":
        return fit, min(args.max_epochs, row.get("max_epochs", args.max_epochs))
    for up_to, epochs in row.get("epochs", ()):
        if size <= up_to:
            return fit, epochs
    return fit, 1 if size >= row.get("one_epoch_from", math.inf) else args.epochs


def run_table(rows: list[dict], args: argparse.Namespace, sizes: list[int], folders: dict, metas: dict) -> list[dict]:
    out = []
    for size in sizes:
        for index, row in rows:
            planned = plan(row, size, args)
            record = dict(label=row["label"], rows=size, index=index)
            if isinstance(planned, str):
                out.append({**record, "skipped": planned})
                continue
            fit, epochs = planned
            spec = dict(kind=row["kind"], settings=row["settings"], folder=str(folders[size]), dim=args.dim, fit=fit)
            spec["epochs"] = epochs
            t0, load = time.perf_counter(), os.getloadavg()[0]
            result = {**run_row(spec, args.peer_python), **record, "stopped": fit == "stop", "load": load}
            meta = metas[size]
            result.update(
                floor=meta["noise_floor_rmse_test"], best=meta["best_rmse_test"], truth=meta.get("truth_recall")
            )
            print(f"{time.perf_counter() - t0:6.0f} s  {json.dumps(result)}", flush=True)
            out.append(result)
    return out


def _measuring_flags(argv: list[str]) -> list[str]:
    """The command line less the flags that only say where the results go."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--json-out", "--from-json"):
            skip = True
        elif arg != "--no-write" and not arg.startswith(("--json-out=", "--from-json=")):
            out.append(arg)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--sizes", default="1000000,5000000,25000000", help="comma-separated row counts")
    parser.add_argument("--rows", type=int, help="one size (the same as --sizes ROWS)")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the rows trained a fixed number of epochs")
    parser.add_argument(
        "--max-epochs", type=int, default=50, help="most epochs of the rows trained with early stopping"
    )
    parser.add_argument("--slow", action="store_true", help="also run the slow rows at the largest sizes")
    parser.add_argument("--engines", default=None, help="comma-separated row numbers of the rating table to run")
    parser.add_argument(
        "--growth-rows", type=int, default=5_000_000, help="rows of the by-dimension and by-catalogue tables"
    )
    parser.add_argument("--growth-epochs", type=int, default=5, help="epochs of each run of the growth tables")
    parser.add_argument(
        "--peer-python", default=None, help="a Python with scikit-surprise (default: /tmp/peers/bin/python)"
    )
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "embrec-bench-scale")
    parser.add_argument(
        "--converge-rows", type=int, default=0, help="also train engines 0 and 3 to the end on this many rows"
    )
    parser.add_argument("--converge-epochs", type=int, default=40, help="most epochs of those runs")
    parser.add_argument("--no-write", action="store_true", help="print the tables, leave docs/benchmarks.md")
    parser.add_argument("--json-out", type=Path, help="also save the measurements (and the machine) to this file")
    parser.add_argument(
        "--from-json", type=Path, help="write the tables of measurements saved by --json-out, measure nothing"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        if spec["kind"] == "data":
            print(json.dumps(_draw(Path(spec["folder"]), spec["shape"], spec["rows"])))
        elif spec["kind"] == "surprise":
            print(json.dumps(child_surprise(spec)))
        else:
            print(json.dumps(CHILDREN[spec["kind"]](spec)))
        return
    section, key = ("Scale", "bench_scale") if args.device == "cpu" else ("Scale on a GPU", "bench_scale_cuda")
    if args.from_json:
        table = render(json.loads(args.from_json.read_text()))
        print(table)
        if not args.no_write:
            write_section(section, key, table)
        return
    started = time.perf_counter()
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA GPU is available here (torch.cuda.is_available() is False).")
    sizes = [args.rows] if args.rows else [int(s) for s in args.sizes.split(",")]
    parts = set(args.parts.split(",")) if args.device == "cpu" else {"engines"}
    if parts - set(PARTS):
        raise SystemExit(f"--parts {args.parts}: allowed are {', '.join(PARTS)}.")
    if args.peer_python is None and Path("/tmp/peers/bin/python").exists():
        args.peer_python = "/tmp/peers/bin/python"
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    data_seconds, used = 0.0, {}

    def folder(shape: str, rows: int) -> tuple[Path, dict]:
        nonlocal data_seconds
        t0 = time.perf_counter()
        path = data_folder(args.cache_dir, shape, rows)
        data_seconds += time.perf_counter() - t0
        used[path] = json.loads((path / "meta.json").read_text())
        return path, used[path]

    drawn = {size: folder("ml-25m", size) for size in sizes}
    folders, metas = {s: f for s, (f, _) in drawn.items()}, {s: m for s, (_, m) in drawn.items()}
    rating = list(enumerate(RATING[args.device]))
    if args.engines:
        rating = [rating[int(i)] for i in args.engines.split(",")]
    rating = [(i, r) for i, r in rating if ("peers" if r["kind"] == "surprise" else "engines") in parts]
    saved: dict[str, Any] = dict(
        device=args.device, sizes=sizes, dim=args.dim, epochs=args.epochs, max_epochs=args.max_epochs,
        date=time.strftime("%Y-%m-%d"), where=machine(), growth_rows=args.growth_rows, growth_epochs=args.growth_epochs,
        command=" ".join([".venv/bin/python benchmarks/bench_scale.py", *_measuring_flags(sys.argv[1:])]),
    )  # fmt: skip
    saved["metas"] = [metas[size] for size in sizes]
    saved["rating"] = run_table(rating, args, sizes, folders, metas)
    ranking = [(i, r) for i, r in enumerate(RANKING) if ("ranking" if r["kind"] == "embrec" else "peers") in parts]
    saved["ranking"] = run_table(ranking, args, sizes, folders, metas)
    if "growth" in parts:
        saved["growth"] = growth(args, sizes, saved["rating"], folder)
    if args.converge_rows:
        path, meta = folder("ml-25m", args.converge_rows)
        saved["converged"] = []
        for index in CONVERGE[args.device]:
            row = RATING[args.device][index]
            spec = dict(kind=row["kind"], settings=row["settings"], folder=str(path), dim=args.dim, fit="stop")
            result = run_row({**spec, "epochs": args.converge_epochs}, args.peer_python)
            result["label"] = row["label"]
            print(json.dumps(result), flush=True)
            saved["converged"].append(result)
        saved.update(converge_rows=args.converge_rows, converge_epochs=args.converge_epochs)
    saved.update(wall_seconds=time.perf_counter() - started, data_seconds=data_seconds, drawn=list(used.values()))
    if args.json_out:
        args.json_out.write_text(json.dumps(saved))
    table = render(saved)
    print(table)
    if not args.no_write:
        write_section(section, key, table)


def growth(args: argparse.Namespace, sizes: list[int], rating: list[dict], folder) -> dict[str, list[dict]]:
    """Seconds per epoch of the numba engine (default threads, and 1 thread) by rows, dimension and catalogue."""
    measured = {  # the rating table's numba rows already measured some of these
        ("ml-25m", r["rows"], args.dim, r["index"]): r
        for r in rating
        if r.get("index") in (0, 1) and "epoch_seconds" in r
    }

    def run(shape: str, rows: int, dim: int, index: int) -> dict:
        if (shape, rows, dim, index) not in measured:
            path, _ = folder(shape, rows)
            settings = RATING["cpu"][index]["settings"]
            spec = dict(kind="embrec", settings=settings, folder=str(path), dim=dim, fit="fixed")
            result = {**run_row({**spec, "epochs": args.growth_epochs}, None), "load": os.getloadavg()[0]}
            print(f"growth {shape} {rows:,} d={dim} row {index}: {json.dumps(result)}", flush=True)
            measured[(shape, rows, dim, index)] = result
        return measured[(shape, rows, dim, index)]

    def measure(shape: str, rows: int, dim: int) -> dict:
        _, meta = folder(shape, rows)
        found = dict(shape=shape, rows=rows, dim=dim, users=meta["users"], items=meta["items"])
        return {**run(shape, rows, dim, 0), **found, "one_thread": run(shape, rows, dim, 1)}

    return dict(
        rows=[measure("ml-25m", size, args.dim) for size in sizes],
        dims=[measure("ml-25m", args.growth_rows, d) for d in GROWTH_DIMS],
        shapes=[measure(shape, args.growth_rows, args.dim) for shape in GROWTH_SHAPES],
    )


if __name__ == "__main__":
    main()

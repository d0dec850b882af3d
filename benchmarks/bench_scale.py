"""Training at scale: seconds per epoch, ratings/s and peak memory of each engine, side by side.

Writes the "## Scale" section of docs/benchmarks.md. Run from the repository root::

    .venv/bin/python benchmarks/bench_scale.py                           # 25M rows, d=64, on the CPU
    .venv/bin/python benchmarks/bench_scale.py --rows 4700000 --no-write
    .venv/bin/python benchmarks/bench_scale.py --device cuda             # the torch engine on a GPU

The data has ML-25M's shape (162,541 users, 59,047 items, half stars): drawn by
``embrec.data.synthetic.planted`` (a planted low-rank model with popularity and activity skew)
when it is there, else by this script's own small planted generator. It is drawn once and
saved to a temporary folder; every engine then trains in a fresh process, which imports,
trains a tiny model with the same settings first (so the compiled kernels are loaded), notes
its RSS (the baseline), loads the arrays and fits ``EmbeddingRecommender`` for a few epochs
with early stopping's validation slice, as a default fit would. *Seconds per epoch* are
the median over the epochs of ``history_`` (training plus the validation loss);
*ratings/s* are the training rows over that. *Peak RSS net* is the process's ``ru_maxrss``
less the baseline: it holds the data, the model's copy of the seen pairs and everything
training allocates. The target (issue 11) is at most 2x of rating arrays + parameters +
optimizer state.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402

N_USERS, N_ITEMS = 162_541, 59_047

#: (label, settings of EmbeddingRecommender, state floats per parameter row, per element) by device.
ENGINES: dict[str, list[tuple[str, dict, str]]] = {
    "cpu": [
        ("numba (default on the CPU)", dict(engine="numba"), "rowwise"),
        ("numba, 1 thread", dict(engine="numba", threads=1), "rowwise"),
        ("torch: batch 1,024, sparse Adam (the torch default)", dict(engine="torch", threads=2), "adam"),
        (
            "torch: batch 65,536, dense fused Adam",
            dict(engine="torch", threads=2, optimizer="adam", batch_size=65_536, learning_rate=0.01),
            "adam",
        ),
    ],
    "cuda": [
        ("torch: batch 1,024, sparse Adam (the torch default)", dict(engine="torch", device="cuda"), "adam"),
        (
            "torch: batch 65,536, dense fused Adam",
            dict(engine="torch", device="cuda", optimizer="adam", batch_size=65_536, learning_rate=0.01),
            "adam",
        ),
        (
            "torch: batch 65,536, sparse Adam",
            dict(engine="torch", device="cuda", optimizer="sparse_adam", batch_size=65_536, learning_rate=0.01),
            "adam",
        ),
    ],
}

#: The rows of ENGINES trained to the end with --converge-rows (the torch default is too slow for it on a CPU).
CONVERGE = {"cpu": [0, 3], "cuda": [0, 1]}

_CHILD = r"""
import json, resource, sys, time
import numpy as np
import torch
from embrec.data.interactions import Interactions
from embrec.models.embedding import EmbeddingRecommender

def rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

folder, settings, epochs, converge = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "converge"
rng = np.random.default_rng(0)
tiny = Interactions(users=rng.integers(0, 50, 2000).astype(np.int32), items=rng.integers(0, 40, 2000).astype(np.int32),
                    ratings=rng.integers(1, 11, 2000).astype(np.float32) / 2, timestamps=None, user_ids=np.arange(50),
                    item_ids=np.arange(40), rating_scale=(0.5, 5.0), name="warm-up")
EmbeddingRecommender(**{**settings, "epochs": 1}).fit(tiny)  # loads the compiled kernels (numba) or CUDA
baseline = rss_mib()
if torch.cuda.is_available():
    torch.cuda.reset_peak_memory_stats()
arrays = {name: np.load(f"{folder}/{name}.npy") for name in ("users", "items", "ratings", "timestamps")}
data = Interactions(**arrays, user_ids=np.arange(N_USERS), item_ids=np.arange(N_ITEMS), rating_scale=(0.5, 5.0),
                    name="ml-25m-shaped")
t0 = time.perf_counter()
patience = {} if converge else {"patience": 1000}  # converge: early stopping as by default
model = EmbeddingRecommender(**{**settings, "embedding_dim": DIM, "epochs": epochs, **patience}).fit(data)
fit = time.perf_counter() - t0
used = model.resolved_config_
print(json.dumps({
    "epoch_seconds": [h["seconds"] for h in model.history_], "fit_seconds": fit,
    "val_rmse": model.history_[-1].get("val_rmse"), "train_rows": data.n_ratings - round(used.validation_fraction * data.n_ratings),
    "array_mib": sum(a.nbytes for a in arrays.values()) / 2**20, "baseline_mib": baseline,
    "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "gpu_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if used.device.startswith("cuda") else None,
    "engine": used.engine, "optimizer": used.optimizer, "batch_size": used.batch_size, "threads": used.threads,
    "device": used.device, "best_epoch": model.best_epoch_,
    "best_val_rmse": min(h.get("val_rmse", float("inf")) for h in model.history_),
    "seconds_to_best": sum(h["seconds"] for h in model.history_[: model.best_epoch_]),
}))
"""


def planted_arrays(rows: int, seed: int = 0) -> tuple[dict[str, np.ndarray], str]:
    """users, items, ratings, timestamps of ML-25M-shaped planted data, and where they came from."""
    try:
        from embrec.data.synthetic import planted
    except ImportError:
        return _own_planted(rows, seed), "this script's planted generator"
    data, _ = planted("ml-25m", rows=rows, seed=seed, figures=False)
    arrays = dict(users=data.users, items=data.items, ratings=data.ratings, timestamps=data.timestamps)
    return arrays, "`embrec.data.synthetic.planted('ml-25m', rows=..., seed=0)`"


def _own_planted(rows: int, seed: int, rank: int = 8) -> dict[str, np.ndarray]:
    """Rank-``rank`` planted ratings with log-normal user activity and Zipf-like item popularity,
    no duplicate pairs; half stars from 0.5 to 5."""
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 1.0, N_USERS)
    popularity = 1.0 / (np.arange(N_ITEMS) + 50.0)
    popularity = popularity[rng.permutation(N_ITEMS)]
    keys = np.empty(0, dtype=np.int64)
    while len(keys) < rows:
        need = int((rows - len(keys)) * 1.1) + 1_000
        u = rng.choice(N_USERS, size=need, p=activity / activity.sum())
        i = rng.choice(N_ITEMS, size=need, p=popularity / popularity.sum())
        keys = np.unique(np.concatenate([keys, u.astype(np.int64) * N_ITEMS + i]))
    keys = np.sort(rng.choice(keys, size=rows, replace=False)) if len(keys) > rows else keys
    users, items = (keys // N_ITEMS).astype(np.int32), (keys % N_ITEMS).astype(np.int32)
    user_f = rng.normal(0, rank**-0.5, (N_USERS, rank)).astype(np.float32)
    item_f = rng.normal(0, rank**-0.5, (N_ITEMS, rank)).astype(np.float32)
    user_b, item_b = rng.normal(0, 0.4, N_USERS), rng.normal(0, 0.5, N_ITEMS)
    ratings = np.empty(rows, dtype=np.float32)
    for s in range(0, rows, 1 << 20):
        u, i = users[s : s + (1 << 20)], items[s : s + (1 << 20)]
        score = 3.5 + user_b[u] + item_b[i] + np.einsum("ij,ij->i", user_f[u], item_f[i]) + rng.normal(0, 0.5, len(u))
        ratings[s : s + len(u)] = np.clip(np.round(score * 2) / 2, 0.5, 5.0)
    timestamps = rng.integers(789_652_009, 1_574_327_703, size=rows, dtype=np.int64)
    return dict(users=users, items=items, ratings=ratings, timestamps=timestamps)


def run_engine(folder: Path, settings: dict, epochs: int, dim: int, converge: bool = False) -> dict:
    code = f"N_USERS, N_ITEMS, DIM = {N_USERS}, {N_ITEMS}, {dim}\n" + _CHILD
    mode = "converge" if converge else "speed"
    out = subprocess.run(
        [sys.executable, "-c", code, str(folder), json.dumps(settings), str(epochs), mode],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def budget_mib(row: dict, dim: int, state: str) -> float:
    """Rating arrays + parameters + optimizer state, in MiB."""
    n_rows = N_USERS + N_ITEMS
    params = n_rows * (dim + 1) * 4
    optimizer = n_rows * 2 * 4 if state == "rowwise" else 2 * params
    return row["array_mib"] + (params + optimizer) / 2**20


def render(
    rows: list[dict],
    n_ratings: int,
    dim: int,
    device: str,
    source: str,
    epochs: int,
    where: str,
    converged: list[dict] | None = None,
    converge_rows: int = 0,
    converge_epochs: int = 0,
) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {where}.",
        "",
        f"Reproduce: `.venv/bin/python benchmarks/bench_scale.py --device {device} --rows {n_ratings} --dim {dim}"
        + (f" --converge-rows {converge_rows}" if converge_rows else "")
        + "`.",
        "",
        f"{n_ratings:,} ratings of ML-25M's shape ({N_USERS:,} users, {N_ITEMS:,} items, half stars) drawn by "
        f"{source}; embedding dimension {dim}. Each engine trains {epochs} epochs in a fresh process with the 5% "
        "validation slice of a default fit (so 95% of the rows train). *Seconds per epoch*: median over the epochs "
        "(training plus the validation loss); *ratings/s*: training rows over that. *Peak RSS net*: the process's "
        "`ru_maxrss` less its RSS after imports and a warm-up fit (compiled kernels loaded); it holds the data, the "
        "model's users x items matrix of seen pairs and all that training allocates. *Budget*: 2x (rating arrays "
        "(users, items, ratings, timestamps) + parameters + optimizer state), issue 11's target.",
        "",
        "| engine | threads | optimizer | batch | seconds per epoch | ratings/s | fit (s) | val RMSE | "
        "peak RSS net (MiB) | budget (MiB) | within | GPU peak (MiB) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        epoch = statistics.median(r["epoch_seconds"])
        net = r["peak_mib"] - r["baseline_mib"]
        budget = 2 * r["budget_mib"]
        gpu = f"{r['gpu_peak_mib']:,.0f}" if r["gpu_peak_mib"] is not None else "-"
        lines.append(
            f"| {r['label']} | {r['threads'] or '-'} | {r['optimizer']} | {r['batch_size']:,} | {epoch:.2f} "
            f"| {r['train_rows'] / epoch:,.0f} | {r['fit_seconds']:.1f} | {r['val_rmse']:.4f} | {net:,.0f} "
            f"| {budget:,.0f} | {'yes' if net <= budget else 'no'} | {gpu} |"
        )
    if converged:
        lines += [
            "",
            f"**Quality when trained to the end** ({converge_rows:,} ratings of the same shape and generator, "
            f"d={dim}): each engine with early stopping as a default fit has it (patience 3, best epoch restored, "
            f"at most {converge_epochs} epochs). *Seconds to best*: the epochs up to the best one.",
            "",
            "| engine | best epoch / run | best val RMSE | seconds per epoch | seconds to best |",
            "|---|---:|---:|---:|---:|",
        ]
        for r in converged:
            lines.append(
                f"| {r['label']} | {r['best_epoch']} / {len(r['epoch_seconds'])} | {r['best_val_rmse']:.4f} "
                f"| {statistics.median(r['epoch_seconds']):.2f} | {r['seconds_to_best']:.1f} |"
            )
    if device == "cpu":
        numba_rmse = {r["threads"]: r["val_rmse"] for r in rows if r["engine"] == "numba"}
        same = len(numba_rmse) > 1 and len(set(numba_rmse.values())) == 1
        lines += [
            "",
            "The numba engine's model does not depend on the number of threads"
            + (" (its rows above trained the same model: the same validation RMSE)." if same else ".")
            + " `--device cuda` measures the torch engine on a GPU (section Scale on a GPU when it has been run "
            "there; `auto` trains with torch on CUDA).",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--rows", type=int, default=25_000_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per engine (the torch default at 25M: 1)")
    parser.add_argument("--engines", default=None, help="comma-separated row numbers of the engine table to run")
    parser.add_argument(
        "--converge-rows", type=int, default=0, help="also train engines 0 and 3 (CPU) to the end on this many rows"
    )
    parser.add_argument("--converge-epochs", type=int, default=40, help="most epochs of those runs")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/benchmarks.md")
    parser.add_argument("--json-out", type=Path, help="also save the measurements (and the machine) to this file")
    parser.add_argument(
        "--from-json", type=Path, help="write the table of measurements saved by --json-out, measure nothing"
    )
    args = parser.parse_args()
    section, key = ("Scale", "bench_scale") if args.device == "cpu" else ("Scale on a GPU", "bench_scale_cuda")
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        table = render(**saved)
        print(table)
        if not args.no_write:
            write_section(section, key, table)
        return
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA GPU is available here (torch.cuda.is_available() is False).")
    engines = ENGINES[args.device]
    if args.engines:
        engines = [engines[int(i)] for i in args.engines.split(",")]
    t0 = time.perf_counter()
    arrays, source = planted_arrays(args.rows)
    print(f"data: {args.rows:,} rows in {time.perf_counter() - t0:.0f} s ({source})", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="embrec-bench-scale-") as tmp:
        for name, array in arrays.items():
            np.save(Path(tmp) / f"{name}.npy", array)
        del arrays
        for label, settings, state in engines:
            # the torch default takes some 95 s an epoch at 25M: one epoch of it says enough
            slow = settings.get("optimizer") is None and settings["engine"] == "torch" and args.device == "cpu"
            epochs = 1 if slow and args.rows > 5_000_000 else args.epochs
            row = run_engine(Path(tmp), settings, epochs, args.dim)
            row.update(label=label, budget_mib=budget_mib(row, args.dim, state))
            print(json.dumps(row), flush=True)
            rows.append(row)
    converged = []
    if args.converge_rows:
        arrays, _ = planted_arrays(args.converge_rows)
        with tempfile.TemporaryDirectory(prefix="embrec-bench-scale-") as tmp:
            for name, array in arrays.items():
                np.save(Path(tmp) / f"{name}.npy", array)
            del arrays
            for label, settings, _ in [ENGINES[args.device][i] for i in CONVERGE[args.device]]:
                row = run_engine(Path(tmp), settings, args.converge_epochs, args.dim, converge=True)
                row.update(label=label)
                print(json.dumps(row), flush=True)
                converged.append(row)
    saved = dict(
        rows=rows, n_ratings=args.rows, dim=args.dim, device=args.device, source=source, epochs=args.epochs,
        where=machine(), converged=converged, converge_rows=args.converge_rows, converge_epochs=args.converge_epochs,
    )  # fmt: skip
    if args.json_out:
        args.json_out.write_text(json.dumps(saved))
    table = render(**saved)
    print(table)
    if not args.no_write:
        write_section(section, key, table)


if __name__ == "__main__":
    main()

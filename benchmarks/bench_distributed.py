"""One process against two: `embrec train` and `embrec train --nproc 2` side by side, in one run.

Each row is a fresh `embrec train --json` (rating objective, numba engine, the default settings but
no refit, so that the epochs compared are the same epochs), on ml-100k and on planted data of ML-1M's
shape drawn at run time. Writes the "## Distributed training" section of docs/benchmarks.md:

    EMBREC_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_distributed.py [--rows 1000000]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402
from embrec.data.synthetic import planted  # noqa: E402


def _train(data: list[str], nproc: int, out: Path) -> dict:
    argv = [
        sys.executable,
        "-m",
        "embrec",
        "train",
        *data,
        "--set",
        "refit=false",
        "--out",
        str(out),
        "--json",
        "--force",
    ]
    if nproc > 1:
        argv += ["--nproc", str(nproc)]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    info = json.loads(done.stdout)
    info["wall"] = time.perf_counter() - started
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the planted ML-1M-shaped data")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        planted_csv = Path(tmp) / "planted.parquet"
        planted("ml-1m", rows=args.rows, seed=0, figures=False)[0].to_frame().to_parquet(planted_csv)
        for label, data in (
            ("ml-100k", ["--dataset", "ml-100k"]),
            (f"planted ML-1M shape, {args.rows:,} rows", ["--data", str(planted_csv)]),
        ):
            for nproc in (1, 2):
                info = _train(data, nproc, Path(tmp) / f"run{nproc}")
                epoch = statistics.median(r["seconds"] for r in info["history"][1:] or info["history"])
                rows.append((label, nproc, info, epoch))
                print(label, nproc, round(epoch, 4), info["test_rmse"], flush=True)
    body = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}.",
        "",
        "Reproduce: `EMBREC_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_distributed.py`",
        "",
        "`embrec train --json` in a fresh process for each row (rating objective on the numba engine, the defaults "
        "with `refit=false`); `--nproc 2` starts two workers with torchrun on 127.0.0.1 (gloo) that shard the tables "
        "by block (docs/distributed.md). *Epoch*: the median seconds of an epoch after the first (training and the "
        "held-out loss); *wall*: the whole command, start-up and data loading included. The two workers share the "
        "machine's 2 cores, so this shows the cost of the exchanges, not a speed-up: that needs cores or machines "
        "the one process does not have.",
        "",
        "| data | processes | epoch (s) | epochs run | train (s) | wall (s) | test RMSE |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, nproc, info, epoch in rows:
        body.append(
            f"| {label} | {nproc} | {epoch:.4f} | {info['epochs_run']} | {info['train_seconds']:.2f} | "
            f"{info['wall']:.1f} | {info['test_rmse']:.4f} |"
        )
    write_section("Distributed training", "bench_distributed", "\n".join(body))


if __name__ == "__main__":
    main()

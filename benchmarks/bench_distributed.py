"""One process against two: `embrec train` and `embrec train --nproc 2` side by side, in one run.

Each row is a fresh `embrec train --json` (either objective, the default settings but no refit, so
that the epochs compared are the same epochs), on ml-100k, ml-latest-small and planted data of
ML-1M's shape drawn at run time; two workers with and without per-epoch checkpoints. Writes the "## Distributed training" section of docs/benchmarks.md:

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


def _train(data: list[str], objective: str, nproc: int, out: Path, extra: list[str]) -> dict:
    argv = [sys.executable, "-m", "embrec", "train", *data, "--objective", objective, "--set", "refit=false",
            "--out", str(out), "--json", "--force", *extra]  # fmt: skip
    if nproc > 1:
        argv += ["--nproc", str(nproc)]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    info = json.loads(done.stdout)
    info["wall"] = time.perf_counter() - started
    return info


def _peaks(info: dict) -> str:
    """Each process's peak resident memory (MiB): one figure, or one per worker."""
    peaks = info.get("peak_rss_mib_per_worker") or [info["peak_rss_mib"]]
    return " / ".join(f"{p:,.0f}" for p in peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the planted ML-1M-shaped data")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        planted_csv = Path(tmp) / "planted.parquet"
        planted("ml-1m", rows=args.rows, seed=0, figures=False)[0].to_frame().to_parquet(planted_csv)
        planted_label = f"planted ML-1M shape, {args.rows:,} rows"
        runs = [
            (name, ["--dataset", name], objective, nproc, "every epoch")
            for objective in ("rating", "ranking")
            for name in ("ml-100k", "ml-latest-small")
            for nproc in (1, 2)
        ]
        runs += [(planted_label, ["--data", str(planted_csv)], "rating", nproc, "every epoch") for nproc in (1, 2)]
        runs.append((planted_label, ["--data", str(planted_csv)], "rating", 2, "none"))
        for label, data, objective, nproc, checkpoints in runs:
            extra = ["--checkpoint-every", "0"] if checkpoints == "none" else []
            info = _train(data, objective, nproc, Path(tmp) / f"run{nproc}", extra)
            epoch = statistics.median(r["seconds"] for r in info["history"][1:] or info["history"])
            rows.append((label, objective, nproc, checkpoints if nproc > 1 else "-", info, epoch))
            print(label, objective, nproc, checkpoints, round(epoch, 4), info.get("test_rmse"),
                  info.get("test_ndcg@10"), flush=True)  # fmt: skip
    body = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}.",
        "",
        "Reproduce: `EMBREC_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_distributed.py`",
        "",
        "`embrec train --json` in a fresh process for each row, the default settings with `refit=false` (so that "
        "the epochs compared are the same epochs) on each dataset's default split: the rating objective on the "
        "numba engine (DSGD across workers), the ranking objective's full softmax on torch (both tables split by "
        "rows across workers). `--nproc 2` starts two workers with torchrun on 127.0.0.1 (gloo; "
        "docs/distributed.md); they checkpoint every epoch unless `--checkpoint-every 0`. *Epoch*: the median "
        "seconds of an epoch after the first (training, the held-out loss and the checkpoint); *wall*: the whole "
        "command, start-up and data loading included; *peak MiB*: each process's peak resident memory, rank 0 "
        "first (it reads the data and deals the others their shares, docs/distributed.md); *vs 1 process*: the "
        "test figure of two workers over one process's. The two workers share the machine's 2 cores, so this shows the cost of the exchanges, not a "
        "speed-up: that needs cores or machines the one process does not have.",
        "",
        "| data | objective | processes | checkpoints | epoch (s) | epochs run | train (s) | wall (s) | peak MiB per "
        "process | test | vs 1 process |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    alone: dict[tuple[str, str], float] = {}
    for label, objective, nproc, checkpoints, info, epoch in rows:
        metric = "test_rmse" if objective == "rating" else "test_ndcg@10"
        value = info[metric]
        if nproc == 1:
            alone[(label, objective)] = value
        ratio = value / alone[(label, objective)]
        body.append(
            f"| {label} | {objective} | {nproc} | {checkpoints} | {epoch:.4f} | {info['epochs_run']} | "
            f"{info['train_seconds']:.2f} | {info['wall']:.1f} | {_peaks(info)} | "
            f"{metric[5:].upper() if objective == 'rating' else 'NDCG@10'} "
            f"{value:.4f} | {ratio:.4f} |"
        )
    write_section("Distributed training", "bench_distributed", "\n".join(body))


if __name__ == "__main__":
    main()

"""Loading speed and peak memory of ``load_data`` on synthetic ML-25M-shaped ratings files.

For each size it writes a ratings CSV (``userId,movieId,rating,timestamp``: 162,541 users,
59,047 movies, half-star ratings, Unix timestamps, no duplicate pairs, sorted by user like the
real ``ratings.csv``) into a temporary folder, then loads it in a fresh Python process, once as a
MovieLens folder and once as your own file with a column mapping. Each child reports its wall
time and its peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``); the baseline is the peak
RSS of a child that only imports embrec, numpy, pandas and pyarrow, measured the same way. The
target is a peak RSS net of that baseline of at most 3x the bytes of the final arrays
(users + items + ratings + timestamps + the two id vocabularies).

Run from the repository root::

    .venv/bin/python benchmarks/bench_load.py                # 1M and 25M rows, writes docs/benchmarks.md
    .venv/bin/python benchmarks/bench_load.py --sizes 1000000 --no-write
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import DOCS, machine, write_section  # noqa: E402

N_USERS = 162_541
N_ITEMS = 59_047
MAX_ITEM_ID = 209_171  # ML-25M movie ids are sparse up to here
T_FIRST, T_LAST = 789_652_009, 1_574_327_703
TARGET_RATIO = 3.0

_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import numpy, pandas, pyarrow
from embrec.data.load import ColumnMapping, load_data
import_s = time.perf_counter() - t0
mode, path = sys.argv[1], sys.argv[2]
if mode == "baseline":
    print(json.dumps({"peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "import_s": import_s}))
    sys.exit(0)
t0 = time.perf_counter()
if mode == "movielens":
    data = load_data(path)
else:
    data = load_data(path, columns=ColumnMapping(user="userId", item="movieId", rating="rating", timestamp="timestamp"))
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
arrays = sum(a.nbytes for a in (data.users, data.items, data.ratings, data.timestamps, data.user_ids, data.item_ids))
print(json.dumps({"peak_kb": peak, "seconds": seconds, "array_bytes": int(arrays), "n_ratings": data.n_ratings,
                  "n_users": data.n_users, "n_items": data.n_items}))
"""


def write_ratings(path: Path, n_rows: int, seed: int = 0) -> None:
    """A ratings.csv of ``n_rows`` distinct (user, movie) pairs in the ML-25M shape, sorted by user."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    movie_ids = np.sort(rng.choice(np.arange(1, MAX_ITEM_ID + 1), size=N_ITEMS, replace=False)).astype(np.int32)
    cells = N_USERS * N_ITEMS
    keys = np.unique(rng.integers(0, cells, size=int(n_rows * 1.01) + 1000, dtype=np.int64))
    keys = np.sort(rng.choice(keys, size=n_rows, replace=False))
    users = (keys // N_ITEMS + 1).astype(np.int32)
    items = movie_ids[keys % N_ITEMS]
    del keys
    ratings = (rng.integers(1, 11, size=n_rows) / 2).astype(np.float32)
    stamps = rng.integers(T_FIRST, T_LAST, size=n_rows, dtype=np.int64)
    table = pa.table({"userId": users, "movieId": items, "rating": ratings, "timestamp": stamps})
    path.parent.mkdir(parents=True, exist_ok=True)
    with pa.OSFile(str(path), "wb") as sink:
        sink.write(b"userId,movieId,rating,timestamp\n")  # unquoted, as GroupLens writes it
        pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"))


def run_child(mode: str, path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _CHILD, mode, str(path)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.0f}"


def render(rows: list[dict[str, object]], baseline: dict[str, float], file_sizes: dict[int, int], repeat: int) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}. The machine is shared with other work, so times "
        "are indicative (a few runs vary by some 10-20%).",
        "",
        "Reproduce: `.venv/bin/python benchmarks/bench_load.py` (from the repository root).",
        "",
        "Synthetic ML-25M-shaped `ratings.csv` (162,541 users, 59,047 movies, half-star ratings, Unix "
        f"timestamps, no duplicate pairs, sorted by user). Each load runs in a fresh process, {repeat} times: the "
        "table gives the median time and the highest peak. *Peak RSS* is that process's `ru_maxrss`; *net* subtracts the baseline of a process that only imports embrec, numpy, "
        f"pandas and pyarrow ({mib(baseline['peak_kb'] * 1024)} MiB, measured the same way). *Arrays* are the "
        "bytes of the final users + items (int32) + ratings (float32) + timestamps (int64) + id vocabularies. "
        f"Target: net peak <= {TARGET_RATIO:g}x arrays.",
        "",
        "| rows | CSV size (MiB) | loaded as | load time (s) | rows/s | arrays (MiB) | peak RSS raw (MiB) | "
        "peak RSS net (MiB) | net / arrays | target met |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        arrays = float(row["array_bytes"])  # type: ignore[arg-type]
        raw = float(row["peak_kb"]) * 1024  # type: ignore[arg-type]
        net = raw - baseline["peak_kb"] * 1024
        ratio = net / arrays
        n = int(row["n_ratings"])  # type: ignore[arg-type]
        lines.append(
            f"| {n:,} | {mib(file_sizes[n])} | {row['mode']} | {float(row['seconds']):.1f} | "  # type: ignore[arg-type]
            f"{n / float(row['seconds']):,.0f} | {mib(arrays)} | {mib(raw)} | {mib(net)} | {ratio:.2f} | "  # type: ignore[arg-type]
            f"{'yes' if ratio <= TARGET_RATIO else 'no'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 25_000_000])
    parser.add_argument("--workdir", type=Path, default=None, help="keep the generated files here")
    parser.add_argument("--repeat", type=int, default=3, help="loads per size and mode (median time, highest peak)")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/benchmarks.md alone")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="embrec-bench-") as tmp:
        root = args.workdir or Path(tmp)
        baseline = run_child("baseline", root)
        print(f"baseline peak RSS {baseline['peak_kb'] / 1024:,.0f} MiB", flush=True)
        rows: list[dict[str, object]] = []
        sizes: dict[int, int] = {}
        for n in args.sizes:
            folder = root / f"synthetic-{n}"
            path = folder / "ratings.csv"
            if not path.exists():
                t0 = time.perf_counter()
                write_ratings(path, n)
                print(
                    f"wrote {path} ({path.stat().st_size / 2**20:,.0f} MiB) in {time.perf_counter() - t0:.0f} s",
                    flush=True,
                )
            sizes[n] = path.stat().st_size
            for mode, target in (("movielens", folder), ("file", path)):
                runs = [run_child(mode, target) for _ in range(args.repeat)]
                result: dict[str, object] = dict(runs[0])
                result["seconds"] = float(np.median([r["seconds"] for r in runs]))
                result["peak_kb"] = max(r["peak_kb"] for r in runs)
                result["mode"] = "MovieLens folder" if mode == "movielens" else "own file + column mapping"
                rows.append(result)
                print(json.dumps(result), flush=True)
        body = render(rows, baseline, sizes, args.repeat)
    print(body)
    if not args.no_write:
        write_section("Loading", "bench_load", body)
        print(f"wrote a section of {DOCS}")


if __name__ == "__main__":
    main()

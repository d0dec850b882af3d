"""Every built-in model on ml-latest-small and ml-100k, with 95% bootstrap intervals.

Random 90/10 split with seed 42, relevant = test rating >= 4, seen items excluded, full
ranking over all items. Also the MMR and novelty re-ranking sweeps of the ranking embedding
model (the data of the accuracy-diversity-novelty trade-off). Writes the "## Model
comparison" section of docs/benchmarks.md:

    EMBREC_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_models.py
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402
from embrec.data.load import load_data  # noqa: E402
from embrec.data.splits import make_split  # noqa: E402
from embrec.evaluation import evaluate, sweep  # noqa: E402
from embrec.models import create  # noqa: E402

DATA = Path(os.environ.get("EMBREC_DATA_DIR", "../shared/data"))
MODELS = {
    "embedding (ranking)": ("embedding", {"objective": "ranking"}),
    "embedding (rating)": ("embedding", {}),
    "ease": ("ease", {}),
    "als": ("als", {}),
    "bpr": ("bpr", {}),
    "popularity": ("popularity", {}),
    "biases": ("biases", {}),
}
COLUMNS = [
    ("rmse", "RMSE"),
    ("ndcg", "NDCG@10"),
    ("recall", "recall@10"),
    ("genre_diversity", "genre ILD"),
    ("diversity", "embedding ILD"),
    ("novelty", "novelty (bits)"),
    ("coverage", "coverage"),
    ("gini", "Gini"),
    ("personalization", "personalization"),
]
LAMBDAS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)


def cell(ci) -> str:
    if ci is None:
        return "-"
    if isinstance(ci, float):
        return "-" if math.isnan(ci) else f"{ci:.3f}"
    if math.isnan(ci.mean):
        return "-"
    return f"{ci.mean:.3f} [{ci.low:.3f}, {ci.high:.3f}]"


def one_dataset(name: str) -> tuple[list[str], object]:
    data = load_data(DATA / name)
    split = make_split(data)
    fitted, seconds = [], {}
    for label, (model_name, config) in MODELS.items():
        t0 = time.perf_counter()
        fitted.append(create(model_name, **config).fit(split.train))
        seconds[label] = time.perf_counter() - t0
    result = evaluate(fitted, split, names=list(MODELS))
    lines = [
        f"**{name}** ({result[0].per_user.shape[0]:,} users with a relevant test item)",
        "",
        "| model | fit (s) | " + " | ".join(h for _, h in COLUMNS) + " |",
        "|---|---:|" + "---:|" * len(COLUMNS),
    ]
    for ev in result.models:
        cells = [cell(ev.summary.get(key, ev.lists.get(key))) for key, _ in COLUMNS]
        lines.append(f"| {ev.label} | {seconds[ev.label]:.2f} | " + " | ".join(cells) + " |")
    return lines, (fitted[0], split)


def main() -> None:
    body = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}.",
        "",
        "Reproduce: `EMBREC_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_models.py`",
        "",
        "Random 90/10 split, seed 42; relevant = test rating >= 4; seen items excluded; full ranking. Means with "
        "95% bootstrap intervals over users (1,000 resamples); coverage, Gini and personalization are list-level, "
        "coverage and Gini over the items with training data. RMSE in stars for models that predict ratings, over the "
        "test pairs whose user and item have training data. Genre ILD: Jaccard distance of genres; embedding ILD: cosine "
        "distance of the model's own item vectors (so it compares a model with itself, not across models). "
        "Each model with its defaults, which were checked on validation parts carved from these splits' training "
        'rows, never on their test rows (section "Where the defaults come from"; `benchmarks/derive_defaults.py`).',
        "",
    ]
    ranker_split = None
    for name in ("ml-latest-small", "ml-100k"):
        lines, ranker_split = one_dataset(name)
        body += lines + [""]
        print("\n".join(lines), flush=True)
    model, split = ranker_split  # the ranking embedding model on ml-100k
    for method in ("mmr", "novelty"):
        frame = sweep(model, split, LAMBDAS, method=method)
        body += [
            f"**Re-ranking sweep, {method}** (embedding ranking model, ml-100k, top-100 candidates)",
            "",
            "| lambda | NDCG@10 | recall@10 | genre ILD | embedding ILD | novelty (bits) | coverage |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in frame.to_dict(orient="records"):
            body.append(
                f"| {row['lambda']:.1f} | {row['ndcg']:.4f} | {row['recall']:.4f} | {row['genre_diversity']:.4f} "
                f"| {row['diversity']:.4f} | {row['novelty']:.3f} | {row['coverage']:.3f} |"
            )
        body.append("")
    write_section("Model comparison", "bench_models", "\n".join(body).rstrip())


if __name__ == "__main__":
    main()

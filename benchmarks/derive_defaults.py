"""Where each model's defaults come from: every model tuned on validation only, beside its defaults.

For each model and each dataset (ml-100k and ml-latest-small, the model comparison's random 90/10
split with seed 42), ``embrec.tuning.tune`` searches the model's declared space on a validation part
carved from the training part (the test rows are never read), and the model's defaults are scored on
the same validation part. Every trial runs to its end (no pruning: the early-stopping losses that
the pruner compares differ in scale between settings such as the ranking objective's
``low_rating_weight``, so a study that prunes can stop the trials that would have won). A default is kept when no tuned setting beats it on validation by more
than ``MARGIN`` (relative) on both datasets
(each dataset's best tried on the other too); otherwise the table shows what validation asks for. The
studies are kept in ``--out`` (default ``runs/derive-defaults``): a rerun continues them.

Writes the "## Where the defaults come from" section of docs/benchmarks.md:

    EMBREC_DATA_DIR=../shared/data .venv/bin/python benchmarks/derive_defaults.py [--trials 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from optuna.pruners import NopPruner  # noqa: E402

from _report import machine, write_section  # noqa: E402
from embrec.data.load import load_data  # noqa: E402
from embrec.data.splits import make_split  # noqa: E402
from embrec.evaluation import evaluate  # noqa: E402
from embrec.models import create  # noqa: E402
from embrec.tuning import parse_metric, tune, validation_split  # noqa: E402

DATA = Path(os.environ.get("EMBREC_DATA_DIR", "../shared/data"))
DATASETS = ("ml-100k", "ml-latest-small")
#: label -> (model, fixed settings, metric, trials multiplier). The rating objective's numba engine fits
#: ml-100k in a tenth of a second and pruning stops most ranking trials early: more trials for them.
MODELS: dict[str, tuple[str, dict[str, Any], str, int]] = {
    "embedding (rating)": ("embedding", {"objective": "rating"}, "rmse", 10),
    "embedding (ranking)": ("embedding", {"objective": "ranking"}, "ndcg@10", 2),
    "ease": ("ease", {}, "ndcg@10", 1),
    "als": ("als", {}, "ndcg@10", 1),
    "bpr": ("bpr", {}, "ndcg@10", 1),
    "biases": ("biases", {}, "rmse", 1),
    "item_knn": ("item_knn", {}, "rmse", 1),
    "user_knn": ("user_knn", {}, "rmse", 1),
}
#: Relative validation gain a tuned setting must show, on both datasets, before a default moves.
MARGIN = 0.005


def _validation_score(model: str, settings: dict[str, Any], split, metric_text: str) -> float:
    """The model's validation score with ``settings``, as a study's trial measures it."""
    metric = parse_metric(metric_text)
    validation = validation_split(split)
    fitted = create(model, **settings).fit(validation.train)
    result = evaluate(fitted, validation, k=metric.k or 10, threshold=None if metric.needs_ratings else 4.0)
    scored = result.models[0]
    return float(scored.lists[metric.name] if metric.needs_ratings else scored.summary[metric.name].mean)


def _gain(default: float, best: float, metric_text: str) -> float:
    """Relative improvement of ``best`` over ``default`` (positive: tuning found better)."""
    if parse_metric(metric_text).direction == "minimize":
        return (default - best) / default
    return (best - default) / default


def _settings(settings: dict[str, Any]) -> str:
    return ", ".join(f"`{k}={v:.3g}`" if isinstance(v, float) else f"`{k}={v}`" for k, v in settings.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--trials", type=int, default=20, help="trials of every study (x10 for the rating embedding, x2 for ranking)"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/derive-defaults"))
    parser.add_argument("--only", action="append", choices=list(MODELS))
    args = parser.parse_args()
    labels = args.only or list(MODELS)
    splits = {name: make_split(load_data(DATA / name)) for name in DATASETS}

    rows, verdicts = [], []
    for label in labels:
        model, fixed, metric, times = MODELS[label]
        defaults, bests = {}, {}
        for name, split in splits.items():
            t0 = time.perf_counter()
            defaults[name] = _validation_score(model, fixed, split, metric)
            folder = args.out / f"{label.replace(' ', '').replace('(', '-').strip(')')}-{name}"
            result = tune(
                model, split, metric=metric, trials=args.trials * times, fixed=fixed, out=folder, pruner=NopPruner()
            )
            bests[name] = ({k: v for k, v in result.best_config.items() if k not in fixed}, result.best_value)
            rows.append(
                f"| {label} | {name} | {metric} | {defaults[name]:.4f} | {result.best_value:.4f} | "
                f"{100 * _gain(defaults[name], result.best_value, metric):+.1f}% | {len(result.trials)} | "
                f"{_settings(bests[name][0])} |"
            )
            print(rows[-1], f"({time.perf_counter() - t0:.0f} s)", flush=True)
        # each dataset's best, scored on every dataset's validation part: one setting must serve both
        gains: dict[str, list[float]] = {}
        for own, (settings, value) in bests.items():
            key = _settings(settings)
            if key in gains:
                continue
            gains[key] = [
                _gain(
                    defaults[name],
                    value if name == own else _validation_score(model, {**fixed, **settings}, split, metric),
                    metric,
                )
                for name, split in splits.items()
            ]
        chosen = max(gains, key=lambda key: sum(gains[key]))
        across = ", ".join(f"{100 * g:+.1f}%" for g in gains[chosen])
        if min(gains[chosen]) > MARGIN:
            verdict = f"move to {chosen} (gains {across})"
        else:
            verdict = f"kept: the better tuned setting ({chosen}) gains {across}"
        verdicts.append(f"| {label} | {verdict} |")
        print(verdicts[-1], flush=True)

    body = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}.",
        "",
        f"Reproduce: `EMBREC_DATA_DIR=../shared/data .venv/bin/python benchmarks/derive_defaults.py --trials {args.trials}`",
        "",
        "Every model tuned with `embrec.tuning.tune` (Optuna TPE, the model's declared space) on a validation part "
        "carved from the training part of the model comparison's split (random 90/10, seed 42), and its defaults "
        "scored on the same validation part; the test rows are never read. Every trial runs to its end (no pruning). *Gain*: the best trial's validation "
        f"score over the defaults' (positive: tuning found better). A default is kept unless tuning gains more than "
        f"{MARGIN:.1%} on both datasets with one setting: each dataset's best is scored on the other's "
        "validation part too, and the one with the larger summed gain is the candidate. RMSE in stars; NDCG@10 with relevant = rating >= 4.",
        "",
        "| model | dataset | metric | defaults | tuned | gain | trials | best settings |",
        "|---|---|---|---:|---:|---:|---:|---|",
        *rows,
        "",
        "| model | verdict |",
        "|---|---|",
        *verdicts,
    ]
    if args.only:
        print("--only: docs/benchmarks.md left as it was (run every model to rewrite its section)")
    else:
        write_section("Where the defaults come from", "defaults", "\n".join(body))


if __name__ == "__main__":
    main()

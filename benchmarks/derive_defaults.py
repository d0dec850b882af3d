"""Where each model's defaults come from: every model tuned on validation only, beside its defaults.

For each model and each dataset (ml-100k and ml-latest-small, the model comparison's random 90/10
split with seed 42), ``embrec.tuning.tune`` searches the model's declared space on a validation part
carved from the training part (the test rows are never read). Every trial runs to its end: the
early-stopping losses the median pruner compares differ in scale between settings (the ranking
objective's ``low_rating_weight``), so a pruned study can stop the trials that would have won.

The defaults and each dataset's best are then scored on both validation parts, averaged over three
model seeds (one study's best can owe its lead to its seed; a step of 5% in ALS's ``alpha`` moved
validation NDCG@10 by 1%). A default moves to the better of the two only when it gains more than
``MARGIN`` (relative) on both datasets. The studies are kept in ``--out`` (default
``runs/derive-defaults``): a rerun continues them.

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
from embrec.models import create, registry  # noqa: E402
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
#: Model seeds the defaults and the candidates are scored over (one study's best can owe its lead to its seed).
SEEDS = (1, 2, 3)


def _validation_score(model: str, settings: dict[str, Any], split, metric_text: str) -> float:
    """The model's validation score with ``settings``, as a study's trial measures it."""
    metric = parse_metric(metric_text)
    validation = validation_split(split)
    fitted = create(model, **settings).fit(validation.train)
    result = evaluate(fitted, validation, k=metric.k or 10, threshold=None if metric.needs_ratings else 4.0)
    scored = result.models[0]
    return float(scored.lists[metric.name] if metric.needs_ratings else scored.summary[metric.name].mean)


def _over_seeds(model: str, settings: dict[str, Any], split, metric_text: str) -> float:
    """The mean validation score over the model seeds :data:`SEEDS` (one fit for a model without a seed)."""
    seeded = "seed" in set(registry.get(model).config_class.keys())
    runs = [{**settings, "seed": seed} for seed in SEEDS] if seeded else [settings]
    return sum(_validation_score(model, run, split, metric_text) for run in runs) / len(runs)


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
            defaults[name] = _over_seeds(model, fixed, split, metric)
            folder = args.out / f"{label.replace(' ', '').replace('(', '-').strip(')')}-{name}"
            result = tune(
                model, split, metric=metric, trials=args.trials * times, fixed=fixed, out=folder, pruner=NopPruner()
            )
            bests[name] = {k: v for k, v in result.best_config.items() if k not in fixed}
            rows.append(
                f"| {label} | {name} | {metric} | {defaults[name]:.4f} | {result.best_value:.4f} | "
                f"{len(result.trials)} | {_settings(bests[name])} |"
            )
            print(rows[-1], f"({time.perf_counter() - t0:.0f} s)", flush=True)
        # each dataset's best, scored over seeds on every dataset's validation part: one setting must serve both
        gains: dict[str, list[float]] = {}
        for settings in bests.values():
            key = _settings(settings)
            if key not in gains:
                gains[key] = [
                    _gain(defaults[name], _over_seeds(model, {**fixed, **settings}, split, metric), metric)
                    for name, split in splits.items()
                ]
        chosen = max(gains, key=lambda key: sum(gains[key]))
        moved = min(gains[chosen]) > MARGIN
        cells = " | ".join(f"{100 * g:+.1f}%" for g in gains[chosen])
        verdicts.append(f"| {label} | {chosen} | {cells} | {'move the default' if moved else 'keep the default'} |")
        print(verdicts[-1], flush=True)

    body = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}.",
        "",
        f"Reproduce: `EMBREC_DATA_DIR=../shared/data .venv/bin/python benchmarks/derive_defaults.py --trials {args.trials}`",
        "",
        "Every model tuned with `embrec.tuning.tune` (Optuna TPE over the model's declared space, the settings fit "
        "would use as the first trial, every trial run to its end) on a validation part carved from the training part "
        "of the model comparison's split (random 90/10, seed 42); the test rows are never read. *Defaults*: the "
        f"defaults' validation score, mean over model seeds {', '.join(map(str, SEEDS))} (one fit for models without "
        "a seed); *study best*: the best trial's (model seed 42). RMSE in stars; NDCG@10 with relevant = rating >= 4.",
        "",
        "| model | dataset | metric | defaults | study best | trials | best settings |",
        "|---|---|---|---:|---:|---:|---|",
        *rows,
        "",
        "Each dataset's best settings are then scored on both datasets' validation parts over the same seeds; the "
        "*candidate* is the one with the larger summed gain over the defaults (positive: better than the defaults). "
        f"A default moves to the candidate only when it gains more than {MARGIN:.1%} on both datasets. The defaults "
        "scored here are the current ones: those this procedure moved (the numba rating engine's, the ranking "
        "objective's low_rating_weight, ALS's), with their earlier values and gains, and the ranking candidate left "
        "out because it breaks the fold-in of dislikes, are listed in docs/tuning.md.",
        "",
        "| model | candidate | gain, " + " | gain, ".join(DATASETS) + " | verdict |",
        "|---|---|" + "---:|" * len(DATASETS) + "---|",
        *verdicts,
    ]
    if args.only:
        print("--only: docs/benchmarks.md left as it was (run every model to rewrite its section)")
    else:
        write_section("Where the defaults come from", "defaults", "\n".join(body))


if __name__ == "__main__":
    main()

"""``embrec evaluate RUN [RUN ...]``: score saved runs on the split they were trained on.

By default the data and split come from the first run's ``embrec.json`` (``extra.data`` and
``extra.split``, stored by ``embrec train``); ``--data``/``--dataset`` replace the stored data
options and any split option given replaces the stored split. Without stored options the
command-line options are used (default: a random 90/10 split with seed 42). Every run's recorded
training-data fingerprint must equal the fingerprint of the split's training part, so a model is
never scored on rows it was trained on.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from embrec.cli._common import cli_errors, console, err_console, print_json
from embrec.cli._options import (
    Cutoff,
    DataDir,
    DataPath,
    DatasetName,
    DropUnseen,
    Duplicates,
    ItemCol,
    ItemsFile,
    RatingCol,
    RatingScale,
    Seed,
    Sep,
    SplitOpt,
    TestCount,
    TestFraction,
    TimestampCol,
    UserCol,
    load_from_options,
    split_from_options,
)
from embrec.data.build import DuplicatePolicy
from embrec.data.interactions import Interactions
from embrec.data.splits import Split, SplitMethod
from embrec.errors import ConfigError, DataError
from embrec.evaluation.rerank import DEFAULT_CANDIDATES, parse_reranker
from embrec.evaluation.runner import LIST_METRICS, PER_USER_METRICS, EvaluationResult, evaluate
from embrec.evaluation.stats import DEFAULT_RESAMPLES, format_interval
from embrec.evaluation.stored import data_options, split_options, stored_options
from embrec.models.base import Recommender
from embrec.models.io import load_run

__all__ = ["register", "evaluate_command"]

OUTPUT = "Output"
_DATA_OPTIONS = ("data", "dataset")
_SPLIT_OPTIONS = ("split", "test_fraction", "test_count", "cutoff", "seed", "drop_unseen")

Runs = Annotated[
    list[Path],
    typer.Argument(help="Run folders written by `embrec train`; the first is the baseline of the paired tests.", show_default=False),
]
K = Annotated[int, typer.Option("--k", min=1, help="Length of each recommendation list.")]
Threshold = Annotated[
    float,
    typer.Option("--threshold", help="Lowest test rating that counts as relevant (ignored for implicit data, where every test item is)."),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.", rich_help_panel=OUTPUT)]
SaveRecs = Annotated[
    Optional[Path],
    typer.Option("--save-recs", help="Write the evaluated lists as CSV: user,item,rank,score (with a leading model column for several runs).", rich_help_panel=OUTPUT),
]
SaveSplit = Annotated[
    Optional[Path],
    typer.Option("--save-split", help="Write the exact train.csv/test.csv evaluated on into this folder.", rich_help_panel=OUTPUT),
]
Rerank = Annotated[
    Optional[str],
    typer.Option("--rerank", help="Re-rank each list before scoring: mmr:LAMBDA[:embedding|genres] (diversity) or novelty:LAMBDA.", show_default=False),
]
RerankCandidates = Annotated[
    int, typer.Option("--rerank-candidates", min=1, help="Top items per user that --rerank chooses from.")
]
Markdown = Annotated[
    Optional[Path], typer.Option("--markdown", help="Write a Markdown report (each metric's mean and 95% interval) to this file.", rich_help_panel=OUTPUT)
]
CsvDir = Annotated[
    Optional[Path],
    typer.Option("--csv", help="Write summary.csv, per_user_<run>.csv and comparisons.csv into this folder.", rich_help_panel=OUTPUT),
]
Resamples = Annotated[int, typer.Option("--resamples", min=1, help="Bootstrap resamples of the confidence intervals and paired tests.")]
BootstrapSeed = Annotated[int, typer.Option("--bootstrap-seed", min=0, help="Seed of the bootstrap resampling.")]


# --------------------------------------------------------------------------- options
def _given(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _labels(runs: list[Path]) -> list[str]:
    labels: list[str] = []
    for run in runs:
        base = run.resolve().name or str(run)
        label, n = base, 2
        while label in labels:
            label, n = f"{base}#{n}", n + 1
        labels.append(label)
    return labels


def _split_folder_force(folder: Path) -> bool:
    """Replace ``folder`` only when it holds nothing but an earlier split."""
    from embrec.cli.split_cmd import SPLIT_FILES

    return folder.is_dir() and all(p.name in SPLIT_FILES for p in folder.iterdir())


# --------------------------------------------------------------------------- printing
def _p(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _print_tables(result: EvaluationResult, source: str) -> None:
    rel = "every test item" if result.threshold is None else f"rating >= {result.threshold:g}"
    header = (
        f"[bold]{len(result.user_ids):,}[/] users with a relevant test item ({rel}) in {source}, "
        f"{result.split['method']} split; k = {result.k}"
        + (f", re-ranked with {result.rerank}" if result.rerank is not None else "")
    )
    console.print(header, highlight=False, soft_wrap=True)
    table = Table(title=f"mean [{result.level:.0%} bootstrap interval]", title_justify="left")
    table.add_column("metric")
    for m in result.models:
        table.add_column(m.label, justify="right")
    for metric in PER_USER_METRICS:
        cells = [format_interval(m.summary[metric].mean, m.summary[metric].low, m.summary[metric].high) for m in result.models]
        if any(c != "-" for c in cells):
            table.add_row(metric, *cells)
    for metric in LIST_METRICS:
        values = [m.lists.get(metric, float("nan")) for m in result.models]
        if any(math.isfinite(v) for v in values):
            table.add_row(metric, *[f"{v:.4f}" if math.isfinite(v) else "-" for v in values])
    console.print(table)
    if len(result.models) > 1:
        cmp = result.compare()
        comparison = Table(title=f"paired comparison against {result.models[0].label} (model - baseline)", title_justify="left")
        for name, justify in (("model", "left"), ("metric", "left"), ("difference", "right"), ("p bootstrap", "right"), ("p Wilcoxon", "right")):
            comparison.add_column(name, justify=justify)  # type: ignore[arg-type]
        for row in cmp.itertuples(index=False):
            comparison.add_row(
                str(row.model), str(row.metric), format_interval(row.difference, row.low, row.high), _p(row.p_bootstrap), _p(row.p_wilcoxon)
            )
        console.print(comparison)


# --------------------------------------------------------------------------- the command
@cli_errors
def evaluate_command(
    ctx: typer.Context,
    runs: Runs,
    k: K = 10,
    threshold: Threshold = 4.0,
    json_output: JsonOut = False,
    save_recs: SaveRecs = None,
    save_split: SaveSplit = None,
    rerank: Rerank = None,
    rerank_candidates: RerankCandidates = DEFAULT_CANDIDATES,
    markdown: Markdown = None,
    csv: CsvDir = None,
    resamples: Resamples = DEFAULT_RESAMPLES,
    bootstrap_seed: BootstrapSeed = 0,
    data: DataPath = None,
    dataset: DatasetName = None,
    data_dir: DataDir = None,
    user_col: UserCol = "user",
    item_col: ItemCol = "item",
    rating_col: RatingCol = "rating",
    timestamp_col: TimestampCol = "timestamp",
    sep: Sep = None,
    items: ItemsFile = None,
    rating_scale: RatingScale = None,
    duplicates: Duplicates = DuplicatePolicy.last,
    split: SplitOpt = SplitMethod.random,
    test_fraction: TestFraction = None,
    test_count: TestCount = None,
    cutoff: Cutoff = None,
    seed: Seed = 42,
    drop_unseen: DropUnseen = False,
) -> None:
    """Evaluate saved runs: ranking accuracy, diversity, novelty, coverage, with 95% intervals.

    Each run ranks all items (its training items left out) for every test user with at least one relevant test item.

    The data and split are re-created from the first run's embrec.json unless given here. With two or more runs, each is compared with the first (paired bootstrap and Wilcoxon signed-rank p-values).
    """
    reranker = None if rerank is None else parse_reranker(rerank, candidates=rerank_candidates)
    models: list[Recommender] = [load_run(run) for run in runs]
    infos = [getattr(m, "run_info_", {}) or {} for m in models]
    first = runs[0]

    stored_data = stored_options(infos[0], "data", first)
    if any(_given(ctx, name) for name in _DATA_OPTIONS) or stored_data is None:
        if data is None and dataset is None:
            raise ConfigError(
                f"run {str(first)!r} does not record the data it was trained on (no extra.data in its embrec.json); "
                "pass the --data or --dataset (and split options) used for training."
            )
        data_kw: dict[str, Any] = dict(
            data=data, dataset=dataset, data_dir=data_dir, user_col=user_col, item_col=item_col, rating_col=rating_col,
            timestamp_col=timestamp_col, sep=sep, items=items, rating_scale=rating_scale, duplicates=duplicates,
        )
        data_origin = "command line"
    else:
        data_kw = data_options(stored_data, first)
        data_origin = f"{first}/embrec.json"
    stored_split = stored_options(infos[0], "split", first)
    if any(_given(ctx, name) for name in _SPLIT_OPTIONS) or stored_split is None:
        split_kw: dict[str, Any] = dict(
            split=split, test_fraction=test_fraction, test_count=test_count, cutoff=cutoff, seed=seed, drop_unseen=drop_unseen
        )
        split_origin = "command line"
    else:
        split_kw = split_options(stored_split)
        split_origin = f"{first}/embrec.json"

    interactions: Interactions = load_from_options(**data_kw)
    the_split: Split = split_from_options(interactions, **split_kw)
    train_fp = the_split.train.fingerprint()
    unchecked = []
    for run, info in zip(runs, infos):
        recorded = info.get("data_fingerprint")
        if not recorded:
            unchecked.append(str(run))
        elif recorded != train_fp:
            raise DataError(
                f"run {str(run)!r} was trained on other data: its training-data fingerprint {recorded[:12]}... differs "
                f"from that of the training part of this {the_split.method.value} split of {interactions.name!r} "
                f"({train_fp[:12]}...; data options from the {data_origin}, split options from the {split_origin}). "
                "Pass the --data/--dataset and split options (--split, --test-fraction, --seed, ...) used for training."
            )
    if unchecked:
        which = f"run {unchecked[0]} records" if len(unchecked) == 1 else f"runs {', '.join(unchecked)} record"
        err_console.print(
            f"[yellow]warning:[/] {which} no training-data fingerprint, so embrec cannot check that it was trained "
            "on this split's training part.",
            highlight=False, soft_wrap=True,
        )

    result = evaluate(
        models, the_split, k=k, threshold=threshold, rerank=reranker, names=_labels(runs),
        n_resamples=resamples, seed=bootstrap_seed,
    )

    written: dict[str, Any] = {}
    if save_split is not None:
        from embrec.cli.split_cmd import write_split

        info = {"source": interactions.name, "source_rows": interactions.n_ratings,
                "source_fingerprint": interactions.fingerprint()}
        written["split"] = str(write_split(the_split, save_split, force=_split_folder_force(save_split), info=info))
    if save_recs is not None:
        written["recommendations"] = str(result.write_recommendations(save_recs))
    if csv is not None:
        written["csv"] = [str(p) for p in result.write_csv(csv)]
    if markdown is not None:
        written["markdown"] = str(result.write_markdown(markdown))

    if json_output:
        out = {
            "runs": [{"path": str(run), "label": m.label, "model": m.model} for run, m in zip(runs, result.models)],
            "data": {"source": interactions.name, "rows": interactions.n_ratings, "options_from": data_origin,
                     "train_fingerprint": train_fp, "split_options_from": split_origin},
            **result.to_dict(),
            "written": written,
        }
        print_json(out)
        return
    _print_tables(result, interactions.name)
    for what, where in written.items():
        shown = ", ".join(where) if isinstance(where, list) else where
        console.print(f"{what} written to {shown}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` command to the main app."""
    app.command("evaluate")(evaluate_command)

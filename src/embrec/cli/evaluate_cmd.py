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
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from embrec.cli._common import cli_errors, console, err_console, print_json
from embrec.cli._options import data_options, given, load, split_options
from embrec.data.options import DataOptions, SplitOptions
from embrec.errors import ConfigError

if TYPE_CHECKING:
    from embrec.data.interactions import Interactions
    from embrec.data.splits import Split
    from embrec.evaluation.runner import EvaluationResult
    from embrec.runs import Run

__all__ = ["register", "evaluate_command"]

OUTPUT = "Output"
_DATA_OPTIONS = ("data", "dataset")
_SPLIT_OPTIONS = ("split", "test_fraction", "test_count", "cutoff", "seed", "drop_unseen")
_DEFAULT_CANDIDATES = 100  # embrec.evaluation.rerank.DEFAULT_CANDIDATES, without importing it for --help
_DEFAULT_RESAMPLES = 1000  # embrec.evaluation.stats.DEFAULT_RESAMPLES

Runs = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Run folders written by `embrec train`; the first is the baseline of the paired tests.", show_default=False
    ),
]
RecsFile = Annotated[
    Path | None,
    typer.Option(
        "--recs",
        help="Score saved or external lists instead of runs: CSV/Parquet with user, item, rank (and an optional model column).",
        show_default=False,
    ),
]
SplitDir = Annotated[
    Path | None,
    typer.Option(
        "--split-dir",
        help="With --recs: a folder written by `embrec split` or --save-split (train.csv, test.csv, split.json).",
        show_default=False,
    ),
]
K = Annotated[int, typer.Option("--k", min=1, help="Length of each recommendation list.")]
Threshold = Annotated[
    float,
    typer.Option(
        "--threshold",
        help="Lowest test rating that counts as relevant (ignored for implicit data, where every test item is).",
    ),
]
JsonOut = Annotated[
    bool, typer.Option("--json", help="Print one JSON object instead of tables.", rich_help_panel=OUTPUT)
]
SaveRecs = Annotated[
    Path | None,
    typer.Option(
        "--save-recs",
        help="Write the evaluated lists as CSV: user,item,rank,score (with a leading model column for several runs).",
        rich_help_panel=OUTPUT,
    ),
]
SaveSplit = Annotated[
    Path | None,
    typer.Option(
        "--save-split", help="Write the exact train.csv/test.csv evaluated on into this folder.", rich_help_panel=OUTPUT
    ),
]
Rerank = Annotated[
    str | None,
    typer.Option(
        "--rerank",
        help="Re-rank each list before scoring: mmr:LAMBDA[:embedding|genres] (diversity) or novelty:LAMBDA.",
        show_default=False,
    ),
]
RerankCandidates = Annotated[
    int, typer.Option("--rerank-candidates", min=1, help="Top items per user that --rerank chooses from.")
]
Markdown = Annotated[
    Path | None,
    typer.Option(
        "--markdown",
        help="Write a Markdown report (each metric's mean and 95% interval) to this file.",
        rich_help_panel=OUTPUT,
    ),
]
CsvDir = Annotated[
    Path | None,
    typer.Option(
        "--csv",
        help="Write summary.csv, per_user_<run>.csv and comparisons.csv into this folder.",
        rich_help_panel=OUTPUT,
    ),
]
Resamples = Annotated[
    int, typer.Option("--resamples", min=1, help="Bootstrap resamples of the confidence intervals and paired tests.")
]
BootstrapSeed = Annotated[int, typer.Option("--bootstrap-seed", min=0, help="Seed of the bootstrap resampling.")]


# --------------------------------------------------------------------------- options
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
    from embrec.data.split_files import SPLIT_FILES

    return folder.is_dir() and all(p.name in SPLIT_FILES for p in folder.iterdir())


# --------------------------------------------------------------------------- printing
def _p(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _print_tables(result: EvaluationResult, source: str) -> None:
    from embrec.evaluation.catalog import METRICS
    from embrec.evaluation.stats import format_interval

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
    for kind in ("per_user", "list"):  # intervals first, then the list figures
        for metric in (e.name for e in METRICS if e.kind == kind):
            if kind == "per_user":
                cells = [format_interval(ci.mean, ci.low, ci.high) for ci in (m.summary[metric] for m in result.models)]
            else:
                values = [m.lists.get(metric, float("nan")) for m in result.models]
                cells = [f"{v:.4f}" if math.isfinite(v) else "-" for v in values]
            if any(c != "-" for c in cells):
                table.add_row(metric, *cells)
    console.print(table)
    if len(result.models) > 1:
        cmp = result.compare()
        comparison = Table(
            title=f"paired comparison against {result.models[0].label} (model - baseline)", title_justify="left"
        )
        for name, justify in (
            ("model", "left"),
            ("metric", "left"),
            ("difference", "right"),
            ("p bootstrap", "right"),
            ("p Wilcoxon", "right"),
        ):
            comparison.add_column(name, justify=justify)  # type: ignore[arg-type]
        for row in cmp.itertuples(index=False):
            comparison.add_row(
                str(row.model),
                str(row.metric),
                format_interval(row.difference, row.low, row.high),
                _p(row.p_bootstrap),
                _p(row.p_wilcoxon),
            )
        console.print(comparison)


# --------------------------------------------------------------------------- the command
def _runs_data_and_split(
    opened: list[Run], data_opts: DataOptions, split_opts: SplitOptions
) -> tuple[Interactions, Split, str, str]:
    """The data and split to score runs on: the options given here, else the first run's record.

    Every run's training fingerprint is checked against the split's training part.
    """
    first = opened[0]
    if any(given(name) for name in _DATA_OPTIONS) or first.data_options is None:
        if data_opts.data is None and data_opts.dataset is None:
            raise ConfigError(
                f"run {str(first.path)!r} does not record the data it was trained on (no extra.data in its embrec.json); "
                "pass the data= or dataset= (and split options) used for training."
            )
        chosen_data, data_origin = data_opts, "command line"
    else:
        chosen_data, data_origin = first.data_options, f"{first.path}/embrec.json"
    if any(given(name) for name in _SPLIT_OPTIONS) or first.split_options is None:
        chosen_split, split_origin = split_opts, "command line"
    else:
        chosen_split, split_origin = first.split_options, f"{first.path}/embrec.json"
    interactions = load(chosen_data)
    the_split = chosen_split.apply(interactions)
    origin = f"; data options from the {data_origin}, split options from the {split_origin}"
    unchecked = []
    for run in opened:
        if not run.fingerprint:
            unchecked.append(str(run.path))
        run.check(the_split, origin=origin)
    if unchecked:
        which = f"run {unchecked[0]} records" if len(unchecked) == 1 else f"runs {', '.join(unchecked)} record"
        err_console.print(
            f"[yellow]warning:[/] {which} no training-data fingerprint, so embrec cannot check that it was trained "
            "on this split's training part.",
            highlight=False,
            soft_wrap=True,
        )
    return interactions, the_split, data_origin, split_origin


def _lists_split(
    split_dir: Path | None, data_opts: DataOptions, split_opts: SplitOptions
) -> tuple[Interactions | None, Split, str]:
    """The split external lists are scored on: a saved split folder, or the data and split options."""
    if split_dir is not None:
        from embrec.data.split_files import load_split

        return None, load_split(split_dir), str(split_dir)
    if data_opts.data is None and data_opts.dataset is None:
        raise ConfigError(
            "--recs needs the split its lists were made for: pass --split-dir DIR, or --data/--dataset with the split options."
        )
    interactions = load(data_opts)
    return interactions, split_opts.apply(interactions), "command line"


@cli_errors
@data_options
@split_options
def evaluate_command(
    runs: Runs = None,
    data_opts: DataOptions = DataOptions(),
    split_opts: SplitOptions = SplitOptions(),
    recs: RecsFile = None,
    split_dir: SplitDir = None,
    k: K = 10,
    threshold: Threshold = 4.0,
    json_output: JsonOut = False,
    save_recs: SaveRecs = None,
    save_split: SaveSplit = None,
    rerank: Rerank = None,
    rerank_candidates: RerankCandidates = _DEFAULT_CANDIDATES,
    markdown: Markdown = None,
    csv: CsvDir = None,
    resamples: Resamples = _DEFAULT_RESAMPLES,
    bootstrap_seed: BootstrapSeed = 0,
) -> None:
    """Evaluate saved runs (or saved lists): ranking accuracy, diversity, novelty, coverage, with 95% intervals.

    Each run ranks all items (its training items left out) for every test user with at least one relevant test item.

    The data and split are re-created from the first run's embrec.json unless given here. With two or more runs, each is compared with the first (paired bootstrap and Wilcoxon signed-rank p-values).

    --recs FILE scores lists made elsewhere (by `--save-recs`, `recommend --all-users` or another library) on a saved split (--split-dir) with the same metrics.
    """
    from embrec.evaluation import evaluate
    from embrec.evaluation.rerank import parse_reranker
    from embrec.runs import Run

    runs = runs or []
    if bool(runs) == (recs is not None):
        raise ConfigError("give run folders to evaluate, or --recs FILE with --split-dir DIR, not both or neither.")
    if split_dir is not None and recs is None:
        raise ConfigError("--split-dir goes with --recs; runs re-create their own split.")
    interactions: Interactions | None
    if recs is not None:
        if rerank is not None:
            raise ConfigError("--rerank needs a model's scores; it applies to runs, not to --recs lists.")
        from embrec.evaluation import evaluate_lists

        interactions, the_split, origin = _lists_split(split_dir, data_opts, split_opts)
        data_origin = split_origin = origin
        result = evaluate_lists(recs, the_split, k=k, threshold=threshold, n_resamples=resamples, seed=bootstrap_seed)
        labels = [(str(recs), m.label) for m in result.models]
    else:
        reranker = None if rerank is None else parse_reranker(rerank, candidates=rerank_candidates)
        opened = [Run.open(run) for run in runs]
        interactions, the_split, data_origin, split_origin = _runs_data_and_split(opened, data_opts, split_opts)
        result = evaluate(
            [o.model for o in opened],
            the_split,
            k=k,
            threshold=threshold,
            rerank=reranker,
            names=_labels(runs),
            n_resamples=resamples,
            seed=bootstrap_seed,
        )
        labels = [(str(run), m.label) for run, m in zip(runs, result.models)]
    source = interactions if interactions is not None else the_split.train

    written: dict[str, Any] = {}
    if save_split is not None:
        from embrec.data.split_files import source_info, write_split

        force = _split_folder_force(save_split)
        written["split"] = str(write_split(the_split, save_split, force=force, info=source_info(source)))
    if save_recs is not None:
        written["recommendations"] = str(result.write_recommendations(save_recs))
    if csv is not None:
        written["csv"] = [str(p) for p in result.write_csv(csv)]
    if markdown is not None:
        written["markdown"] = str(result.write_markdown(markdown))

    if json_output:
        out = {
            "runs": [
                {"path": path, "label": label, "model": m.model} for (path, label), m in zip(labels, result.models)
            ],
            "data": {
                "source": source.name,
                "rows": source.n_ratings,
                "options_from": data_origin,
                "train_fingerprint": the_split.train.fingerprint(),
                "split_options_from": split_origin,
            },
            **result.to_dict(),
            "written": written,
        }
        print_json(out)
        return
    _print_tables(result, source.name)
    for what, where in written.items():
        shown = ", ".join(where) if isinstance(where, list) else where
        console.print(f"{what} written to {shown}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` command to the main app."""
    app.command("evaluate")(evaluate_command)

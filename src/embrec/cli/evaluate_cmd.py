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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from embrec.cli._common import cli_errors, console, err_console, print_json
from embrec.cli._options import SplitDirOption, data_options, given, load, split_options
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
_MAX_CANDIDATES = 1000  # embrec.evaluation.rerank.MAX_CANDIDATES
_MAX_K = 1000  # embrec.evaluation.context.MAX_K
_DEFAULT_RESAMPLES = 1000  # embrec.evaluation.stats.DEFAULT_RESAMPLES
_MAX_RESAMPLES = 100_000  # embrec.evaluation.stats.MAX_RESAMPLES

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
K = Annotated[
    int,
    typer.Option("--k", min=1, max=_MAX_K, help="Length of each recommendation list (at most the number of items)."),
]
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
    int,
    typer.Option(
        "--rerank-candidates", min=1, max=_MAX_CANDIDATES, help="Top items per user that --rerank chooses from."
    ),
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
    int,
    typer.Option(
        "--resamples",
        min=1,
        max=_MAX_RESAMPLES,
        help="Bootstrap resamples of the confidence intervals and paired tests.",
    ),
]
BootstrapSeed = Annotated[int, typer.Option("--bootstrap-seed", min=0, help="Seed of the bootstrap resampling.")]


# --------------------------------------------------------------------------- options
def _split_folder_force(folder: Path) -> bool:
    """Replace ``folder`` only when it holds nothing but an earlier split."""
    from embrec.data.split_files import SPLIT_FILES

    return folder.is_dir() and all(p.name in SPLIT_FILES for p in folder.iterdir())


# --------------------------------------------------------------------------- printing
def _metric_table(result: EvaluationResult) -> Table:
    from embrec.evaluation.catalog import METRICS
    from embrec.evaluation.markdown import PAIR_COUNTS, pair_count
    from embrec.evaluation.stats import format_interval

    table = Table(title=f"mean [{result.level:.0%} bootstrap interval]", title_justify="left")
    table.add_column("metric")
    for m in result.models:
        table.add_column(m.label, justify="right")
    # the catalogue's per-user metrics (with intervals) first, then its list figures
    for metric in sorted(METRICS, key=lambda e: e.kind != "per_user"):
        if metric.kind == "per_user":
            cells = [
                format_interval(ci.mean, ci.low, ci.high) for ci in (m.summary[metric.name] for m in result.models)
            ]
        else:
            values = [m.lists.get(metric.name, float("nan")) for m in result.models]
            cells = [f"{v:.4f}" if math.isfinite(v) else "-" for v in values]
        if any(c != "-" for c in cells):
            table.add_row(metric.name, *cells)
    # how many test pairs RMSE and MAE scored, and how many were left out as cold
    for key, _ in PAIR_COUNTS:
        cells = [pair_count(m, key) for m in result.models]
        if any(c != "-" for c in cells):
            table.add_row(key, *cells)
    return table


def _comparison_table(result: EvaluationResult) -> Table:
    from embrec.evaluation.stats import format_interval, format_p_value

    table = Table(title=f"paired comparison against {result.models[0].label} (model - baseline)", title_justify="left")
    for name in ("model", "metric", "difference", "p bootstrap", "p Wilcoxon"):
        table.add_column(name, justify="left" if name in ("model", "metric") else "right")
    for row in result.compare().itertuples(index=False):
        interval = format_interval(row.difference, row.low, row.high)
        table.add_row(
            str(row.model), str(row.metric), interval, format_p_value(row.p_bootstrap), format_p_value(row.p_wilcoxon)
        )
    return table


def _print_tables(result: EvaluationResult, source: str) -> None:
    rel = "every test item" if result.threshold is None else f"rating >= {result.threshold:g}"
    rerank = "" if result.rerank is None else f", re-ranked with {result.rerank}"
    header = (
        f"[bold]{len(result.user_ids):,}[/] users with a relevant test item ({rel}) in {source}, "
        f"{result.split['method']} split; k = {result.k}{rerank}; coverage and Gini over the "
        f"{result.catalog_items:,} items with training data"
    )
    console.print(header, highlight=False, soft_wrap=True)
    console.print(_metric_table(result))
    if len(result.models) > 1:
        console.print(_comparison_table(result))


# --------------------------------------------------------------------------- the command
def _runs_data_and_split(
    opened: list[Run], data_opts: DataOptions, split_opts: SplitOptions, split_dir: Path | None
) -> tuple[Interactions, Split, str, str]:
    """The data and split to score runs on: the options (or saved split) given here, else the first run's record.

    Every run's training fingerprint is checked against the split's training part.
    """
    first = opened[0]
    typed = any(given(name) for name in (*_DATA_OPTIONS, *_SPLIT_OPTIONS))
    if split_dir is not None or (not typed and first.split_dir is not None):
        if split_dir is not None and typed:
            raise ConfigError(
                "--split-dir already holds the data and its split; leave out --data/--dataset and the split options."
            )
        folder = split_dir if split_dir is not None else first.split_dir
        origin = "command line" if split_dir is not None else f"{first.path}/embrec.json"
        interactions, the_split = first.saved_split(folder)
        for run in opened[1:]:
            run.check(the_split, origin=f"; the split saved in {folder}")
        return interactions, the_split, origin, f"{origin} (saved split {folder})"
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


@dataclass
class _Scored:
    """What was evaluated, on which split, and where the data and split options came from."""

    result: EvaluationResult
    split: Split
    source: Interactions
    paths: list[str]
    data_origin: str
    split_origin: str

    def to_json(self, written: dict[str, Any]) -> dict[str, Any]:
        runs = [{"path": p, "label": m.label, "model": m.model} for p, m in zip(self.paths, self.result.models)]
        data = {
            "source": self.source.name,
            "rows": self.source.n_ratings,
            "options_from": self.data_origin,
            "train_fingerprint": self.split.train.fingerprint(),
            "split_options_from": self.split_origin,
        }
        return {"runs": runs, "data": data, **self.result.to_dict(), "written": written}


def _score_lists(
    recs: Path, split_dir: Path | None, data_opts: DataOptions, split_opts: SplitOptions, **evaluation: Any
) -> _Scored:
    from embrec.evaluation import evaluate_lists

    interactions, the_split, origin = _lists_split(split_dir, data_opts, split_opts)
    result = evaluate_lists(recs, the_split, **evaluation)
    source = interactions if interactions is not None else the_split.train
    return _Scored(result, the_split, source, [str(recs)] * len(result.models), origin, origin)


def _score_runs(
    runs: list[Path],
    data_opts: DataOptions,
    split_opts: SplitOptions,
    split_dir: Path | None,
    rerank: str | None,
    candidates: int,
    **evaluation: Any,
) -> _Scored:
    from embrec.evaluation import evaluate
    from embrec.evaluation.labels import unique_labels
    from embrec.evaluation.rerank import parse_reranker
    from embrec.runs import Run

    reranker = None if rerank is None else parse_reranker(rerank, candidates=candidates)
    opened = [Run.open(run) for run in runs]
    interactions, the_split, data_origin, split_origin = _runs_data_and_split(opened, data_opts, split_opts, split_dir)
    names = unique_labels(o.label for o in opened)
    result = evaluate([o.model for o in opened], the_split, rerank=reranker, names=names, **evaluation)
    return _Scored(result, the_split, interactions, [str(r) for r in runs], data_origin, split_origin)


def _write(
    scored: _Scored, save_split: Path | None, save_recs: Path | None, csv: Path | None, markdown: Path | None
) -> dict[str, Any]:
    """Write the files asked for; returns what was written where."""
    written: dict[str, Any] = {}
    if save_split is not None:
        from embrec.data.split_files import source_info, write_split

        force = _split_folder_force(save_split)
        written["split"] = str(write_split(scored.split, save_split, force=force, info=source_info(scored.source)))
    if save_recs is not None:
        written["recommendations"] = str(scored.result.write_recommendations(save_recs))
    if csv is not None:
        written["csv"] = [str(p) for p in scored.result.write_csv(csv)]
    if markdown is not None:
        written["markdown"] = str(scored.result.write_markdown(markdown))
    return written


@cli_errors
@data_options
@split_options
def evaluate_command(
    runs: Runs = None,
    data_opts: DataOptions = DataOptions(),
    split_opts: SplitOptions = SplitOptions(),
    recs: RecsFile = None,
    split_dir: SplitDirOption = None,
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

    --split-dir DIR scores the runs on a split saved by `embrec split` (their training fingerprint checked).

    --recs FILE scores lists made elsewhere (by `--save-recs`, `recommend --all-users` or another library) on a saved split (--split-dir) with the same metrics.
    """
    if bool(runs) == (recs is not None):
        raise ConfigError("give run folders to evaluate, or --recs FILE with --split-dir DIR, not both or neither.")
    evaluation = dict(k=k, threshold=threshold, n_resamples=resamples, seed=bootstrap_seed)
    if recs is not None:
        if rerank is not None:
            raise ConfigError("--rerank needs a model's scores; it applies to runs, not to --recs lists.")
        scored = _score_lists(recs, split_dir, data_opts, split_opts, **evaluation)
    else:
        scored = _score_runs(runs or [], data_opts, split_opts, split_dir, rerank, rerank_candidates, **evaluation)
    written = _write(scored, save_split, save_recs, csv, markdown)
    if json_output:
        print_json(scored.to_json(written))
        return
    _print_tables(scored.result, scored.source.name)
    for what, where in written.items():
        shown = ", ".join(where) if isinstance(where, list) else where
        console.print(f"{what} written to {shown}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` command to the main app."""
    app.command("evaluate")(evaluate_command)

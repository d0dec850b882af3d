"""``embrec experiment``: run an experiment file (datasets x protocols x models x seeds) and compare the models.

A thin layer over :mod:`embrec.experiments`: ``check`` reads and checks the file, ``run`` runs
every cell into ``--out`` (reusing the cells an earlier run finished) and writes the comparison.
The format of the file is in ``docs/experiments.md``; ``examples/`` has one per reference protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from embrec.cli._common import cli_errors, console, err_console, print_json

if TYPE_CHECKING:
    from embrec.experiments import Experiment, ExperimentRun

app = typer.Typer(
    no_args_is_help=True,
    help="Run an experiment file: datasets x split protocols x models x seeds, compared in one table.",
)

FileArg = Annotated[
    Path, typer.Argument(help="The experiment file (TOML; see docs/experiments.md and examples/).", show_default=False)
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object, and no progress bar.")]


def _load(path: Path) -> Experiment:
    from embrec.experiments import load_experiment

    return load_experiment(path)


@app.command("check")
@cli_errors
def check(experiment: FileArg, as_json: JsonFlag = False) -> None:
    """Read and check an experiment file without running it: every name, key and value."""
    spec = _load(experiment)
    if as_json:
        print_json(spec.describe())
        return
    folds = " + ".join(f"{p.n_folds} ({p.name})" for p in spec.protocols)
    console.print(
        f"[bold]{spec.name}[/]: {len(spec.datasets)} dataset(s) x folds {folds} x {len(spec.models)} model(s) x "
        f"{len(spec.seeds)} seed(s) = [bold]{spec.n_cells}[/] cells; baseline {spec.baseline}",
        highlight=False,
    )


def _progress_bar() -> tuple[Progress, Any]:
    bar = Progress(
        TextColumn("[bold]experiment"),
        BarColumn(),
        TextColumn("cell {task.completed}/{task.total}"),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    task = bar.add_task("cells", total=None, info="")
    reused = [0]

    def update(finished: int, total: int, info: dict[str, Any]) -> None:
        if info.get("state") == "reused":
            reused[0] += 1
        current = info.get("cell", "")
        shown = f"{current}" if info.get("state") == "running" else f"{reused[0]} reused"
        bar.update(task, completed=finished, total=total, info=shown)

    return bar, update


def _print_tables(run: ExperimentRun) -> None:
    from embrec.experiments.outputs import sections

    parts = sections(run)
    for part in parts:
        table = Table(title=f"{part.dataset} · {part.protocol}", title_justify="left")
        table.add_column("model")
        for metric in part.metrics:
            table.add_column(metric, justify="right")
        significant = {(c["model"], c["metric"]) for c in part.comparisons if c["significant"]}
        for row in part.means:
            values = [
                v + (" *" if (row["model"], m) in significant else "") for v, m in zip(row["values"], part.metrics)
            ]
            table.add_row(row["model"] + (" (baseline)" if row["baseline"] else ""), *values)
        console.print(table)
    if any(c["significant"] for part in parts for c in part.comparisons):
        console.print(f"* significant against {run.experiment.baseline} after Holm's correction", highlight=False)


@app.command("run")
@cli_errors
def run(
    experiment: FileArg,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Output folder: cells/ (one folder per finished cell, reused by the next run), results.csv, "
            "results.json, results.md, plots/, report.html.",
        ),
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Compute every cell again, even those an earlier run finished.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Run every cell of an experiment file and write one comparison of the models.

    A cell is one model trained on one fold of one dataset for one seed. Run it again after a
    change: only the cells whose settings or data changed are computed.
    """
    from embrec.experiments import check_out_folder, run_experiment

    spec = _load(experiment)
    check_out_folder(out)
    if any(m.tune is not None for m in spec.models):
        import logging

        import optuna

        optuna.logging.set_verbosity(logging.WARNING)  # the bar (or the JSON) says how the run goes
    if as_json:
        result = run_experiment(spec, out, force=force)
        print_json(result.to_dict())
        return
    bar, update = _progress_bar()
    try:
        with bar:
            result = run_experiment(spec, out, force=force, progress=update)
    except KeyboardInterrupt:
        err_console.print(
            f"[bold red]interrupted[/]; the finished cells are kept in {out / 'cells'} and a rerun continues from them."
        )
        raise typer.Exit(code=130) from None
    _print_tables(result)
    console.print(
        f"{len(result.cells)} cells: {result.computed} computed, {result.reused} reused, in {result.seconds:.1f} s",
        highlight=False,
    )
    console.print(f"wrote [bold]{result.out}[/] (results.csv, results.json, results.md, plots/, report.html)")
    for note in result.notes:
        err_console.print(f"note: {note}", highlight=False)


def register(main_app: typer.Typer) -> None:
    """Add ``embrec experiment`` to the main app."""
    main_app.add_typer(
        app, name="experiment", help="Run an experiment file: datasets x protocols x models x seeds, compared."
    )

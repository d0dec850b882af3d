"""``embrec tune``: search a model's settings on a validation split carved from the training part.

A thin layer over :func:`embrec.tuning.tune`: the data and split options are ``embrec train``'s,
the study lives in ``--out`` (``study.db``, ``best.toml``, ``trials.csv``), and ``best.toml``
feeds ``embrec train --config``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from embrec.cli._common import cli_errors, console, err_console, print_json
from embrec.cli._options import SplitDirOption, data_options, split_options
from embrec.data.options import DataOptions, SplitOptions

TUNE = "Tuning"


def _progress_bar(model: str) -> tuple[Progress, Any]:
    bar = Progress(
        TextColumn(f"[bold]tuning {model}"),
        BarColumn(),
        TextColumn("trial {task.completed}/{task.total}"),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    task = bar.add_task("tune", total=None, info="")

    def update(finished: int, total: int, info: dict[str, Any]) -> None:
        best = info.get("best_value")
        bar.update(task, completed=finished, total=total, info="" if best is None else f"best {best:.4f}")

    return bar, update


@data_options
@split_options
def tune(
    model: Annotated[str, typer.Argument(help="The model to tune (see `embrec models`), such as ease or embedding.")],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Study folder: study.db (resumable), best.toml (for `embrec train --config`), trials.csv. "
            "Run the same command again to continue the study.",
            rich_help_panel=TUNE,
        ),
    ],
    data_opts: DataOptions,
    split_opts: SplitOptions,
    split_dir: SplitDirOption = None,
    trials: Annotated[
        int,
        typer.Option(
            "--trials",
            min=1,
            max=100_000,
            help="Trials in the study in all (a resumed study runs the rest).",
            rich_help_panel=TUNE,
        ),
    ] = 20,
    metric: Annotated[
        str,
        typer.Option(
            "--metric",
            help="What to optimise on the validation split: ndcg@K, recall@K, precision@K, map@K, mrr@K, hit@K "
            "(maximised), rmse or mae (minimised).",
            rich_help_panel=TUNE,
        ),
    ] = "ndcg@10",
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="A setting every trial uses, KEY=VALUE (repeat it); it leaves the search space.",
            rich_help_panel=TUNE,
            show_default=False,
        ),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="A TOML file of settings every trial uses (top-level KEY = VALUE lines); --set wins.",
            rich_help_panel=TUNE,
            show_default=False,
        ),
    ] = None,
    threshold: Annotated[
        float,
        typer.Option(
            "--threshold",
            help="Lowest validation rating that counts as relevant for the ranking metrics (implicit data: every item).",
            rich_help_panel=TUNE,
        ),
    ] = 4.0,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune/--no-prune",
            help="Stop trials whose early-stopping loss trails the median of earlier trials (models that train "
            "epochs); --no-prune runs every trial to its end.",
            rich_help_panel=TUNE,
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object, and no progress bar.")] = False,
) -> None:
    """Tune a model's settings with Optuna on a validation split carved from the training part.

    The test rows are never read. --seed seeds the split, the validation carve-out and the
    sampler, so the same command gives the same trials.
    """
    from embrec.extras import require

    require("tune", "embrec tune")
    import logging

    import optuna

    from embrec.cli._options import data_and_split
    from embrec.models import registry
    from embrec.models.settings import parse_settings
    from embrec.tuning import check_tuning
    from embrec.tuning import tune as run_study
    from embrec.tuning.study import check_study_folder

    fixed = parse_settings(set_ or [], config_file, registry.get(model).config_class)
    check_tuning(model, metric=metric, trials=trials, fixed=fixed)  # before the data is read
    check_study_folder(out)
    _, parts = data_and_split(data_opts, split_opts, split_dir)
    optuna.logging.set_verbosity(logging.WARNING)  # the bar (or the JSON) says how the study goes
    kwargs: dict[str, Any] = dict(metric=metric, trials=trials, out=out, fixed=fixed, threshold=threshold, prune=prune)
    bar, update = _progress_bar(model)
    try:
        if as_json:
            result = run_study(model, parts, **kwargs)
        else:
            with bar:
                result = run_study(model, parts, progress=update, **kwargs)
    except KeyboardInterrupt:
        if not (out.expanduser() / "trials.csv").is_file():
            raise  # no trial had finished: the study was taken back, nothing was written
        err_console.print(
            f"[bold red]interrupted[/]; {out} keeps the finished trials: run the same command to continue."
        )
        raise typer.Exit(code=130) from None
    if as_json:
        print_json(result.to_dict())
        return
    summary = result.to_dict()
    table = Table(
        title=f"best of {summary['trials']} trials of {model} by validation {result.metric}", show_header=False
    )
    for name, value in result.best_config.items():
        table.add_row(name, f"{value:.6g}" if isinstance(value, float) else str(value))
    table.add_row(f"validation {result.metric}", f"{result.best_value:.4f} (trial {result.best_trial})")
    table.add_row("trials", f"{summary['complete']} complete, {summary['pruned']} pruned, {summary['failed']} failed")
    console.print(table)
    console.print(f"wrote [bold]{out}[/] (best.toml, trials.csv, study.db)")
    console.print(f"train with: embrec train --model {model} --config {out / 'best.toml'} (and the same data options)")


def register(app: typer.Typer) -> None:
    """Add ``embrec tune`` to the main app."""
    app.command("tune")(cli_errors(tune))

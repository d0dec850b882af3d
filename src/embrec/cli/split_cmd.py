"""``embrec split``: hold out test ratings and write train.csv and test.csv with the dataset's own ids."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from embrec.cli._common import cli_errors, console, print_json
from embrec.cli._options import data_options, load, split_options
from embrec.data.options import DataOptions, SplitOptions

#: embrec.data.split_files.SPLIT_FILES, without importing the data layer for --help
SPLIT_FILES = ("train.csv", "test.csv", "split.json")

__all__ = ["register"]

OutDir = Annotated[
    Path,
    typer.Option("--out", help="Folder to create with train.csv, test.csv and split.json.", show_default=False),
]
Force = Annotated[bool, typer.Option("--force", help="Replace --out when it exists and is not empty.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print the counts as one JSON object.")]


def _print_counts(summary: dict[str, Any], out: Path) -> None:
    params = [f"seed {summary['seed']}"]
    if summary["test_fraction"] is not None:
        params.insert(0, f"test fraction {summary['test_fraction']:g}")
    if summary["test_count"] is not None:
        params.insert(0, f"test count {summary['test_count']}")
    if summary["cutoff"] is not None:
        params.insert(0, f"cutoff {summary['cutoff_utc']}")
    console.print(
        f"[bold]{summary['method']}[/] split ({', '.join(params)}) written to {out}", highlight=False, soft_wrap=True
    )
    for part in ("train", "test"):
        console.print(
            f"  {part + ':':6} {summary[f'{part}_rows']:>10,} rows  {summary[f'{part}_users']:>8,} users  "
            f"{summary[f'{part}_items']:>8,} items",
            highlight=False,
        )
    if summary["drop_unseen"]:
        console.print(
            f"  dropped (user or item unseen in train): {summary['dropped_rows']:,} rows, "
            f"{summary['dropped_users']:,} users, {summary['dropped_items']:,} items",
            highlight=False,
        )
    console.print(f"train on it: embrec train --split-dir {out} --out runs/NAME", highlight=False, soft_wrap=True)


@cli_errors
@data_options
@split_options
def split_command(
    out: OutDir,
    data_opts: DataOptions,
    split_opts: SplitOptions,
    force: Force = False,
    json_output: JsonOut = False,
) -> None:
    """Hold out test ratings and write train.csv and test.csv (the dataset's own ids) into --out.

    Default: a random 90/10 split with seed 42, the rows scikit-learn's train_test_split picks. `embrec train --split-dir OUT` and `embrec evaluate RUN --split-dir OUT` use it as it is.
    """
    from embrec.data.split_files import source_info, write_split

    interactions = load(data_opts)
    result = split_opts.apply(interactions)
    info = source_info(interactions)
    written = write_split(result, out, force=force, info=info)
    summary = {**info, **result.summary(), "out": str(written), "files": list(SPLIT_FILES)}
    if json_output:
        print_json(summary)
    else:
        _print_counts(summary, written)


def register(app: typer.Typer) -> None:
    """Add the ``split`` command to the main app."""
    app.command("split")(split_command)

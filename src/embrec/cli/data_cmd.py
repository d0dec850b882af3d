"""``embrec data``: inspect ratings data (``embrec data summary``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from embrec.cli._common import cli_errors, console, print_json
from embrec.cli._options import data_options, load
from embrec.data.options import DataOptions

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)

JsonOut = Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object.")]

_BAR_WIDTH = 30


@app.callback()
def _group() -> None:
    """Inspect ratings data."""


@app.command("summary")
@cli_errors
@data_options
def summary(data_opts: DataOptions, json_out: JsonOut = False) -> None:
    """Counts, density, rating histogram and activity of a dataset or your own file.

    Examples: `embrec data summary --dataset ml-100k`,
    `embrec data summary --data ratings.csv --user-col uid --item-col sku --rating-col none --json`.
    """
    from embrec.data.summary import summarize

    interactions = load(data_opts)
    info = summarize(interactions)
    if json_out:
        print_json(info)
        return
    _print_tables(info)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _print_tables(info: dict[str, Any]) -> None:
    overview = Table(title=f"{info['name']}", show_header=False, title_justify="left")
    overview.add_column("what", style="bold")
    overview.add_column("value", justify="right")
    overview.add_row("ratings", f"{info['n_ratings']:,}")
    overview.add_row("users", f"{info['n_users']:,}")
    overview.add_row("items", f"{info['n_items']:,}")
    overview.add_row("density", f"{info['density']:.4%}")
    scale = info["rating_scale"]
    overview.add_row("feedback", "implicit" if info["implicit"] else f"ratings {scale[0]:g}-{scale[1]:g}")
    if info["first_timestamp"]:
        overview.add_row("time span", f"{info['first_timestamp']} to {info['last_timestamp']}")
    else:
        overview.add_row("time span", "no timestamps")
    overview.add_row("items with metadata", f"{info['n_items_with_metadata']:,}")
    console.print(overview)

    activity = Table(title="ratings per user and per item", title_justify="left")
    activity.add_column("")
    for key in ("min", "q25", "median", "q75", "q90", "max", "mean"):
        activity.add_column(key, justify="right")
    for label, key in (("per user", "ratings_per_user"), ("per item", "ratings_per_item")):
        stats = info[key]
        activity.add_row(label, *(_fmt(stats[k]) for k in ("min", "q25", "median", "q75", "q90", "max", "mean")))
    console.print(activity)

    hist = info["rating_histogram"]
    if hist:
        table = Table(title="rating histogram", title_justify="left")
        table.add_column("rating", justify="right")
        table.add_column("count", justify="right")
        table.add_column("share", justify="right")
        table.add_column("")
        total = sum(hist.values()) or 1
        peak = max(hist.values()) or 1
        for value, count in hist.items():
            label = f"{value:g}" if isinstance(value, float) else str(value)
            bar = "█" * max(1 if count else 0, round(_BAR_WIDTH * count / peak))
            table.add_row(label, f"{count:,}", f"{count / total:.1%}", f"[cyan]{bar}[/]")
        console.print(table)

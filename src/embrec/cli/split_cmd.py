"""``embrec split``: hold out test ratings and write train.csv and test.csv with the dataset's own ids.

``--protocol NAME`` splits as one of the reference protocols of :mod:`embrec.data.protocols` instead
(``--list-protocols`` prints them with their sources); a multi-fold protocol writes one saved split
per fold, ``OUT/fold-1`` ... ``OUT/fold-5``.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from embrec.cli._common import cli_errors, console, given, print_json
from embrec.cli._options import SPLIT, data_options, load, split_options
from embrec.data.options import DataOptions, SplitOptions
from embrec.errors import ConfigError

if TYPE_CHECKING:
    from embrec.data.interactions import Interactions

#: embrec.data.split_files.SPLIT_FILES, without importing the data layer for --help
SPLIT_FILES = ("train.csv", "test.csv", "split.json")

__all__ = ["ProtocolName", "register"]


class ProtocolName(str, Enum):
    """The names of :data:`embrec.data.protocols.PROTOCOLS`, without importing it for --help (a test keeps them equal)."""

    ml100k_u_folds = "ml100k-u-folds"
    random_90_10 = "random-90-10"
    recbole_implicit_811 = "recbole-implicit-811"
    lenskit_user_crossfold = "lenskit-user-crossfold"
    strong_generalisation = "strong-generalisation"
    loo_full_ranking = "loo-full-ranking"


#: the split options a protocol fixes (--seed still applies)
_FIXED_BY_PROTOCOL = ("split", "test_fraction", "test_count", "cutoff", "drop_unseen")

OutDir = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Folder to create with train.csv, test.csv and split.json (with --protocol: one fold-N folder per fold "
        "of a multi-fold protocol).",
        show_default=False,
    ),
]
Force = Annotated[bool, typer.Option("--force", help="Replace --out when it exists and is not empty.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print the counts as one JSON object.")]
ProtocolOpt = Annotated[
    ProtocolName | None,
    typer.Option(
        "--protocol",
        help="Split as a reference protocol (see --list-protocols) instead of --split and its options; --seed applies.",
        rich_help_panel=SPLIT,
        show_default=False,
    ),
]
ListProtocols = Annotated[
    bool,
    typer.Option(
        "--list-protocols", help="Print the reference protocols with their sources, and exit.", rich_help_panel=SPLIT
    ),
]


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


def _print_protocols(json_output: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    from embrec.data.protocols import PROTOCOLS

    if json_output:
        print_json([p.describe() for p in PROTOCOLS.values()])
        return
    table = Table(
        title="Reference evaluation protocols (embrec split --protocol NAME)", title_justify="left", show_lines=True
    )
    table.add_column("name", no_wrap=True)
    table.add_column("folds", justify="right")
    table.add_column("metrics")
    table.add_column("what, and its source", overflow="fold")
    for p in PROTOCOLS.values():
        table.add_row(
            p.name, str(p.n_folds), "\n".join(p.metrics), f"{escape(p.description)}\n[dim]{escape(p.source)}[/]"
        )
    console.print(table)


def _print_folds(protocol: str, summaries: list[dict[str, Any]], out: Path) -> None:
    console.print(
        f"[bold]{protocol}[/] protocol ({len(summaries)} fold(s), seed {summaries[0]['seed']}) written to {out}",
        highlight=False,
        soft_wrap=True,
    )
    for summary in summaries:
        parts = ["train", "test", "validation", "foldin", "validation_foldin"]
        counts = ", ".join(f"{part} {summary[f'{part}_rows']:,}" for part in parts if f"{part}_rows" in summary)
        console.print(f"  {summary['out']}: {counts} rows", highlight=False, soft_wrap=True)
    first = summaries[0]["out"]
    console.print(f"train on it: embrec train --split-dir {first} --out runs/NAME", highlight=False, soft_wrap=True)


def _write_protocol(
    interactions: Interactions, protocol: ProtocolName, seed: int, out: Path, force: bool, json_output: bool
) -> None:
    from collections.abc import Iterator

    from embrec.data.protocols import EXTRA_FILES, Fold, get_protocol, write_folds
    from embrec.data.split_files import source_info

    chosen = get_protocol(protocol.value)
    info = source_info(interactions)
    summaries: list[dict[str, Any]] = []

    def counted() -> Iterator[Fold]:
        for fold in chosen.folds(interactions, seed=seed):
            files = [*SPLIT_FILES, *(EXTRA_FILES[name] for name in fold.extra_parts())]
            summaries.append({**info, **fold.summary(), "files": files})
            yield fold

    written = write_folds(counted(), out, force=force, info=info)
    for summary, folder in zip(summaries, written, strict=True):
        summary["out"] = str(folder)
    if json_output:
        print_json({"protocol": chosen.describe(), "out": str(out), "folds": summaries})
    else:
        _print_folds(chosen.name, summaries, out)


@cli_errors
@data_options
@split_options
def split_command(
    data_opts: DataOptions,
    split_opts: SplitOptions,
    out: OutDir = None,
    protocol: ProtocolOpt = None,
    list_protocols: ListProtocols = False,
    force: Force = False,
    json_output: JsonOut = False,
) -> None:
    """Hold out test ratings and write train.csv and test.csv (the dataset's own ids) into --out.

    Default: a random 90/10 split with seed 42, the rows scikit-learn's train_test_split picks. `embrec train --split-dir OUT` and `embrec evaluate RUN --split-dir OUT` use it as it is. `--protocol NAME` splits as a published protocol instead (`--list-protocols` lists them); multi-fold ones write OUT/fold-1 ... OUT/fold-5.
    """
    if list_protocols:
        _print_protocols(json_output)
        return
    if out is None:
        raise ConfigError("--out is missing; give the folder to write, such as --out splits/NAME.")
    if protocol is not None:
        clash = [name for name in _FIXED_BY_PROTOCOL if given(name)]
        if clash:
            flags = ", ".join("--" + name.replace("_", "-") for name in clash)
            raise ConfigError(
                f"--protocol {protocol.value} fixes how the data is split; leave out {flags} (only --seed applies), "
                "or leave out --protocol to split as those options say."
            )
        _write_protocol(load(data_opts), protocol, split_opts.seed, out, force, json_output)
        return
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

"""``embrec split``: hold out test ratings and write train.csv and test.csv with the dataset's own ids."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Annotated, Any

import typer

from embrec.cli._common import cli_errors, console, print_json
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
from embrec.errors import EmbrecError

__all__ = ["register", "write_split"]

SPLIT_FILES = ("train.csv", "test.csv", "split.json")

OutDir = Annotated[
    Path,
    typer.Option("--out", help="Folder to create with train.csv, test.csv and split.json.", show_default=False),
]
Force = Annotated[bool, typer.Option("--force", help="Replace --out when it exists and is not empty.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print the counts as one JSON object.")]


def _describe(path: Path) -> str:
    names = sorted(p.name for p in path.iterdir())
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return shown


def write_split(split: Split, out: Path, *, force: bool = False, info: dict[str, Any] | None = None) -> Path:
    """Write ``train.csv``, ``test.csv`` and ``split.json`` into the folder ``out``, all or nothing.

    The files are written into a fresh hidden folder beside ``out`` and renamed into place, so a
    failure leaves nothing behind and an existing ``out`` untouched. An existing non-empty
    ``out`` is replaced only with ``force``.
    """
    out = out.expanduser()
    if out.exists() and not out.is_dir():
        raise EmbrecError(f"--out {str(out)!r} exists and is not a folder; give a folder path.")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise EmbrecError(
            f"--out {str(out)!r} is not empty (it holds {_describe(out)}); choose a new folder or pass --force "
            "to replace it."
        )
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = parent / f".{out.name}.{secrets.token_hex(4)}.tmp"
        staging.mkdir()  # mkdir (unlike mkdtemp) keeps the user's umask for the final folder
    except OSError as exc:
        raise EmbrecError(f"cannot create a folder beside --out {str(out)!r}: {exc.strerror or exc}.") from None
    try:
        split.train.to_frame().to_csv(staging / "train.csv", index=False)
        split.test.to_frame().to_csv(staging / "test.csv", index=False)
        meta = {**(info or {}), **split.summary()}
        (staging / "split.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            retired = parent / f".{out.name}.{secrets.token_hex(4)}.old"
            os.replace(out, retired)
            try:
                os.replace(staging, out)
            except BaseException:
                os.replace(retired, out)
                raise
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, out)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise EmbrecError(f"could not write the split to {str(out)!r}: {exc.strerror or exc}; nothing was written.") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _print_counts(summary: dict[str, Any], out: Path) -> None:
    params = [f"seed {summary['seed']}"]
    if summary["test_fraction"] is not None:
        params.insert(0, f"test fraction {summary['test_fraction']:g}")
    if summary["test_count"] is not None:
        params.insert(0, f"test count {summary['test_count']}")
    if summary["cutoff"] is not None:
        params.insert(0, f"cutoff {summary['cutoff_utc']}")
    console.print(f"[bold]{summary['method']}[/] split ({', '.join(params)}) written to {out}", highlight=False, soft_wrap=True)
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


@cli_errors
def split_command(
    out: OutDir,
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
    force: Force = False,
    json_output: JsonOut = False,
) -> None:
    """Hold out test ratings and write train.csv and test.csv (the dataset's own ids) into --out.

    Default: a random 90/10 split with seed 42, the rows scikit-learn's train_test_split picks.
    """
    interactions: Interactions = load_from_options(
        data, dataset, data_dir, user_col, item_col, rating_col, timestamp_col, sep, items, rating_scale, duplicates
    )
    result = split_from_options(interactions, split, test_fraction, test_count, cutoff, seed, drop_unseen)
    info = {"source": interactions.name, "source_rows": interactions.n_ratings, "source_fingerprint": interactions.fingerprint()}
    written = write_split(result, out, force=force, info=info)
    summary = {**info, **result.summary(), "out": str(written), "files": list(SPLIT_FILES)}
    if json_output:
        print_json(summary)
    else:
        _print_counts(summary, written)


def register(app: typer.Typer) -> None:
    """Add the ``split`` command to the main app."""
    app.command("split")(split_command)

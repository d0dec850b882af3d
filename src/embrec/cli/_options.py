"""Options shared by every command that loads data or splits it.

Each command declares the same ``Annotated`` parameters and hands them to
:func:`load_from_options` and :func:`split_from_options`, so ``split``, ``train`` and
``evaluate`` read data and split it identically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

import warnings

from embrec.cli._common import err_console
from embrec.data.build import DuplicatePolicy, DuplicateRatingsWarning
from embrec.data.interactions import Interactions
from embrec.data.load import ColumnMapping
from embrec.data.load import load_data as _load
from embrec.data.splits import Split, SplitMethod, make_split

DATA = "Data"
SPLIT = "Split"

DataPath = Annotated[
    Optional[Path],
    typer.Option("--data", help="A MovieLens folder or your own CSV/TSV/Parquet ratings file.", rich_help_panel=DATA),
]
DatasetName = Annotated[
    Optional[str],
    typer.Option("--dataset", help="A built-in dataset (see `embrec datasets list`), downloaded when missing.", rich_help_panel=DATA),
]
DataDir = Annotated[
    Optional[Path],
    typer.Option("--data-dir", help="Where built-in datasets live (else $EMBREC_DATA_DIR, else the user cache).", rich_help_panel=DATA),
]
UserCol = Annotated[str, typer.Option("--user-col", help="Your file's user column.", rich_help_panel=DATA)]
ItemCol = Annotated[str, typer.Option("--item-col", help="Your file's item column.", rich_help_panel=DATA)]
RatingCol = Annotated[
    Optional[str],
    typer.Option("--rating-col", help="Your file's rating column; 'none' for implicit feedback.", rich_help_panel=DATA),
]
TimestampCol = Annotated[
    Optional[str],
    typer.Option("--timestamp-col", help="Your file's timestamp column; 'none' if it has none.", rich_help_panel=DATA),
]
Sep = Annotated[
    Optional[str],
    typer.Option("--sep", help="Field delimiter of your file (default: by extension, ',' or tab).", rich_help_panel=DATA),
]
ItemsFile = Annotated[
    Optional[Path],
    typer.Option("--items", help="Optional item metadata file (CSV/TSV/Parquet) with id, title and genres.", rich_help_panel=DATA),
]
RatingScale = Annotated[
    Optional[tuple[float, float]],
    typer.Option("--rating-scale", help="Lowest and highest allowed rating (default: from the data).", rich_help_panel=DATA),
]
Duplicates = Annotated[
    DuplicatePolicy,
    typer.Option("--duplicates", help="Repeated (user, item) pairs: keep the last, the first, their mean, or refuse.", rich_help_panel=DATA),
]

SplitOpt = Annotated[SplitMethod, typer.Option("--split", help="How to hold out test ratings.", rich_help_panel=SPLIT)]
TestFraction = Annotated[
    Optional[float],
    typer.Option("--test-fraction", help="Share held out (random: of rows; user/temporal: of each user's rows; cutoff: latest share of time).", rich_help_panel=SPLIT),
]
TestCount = Annotated[
    Optional[int],
    typer.Option("--test-count", help="Rows held out per user (user/temporal splits), instead of a fraction.", rich_help_panel=SPLIT),
]
Cutoff = Annotated[
    Optional[str],
    typer.Option("--cutoff", help="Global time cutoff for --split cutoff: Unix seconds or an ISO date.", rich_help_panel=SPLIT),
]
Seed = Annotated[int, typer.Option("--seed", help="Random seed of the split.", rich_help_panel=SPLIT)]
DropUnseen = Annotated[
    bool,
    typer.Option("--drop-unseen/--keep-unseen", help="Drop test rows whose user or item has no training rating.", rich_help_panel=SPLIT),
]


def _none(value: Optional[str]) -> Optional[str]:
    return None if value is None or value.lower() == "none" else value


def load_from_options(
    data: Optional[Path],
    dataset: Optional[str],
    data_dir: Optional[Path],
    user_col: str = "user",
    item_col: str = "item",
    rating_col: Optional[str] = "rating",
    timestamp_col: Optional[str] = "timestamp",
    sep: Optional[str] = None,
    items: Optional[Path] = None,
    rating_scale: Optional[tuple[float, float]] = None,
    duplicates: DuplicatePolicy = DuplicatePolicy.last,
) -> Interactions:
    """Load data as the shared data options describe; data warnings go to stderr as one line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DuplicateRatingsWarning)
        loaded = _load(
            data,
            dataset=dataset,
            data_dir=data_dir,
            columns=ColumnMapping(user=user_col, item=item_col, rating=_none(rating_col), timestamp=_none(timestamp_col)),
            sep=sep,
            items=items,
            rating_scale=rating_scale,
            duplicates=duplicates,
        )
    for warning in caught:
        err_console.print(f"[yellow]warning:[/] {warning.message}", markup=True, highlight=False, soft_wrap=True)
    return loaded


def split_from_options(
    interactions: Interactions,
    split: SplitMethod,
    test_fraction: Optional[float],
    test_count: Optional[int],
    cutoff: Optional[str],
    seed: int,
    drop_unseen: bool,
) -> Split:
    """Split data as the shared split options describe."""
    return make_split(
        interactions,
        split,
        test_fraction=test_fraction,
        test_count=test_count,
        cutoff=cutoff,
        seed=seed,
        drop_unseen=drop_unseen,
    )

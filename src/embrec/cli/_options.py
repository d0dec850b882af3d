"""The data and split options, declared once for every command that loads or splits data.

``@data_options`` adds ``--data``, ``--dataset``, ``--data-dir``, the column options, ``--sep``,
``--items`` and its column options, ``--rating-scale`` and ``--duplicates`` to a command and hands it one
:class:`~embrec.data.options.DataOptions` as ``data_opts``; ``@split_options`` adds ``--split``,
``--test-fraction``, ``--test-count``, ``--cutoff``, ``--seed`` and ``--drop-unseen`` and hands
it a :class:`~embrec.data.options.SplitOptions` as ``split_opts``. Nothing here imports NumPy or
pandas, so ``--help`` stays fast.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from embrec.cli._common import err_console, given, replace_signature
from embrec.data.options import DataOptions, DuplicatePolicy, SplitMethod, SplitOptions
from embrec.errors import ConfigError

if TYPE_CHECKING:
    from embrec.data.interactions import Interactions

__all__ = ["DataDirOption", "DatasetOption", "data_options", "given", "load", "split_options"]

F = TypeVar("F", bound=Callable[..., Any])

DATA = "Data"
SPLIT = "Split"


def _opt(flag: str, help_text: str, panel: str, **kw: Any) -> Any:
    return typer.Option(flag, help=help_text, rich_help_panel=panel, **kw)


#: ``--dataset`` and ``--data-dir``, also declared alone by commands that read a run's data.
DatasetOption = Annotated[
    str | None, _opt("--dataset", "A built-in dataset (see `embrec datasets list`), downloaded when missing.", DATA)
]
DataDirOption = Annotated[
    Path | None, _opt("--data-dir", "Where built-in datasets live (else $EMBREC_DATA_DIR, else the user cache).", DATA)
]
#: ``--split-dir``: a split saved by ``embrec split`` (or ``evaluate --save-split``) used as it is.
SplitDirOption = Annotated[
    Path | None,
    _opt(
        "--split-dir",
        "A split saved by `embrec split` or --save-split (train.csv, test.csv, split.json), used instead of "
        "--data/--dataset and the split options (--items still gives titles).",
        SPLIT,
        show_default=False,
    ),
]

#: name -> (annotation, default); the order is the order in --help.
DATA_PARAMS: dict[str, tuple[Any, Any]] = {
    "data": (
        Annotated[Path | None, _opt("--data", "A MovieLens folder or your own CSV/TSV/Parquet ratings file.", DATA)],
        None,
    ),
    "dataset": (DatasetOption, None),
    "data_dir": (DataDirOption, None),
    "user_col": (Annotated[str, _opt("--user-col", "Your file's user column.", DATA)], "user"),
    "item_col": (Annotated[str, _opt("--item-col", "Your file's item column.", DATA)], "item"),
    "rating_col": (
        Annotated[str | None, _opt("--rating-col", "Your file's rating column; 'none' for implicit feedback.", DATA)],
        "rating",
    ),
    "timestamp_col": (
        Annotated[str | None, _opt("--timestamp-col", "Your file's timestamp column; 'none' if it has none.", DATA)],
        "timestamp",
    ),
    "sep": (
        Annotated[str | None, _opt("--sep", "Field delimiter of your file (default: by extension, ',' or tab).", DATA)],
        None,
    ),
    "items": (
        Annotated[
            Path | None,
            _opt("--items", "Optional item metadata file (CSV/TSV/Parquet): an id, a title and genres per item.", DATA),
        ],
        None,
    ),
    "items_id_col": (
        Annotated[
            str | None,
            _opt("--items-id-col", "The --items file's id column (default: --item-col, item, item_id, id...).", DATA),
        ],
        None,
    ),
    "title_col": (
        Annotated[str | None, _opt("--title-col", "The --items file's title column; 'none' if it has none.", DATA)],
        "title",
    ),
    "genres_col": (
        Annotated[
            str | None, _opt("--genres-col", "The --items file's genres column (optional); 'none' to skip it.", DATA)
        ],
        "genres",
    ),
    "genres_sep": (
        Annotated[str, _opt("--genres-sep", "What separates one item's genres in the --items file.", DATA)],
        "|",
    ),
    "rating_scale": (
        Annotated[
            tuple[float, float] | None,
            _opt("--rating-scale", "Lowest and highest allowed rating (default: from the data).", DATA),
        ],
        None,
    ),
    "duplicates": (
        Annotated[
            DuplicatePolicy,
            _opt("--duplicates", "Repeated (user, item) pairs: keep the last, the first, their mean, or refuse.", DATA),
        ],
        DuplicatePolicy.last,
    ),
}

SPLIT_PARAMS: dict[str, tuple[Any, Any]] = {
    "split": (Annotated[SplitMethod, _opt("--split", "How to hold out test ratings.", SPLIT)], SplitMethod.random),
    "test_fraction": (
        Annotated[
            float | None,
            _opt(
                "--test-fraction",
                "Share held out (random: of rows; user/temporal: of each user's rows; cutoff: latest share of time).",
                SPLIT,
            ),
        ],
        None,
    ),
    "test_count": (
        Annotated[
            int | None,
            _opt("--test-count", "Rows held out per user (user/temporal splits), instead of a fraction.", SPLIT),
        ],
        None,
    ),
    "cutoff": (
        Annotated[
            str | None, _opt("--cutoff", "Global time cutoff for --split cutoff: Unix seconds or an ISO date.", SPLIT)
        ],
        None,
    ),
    "seed": (Annotated[int, _opt("--seed", "Random seed of the split.", SPLIT)], 42),
    "drop_unseen": (
        Annotated[
            bool,
            _opt("--drop-unseen/--keep-unseen", "Drop test rows whose user or item has no training rating.", SPLIT),
        ],
        False,
    ),
}


def _with_options(
    params: dict[str, tuple[Any, Any]], target: str, build: Callable[[dict[str, Any]], Any]
) -> Callable[[F], F]:
    """A decorator adding ``params`` to a command's signature and passing ``build(values)`` as ``target``."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name, default) for name, (_, default) in params.items()}
            kwargs[target] = build(values)
            return func(*args, **kwargs)

        added = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
            for name, (annotation, default) in params.items()
        ]
        replace_signature(wrapper, func, drop=(target,), add=added)
        return wrapper  # type: ignore[return-value]

    return decorate


def _data(values: dict[str, Any]) -> DataOptions:
    for key in ("data", "data_dir", "items"):
        if values[key] is not None:
            values[key] = str(values[key])
    return DataOptions(**values)


#: Adds the data options to a command, which receives them as ``data_opts: DataOptions``.
data_options = _with_options(DATA_PARAMS, "data_opts", _data)
#: Adds the split options to a command, which receives them as ``split_opts: SplitOptions``.
split_options = _with_options(SPLIT_PARAMS, "split_opts", lambda values: SplitOptions(**values))


def load(options: DataOptions) -> Interactions:
    """Load data as ``options`` say; data warnings go to stderr as one line each."""
    from embrec.data.build import DuplicateRatingsWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DuplicateRatingsWarning)
        loaded = options.load()
    for warning in caught:
        err_console.print(f"[yellow]warning:[/] {warning.message}", markup=True, highlight=False, soft_wrap=True)
    return loaded


#: the options a saved split replaces (``--items`` and its columns still apply)
_SPLIT_PARAMS = ("split", "test_fraction", "test_count", "cutoff", "seed", "drop_unseen")
_DATA_PARAMS = ("data", "dataset", "user_col", "item_col", "rating_col", "timestamp_col", "sep", "rating_scale")


def data_and_split(
    data_opts: DataOptions, split_opts: SplitOptions, split_dir: Path | None
) -> tuple[Interactions, Any]:
    """The data and split to train on: from the options, or the saved split in ``split_dir``."""
    if split_dir is None:
        interactions = load(data_opts)
        return interactions, split_opts.apply(interactions)
    from embrec.data.split_files import load_split_data

    clash = [name for name in (*_DATA_PARAMS, *_SPLIT_PARAMS) if given(name)]
    if clash:
        flags = ", ".join("--" + name.replace("_", "-") for name in clash)
        raise ConfigError(
            f"--split-dir {split_dir} already holds the data and its split; leave out {flags} "
            "(or leave out --split-dir to split the data again)."
        )
    return load_split_data(split_dir, item_metadata=data_opts.item_metadata())

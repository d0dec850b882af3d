"""What the service calls the items, and which search its page suggests, told from the run's data.

A run records the data it was trained on (``extra.data`` of its ``embrec.json``, read back as
:class:`~embrec.data.options.DataOptions`). MovieLens data, a built-in dataset or a MovieLens
folder or ratings file, has films, and "star wars" to search for; any other data, and a run that
recorded none, has neutral "items" and, as the example, the title of its own most rated item.
:func:`describe_data` puts that in one :class:`~embrec.service.schemas.DataInfo`, which
``/api/health`` serves and the page words itself by.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from embrec.data.editions import movielens_edition, movielens_ratings_file
from embrec.data.options import DataOptions
from embrec.data.registry import BUILT_IN
from embrec.service import schemas as s

__all__ = ["MOVIELENS_EXAMPLE", "describe_data", "is_movielens"]

#: The search the page suggests for MovieLens data (every edition has the Star Wars films).
MOVIELENS_EXAMPLE = "star wars"
_MAX_EXAMPLE = 40
_TRAILING_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")
# folder names of the built-in datasets: a run moved away from its data still knows what it was
_MOVIELENS_FOLDERS = {name.lower() for info in BUILT_IN.values() for name in (info.name, info.folder)}


def is_movielens(options: DataOptions | None) -> bool:
    """Whether ``options`` load MovieLens data: a built-in dataset, or a MovieLens folder or ratings file.

    Told as :func:`~embrec.data.load.load_data` tells it, from the files; a path that no longer
    exists counts as MovieLens when it is named as a built-in dataset's folder (or a file in one).
    ``None`` (the run recorded no data) is not MovieLens.
    """
    if options is None:
        return False
    if options.dataset is not None:
        return True  # the registry of built-in datasets holds MovieLens editions only
    if options.data is None:
        return False
    path = Path(options.data).expanduser()
    if path.is_dir():
        return movielens_edition(path) is not None
    if path.is_file():
        # load_data reads a MovieLens ratings file as your own when columns or a delimiter are given
        return _default_columns(options) and movielens_ratings_file(path) is not None
    folder = path if not path.suffix else path.parent
    return folder.name.lower() in _MOVIELENS_FOLDERS


def describe_data(options: DataOptions | None, titles: Sequence[str], most_rated: int) -> s.DataInfo:
    """The data a run was trained on and the words for its items.

    ``titles`` are the catalogue's titles and ``most_rated`` the index of its most rated item, whose
    title (lower-cased) is the example search for data other than MovieLens, and for a MovieLens
    subset without the Star Wars films.
    """
    movielens = is_movielens(options)
    if movielens and any(MOVIELENS_EXAMPLE in t.casefold() for t in titles):
        example = MOVIELENS_EXAMPLE
    else:
        example = _example(titles[most_rated]) if titles else ""
    return s.DataInfo(
        name=_name(options),
        movielens=movielens,
        item="film" if movielens else "item",
        items="films" if movielens else "items",
        search_example=example,
    )


def _default_columns(options: DataOptions) -> bool:
    default = DataOptions()
    columns = ("user_col", "item_col", "rating_col", "timestamp_col", "sep")
    return all(getattr(options, c) == getattr(default, c) for c in columns)


def _name(options: DataOptions | None) -> str | None:
    if options is None:
        return None
    if options.dataset is not None:
        return options.dataset
    if options.data is None:
        return None
    return Path(options.data).name or options.data


def _example(title: str) -> str:
    """A title as a search to suggest: lower-cased, without a trailing ``(year)``, cut after a few words.

    What is left is part of the title, so the search finds the item it came from.
    """
    text = _TRAILING_YEAR.sub("", title).strip().lower() or title.strip().lower()
    if len(text) <= _MAX_EXAMPLE:
        return text
    head = text[: _MAX_EXAMPLE + 1]  # a word that ends at the limit stays whole
    return head.rsplit(" ", 1)[0] if " " in head else text[:_MAX_EXAMPLE]

"""Which MovieLens edition a folder holds, told from its files alone (nothing is parsed).

Three layouts exist:

* ``csv``: ``ratings.csv`` + ``movies.csv`` (+ ``links.csv``, ``tags.csv``): ml-latest-small
  (both the 2016 and the 2018 edition), ml-20m, ml-25m, ml-32m. Ratings 0.5-5 in half stars.
* ``100k``: ``u.data`` (tab-separated, no header) + ``u.item`` (Latin-1, ``|``-separated, 19
  genre flags named in ``u.genre``) + ``u.user``. Ratings 1-5.
* ``dat``: ``ratings.dat`` + ``movies.dat`` with ``::`` separators: ml-1m (``users.dat``,
  Latin-1 titles, ratings 1-5) and ml-10m (folder ``ml-10M100K``, ``tags.dat``, 0.5-5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from embrec.data.quoting import quoted_list
from embrec.errors import DataError

__all__ = [
    "Layout",
    "MovieLensEdition",
    "is_movielens_folder",
    "movielens_edition",
    "movielens_ratings_file",
    "require_edition",
]

Layout = Literal["csv", "100k", "dat"]

_100K_SPLIT_FILE = re.compile(r"^u(\d|a|b)\.(base|test)$")


@dataclass(frozen=True)
class MovieLensEdition:
    """A MovieLens folder as recognised from its files.

    Attributes:
        name: the edition (``ml-100k``, ``ml-1m``, ``ml-10m``, or the folder name of a CSV edition).
        layout: ``"csv"``, ``"100k"`` or ``"dat"``.
        folder: the folder.
        ratings_file: the edition's ratings file.
        rating_scale: the edition's known ``(lowest, highest)``, or ``None`` when it cannot be told.
    """

    name: str
    layout: Layout
    folder: Path
    ratings_file: Path
    rating_scale: tuple[float, float] | None


def movielens_edition(folder: str | Path) -> MovieLensEdition | None:
    """The MovieLens edition a folder holds, told from its files, or ``None`` if it holds none."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    if (folder / "u.data").is_file():
        return MovieLensEdition("ml-100k", "100k", folder, folder / "u.data", (1.0, 5.0))
    if (folder / "ratings.csv").is_file():
        return MovieLensEdition(folder.name, "csv", folder, folder / "ratings.csv", (0.5, 5.0))
    if (folder / "ratings.dat").is_file():
        lowered = folder.name.lower()
        if (folder / "users.dat").is_file() or lowered == "ml-1m":
            return MovieLensEdition("ml-1m", "dat", folder, folder / "ratings.dat", (1.0, 5.0))
        if (folder / "tags.dat").is_file() or lowered in ("ml-10m100k", "ml-10m"):
            return MovieLensEdition("ml-10m", "dat", folder, folder / "ratings.dat", (0.5, 5.0))
        return MovieLensEdition(folder.name, "dat", folder, folder / "ratings.dat", None)
    return None


def is_movielens_folder(folder: str | Path) -> bool:
    """True if the folder holds a MovieLens edition's ratings file."""
    return movielens_edition(folder) is not None


def movielens_ratings_file(path: str | Path) -> MovieLensEdition | None:
    """The edition whose ratings file ``path`` is (``u.data``, ``u1.base``, ``ratings.csv``, ...), or ``None``."""
    path = Path(path)
    edition = movielens_edition(path.parent)
    if edition is None:
        return None
    if path.name == edition.ratings_file.name or (edition.layout == "100k" and _100K_SPLIT_FILE.match(path.name)):
        return edition
    return None


def require_edition(folder: str | Path) -> MovieLensEdition:
    """The edition in ``folder``, or a :class:`DataError` saying what the folder holds instead."""
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise DataError(f"MovieLens folder {str(folder)!r} does not exist; check the path.")
    edition = movielens_edition(folder)
    if edition is None:
        present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        raise DataError(
            f"{folder} is not a MovieLens folder: it has none of u.data, ratings.csv, ratings.dat "
            f"(it holds {quoted_list(present)}); pass the folder the MovieLens zip extracts to, or a ratings file."
        )
    return edition

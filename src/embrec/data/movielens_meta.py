"""The metadata files of every MovieLens edition: movies (titles, years, genres), links, tags and users.

These files are small (at most a few MB), so each is decoded whole (UTF-8, else Latin-1 as in
ml-100k and ml-1m) and parsed by pyarrow in one call: see :func:`_read_small`. The ratings are
:mod:`embrec.data.movielens`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from embrec.data.columns import parse_year
from embrec.data.editions import Layout, MovieLensEdition, require_edition
from embrec.data.quoting import clipped, quoted
from embrec.data.sniff import check_file
from embrec.errors import DataError

__all__ = ["load_links", "load_movies", "load_movies_if_present", "load_tags", "load_users"]

log = logging.getLogger(__name__)

_MOVIES_FILE: dict[Layout, str] = {"csv": "movies.csv", "100k": "u.item", "dat": "movies.dat"}
_NO_GENRES = "(no genres listed)"
# u.genre lists these; used only when u.genre itself is missing
_100K_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
# ml-1m README: occupation codes of users.dat
_1M_OCCUPATIONS = (
    "other",
    "academic/educator",
    "artist",
    "clerical/admin",
    "college/grad student",
    "customer service",
    "doctor/health care",
    "executive/managerial",
    "farmer",
    "homemaker",
    "K-12 student",
    "lawyer",
    "programmer",
    "retired",
    "sales/marketing",
    "scientist",
    "self-employed",
    "technician/engineer",
    "tradesman/craftsman",
    "unemployed",
    "writer",
)
_MOVIE_TYPES = {"movieId": pa.int64(), "title": pa.string(), "genres": pa.string()}


# --------------------------------------------------------------------------- small text files
def _decode(path: Path) -> str:
    """Text of a small file: UTF-8 when it decodes, else Latin-1 (ml-100k, ml-1m)."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _read_small(path: Path, sep: str, types: dict[str, pa.DataType], names: list[str] | None = None) -> pd.DataFrame:
    """Parse a small MovieLens file; malformed rows are a DataError naming the line.

    ``sep=","`` is a CSV edition's file: a header line, quoted fields. ``"|"`` (ml-100k) and
    ``"::"`` (ml-1m, ml-10m) files have no header (give ``names``) and no quoting.
    """
    text = _decode(path)
    quoting = sep == ","
    if sep == "::":  # one-character delimiter for pyarrow; \x1f (unit separator) never occurs in MovieLens text
        text, sep = text.replace("::", "\x1f"), "\x1f"
    seen: list[object] = []

    def handler(row: object) -> str:
        seen.append(row)
        return "error"

    try:
        table = pacsv.read_csv(
            pa.BufferReader(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(use_threads=False, column_names=names),
            parse_options=pacsv.ParseOptions(
                delimiter=sep, quote_char='"' if quoting else False, invalid_row_handler=handler
            ),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False),
        )
    except pa.ArrowException as exc:
        raise _unparsable(path, exc, seen[0] if seen else None) from None
    return table.to_pandas()


def _unparsable(path: Path, exc: Exception, bad: object | None) -> DataError:
    if bad is None:
        first = next((clipped(ln.strip()) for ln in str(exc).splitlines() if ln.strip()), "unknown error")
        return DataError(f"{path}: cannot be parsed ({first}); get a fresh copy of the file.")
    line = getattr(bad, "number", None)
    where = f", line {line}" if line is not None else ""
    return DataError(
        f"{path}{where}: malformed row {quoted(getattr(bad, 'text', ''))} (expected "
        f"{getattr(bad, 'expected_columns', '?')} fields); fix that line or get a fresh copy of the file."
    )


# --------------------------------------------------------------------------- movies
def load_movies(folder: str | Path) -> pd.DataFrame:
    """The movies of a MovieLens folder, indexed by movie id (``item``).

    Columns: ``title`` (as shipped, e.g. ``"Toy Story (1995)"``), ``year`` (nullable ``Int64``,
    parsed from the title), ``genres`` (``|``-joined names; ``""`` for none), plus ``imdbId`` and
    ``tmdbId`` where the edition has ``links.csv``, and ``release_date``/``imdb_url`` for ml-100k.

    Raises:
        DataError: the folder is not a MovieLens folder or has no movies file.
    """
    edition = require_edition(folder)
    frame = _MOVIE_READERS[edition.layout](edition.folder)
    frame["title"] = frame["title"].astype(str).str.strip()
    frame["genres"] = frame["genres"].fillna("").astype(str).str.strip().replace(_NO_GENRES, "")
    if "year" not in frame.columns:
        frame["year"] = parse_year(frame["title"])
    frame.index.name = "item"
    first = ["title", "year", "genres"]
    return frame[first + [c for c in frame.columns if c not in first]]


def load_movies_if_present(edition: MovieLensEdition) -> pd.DataFrame | None:
    """:func:`load_movies`, or ``None`` (logged) when the folder has no movies file."""
    name = _MOVIES_FILE[edition.layout]
    if not (edition.folder / name).is_file():
        log.info("%s has no %s: loading without item metadata", edition.folder, name)
        return None
    return load_movies(edition.folder)


def _csv_movies(folder: Path) -> pd.DataFrame:
    path = check_file(folder / _MOVIES_FILE["csv"], "MovieLens movies file")
    frame = _read_small(path, ",", _MOVIE_TYPES)
    missing = [c for c in _MOVIE_TYPES if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: columns {missing} are missing (it has {list(frame.columns)}); get a fresh copy.")
    frame = frame.set_index("movieId")
    if not (folder / "links.csv").is_file():
        return frame
    links = load_links(folder).set_index("item")
    return frame.join(links[~links.index.duplicated()], how="left")


def _100k_movies(folder: Path) -> pd.DataFrame:
    path = check_file(folder / _MOVIES_FILE["100k"], "MovieLens item file")
    genres = _100k_genre_names(folder)
    flags = [f"g{i}" for i in range(len(genres))]
    text_columns = ["title", "release_date", "video_release_date", "imdb_url"]
    types = {"movieId": pa.int64(), **dict.fromkeys(text_columns, pa.string()), **dict.fromkeys(flags, pa.int8())}
    raw = _read_small(path, "|", types, names=["movieId", *text_columns, *flags])
    joined = pd.Series("", index=raw.index, dtype=object)
    for flag, genre in zip(flags, genres, strict=True):  # one vectorised pass per genre, not per movie
        joined = joined + np.where(raw[flag].to_numpy() == 1, genre + "|", "")
    frame = pd.DataFrame(
        {
            "movieId": raw["movieId"],
            "title": raw["title"],
            "genres": joined.str.rstrip("|"),
            "release_date": raw["release_date"],
            "imdb_url": raw["imdb_url"],
        }
    ).set_index("movieId")
    fallback = pd.to_numeric(frame["release_date"].str[-4:], errors="coerce").astype("Int64")
    frame["year"] = parse_year(frame["title"]).fillna(fallback)
    return frame


def _dat_movies(folder: Path) -> pd.DataFrame:
    path = check_file(folder / _MOVIES_FILE["dat"], "MovieLens movies file")
    return _read_small(path, "::", _MOVIE_TYPES, names=list(_MOVIE_TYPES)).set_index("movieId")


_MOVIE_READERS: dict[Layout, Callable[[Path], pd.DataFrame]] = {
    "csv": _csv_movies,
    "100k": _100k_movies,
    "dat": _dat_movies,
}


def _100k_genre_names(folder: Path) -> tuple[str, ...]:
    path = folder / "u.genre"
    if not path.is_file():
        return _100K_GENRES
    frame = _read_small(path, "|", {"genre": pa.string(), "code": pa.int32()}, names=["genre", "code"])
    return tuple(frame.sort_values("code")["genre"].astype(str))


# --------------------------------------------------------------------------- links, tags, users
def load_links(folder: str | Path) -> pd.DataFrame:
    """``links.csv`` of a CSV edition: columns ``item``, ``imdbId`` (text, zero-padded as shipped), ``tmdbId`` (``Int64``).

    Raises:
        DataError: the edition has no ``links.csv`` (ml-100k, ml-1m, ml-10m).
    """
    edition = require_edition(folder)
    path = edition.folder / "links.csv"
    if not path.is_file():
        raise DataError(
            f"{edition.folder} ({edition.name}) has no links.csv; only the CSV editions ship IMDb/TMDB links."
        )
    frame = _read_small(path, ",", {"movieId": pa.int64(), "imdbId": pa.string(), "tmdbId": pa.int64()})
    frame = frame.rename(columns={"movieId": "item"})
    frame["tmdbId"] = frame["tmdbId"].astype("Int64")
    frame["imdbId"] = frame["imdbId"].astype("string")
    return frame


def load_tags(folder: str | Path) -> pd.DataFrame:
    """Free-text tags: columns ``user``, ``item``, ``tag``, ``timestamp`` (``tags.csv`` or ml-10m ``tags.dat``).

    Raises:
        DataError: the edition has no tags file (ml-100k, ml-1m).
    """
    edition = require_edition(folder)
    types = {"user": pa.int64(), "item": pa.int64(), "tag": pa.string(), "timestamp": pa.int64()}
    if (edition.folder / "tags.csv").is_file():
        csv_types = {"userId": pa.int64(), "movieId": pa.int64(), "tag": pa.string(), "timestamp": pa.int64()}
        frame = _read_small(edition.folder / "tags.csv", ",", csv_types)
        return frame.rename(columns={"userId": "user", "movieId": "item"})
    if (edition.folder / "tags.dat").is_file():
        return _read_small(edition.folder / "tags.dat", "::", types, names=list(types))
    raise DataError(f"{edition.folder} ({edition.name}) has no tags file; tags ship with ml-10m and the CSV editions.")


def load_users(folder: str | Path) -> pd.DataFrame:
    """User demographics, indexed by user id (``user``): ``age``, ``gender``, ``occupation``, ``zip_code``.

    ml-100k (``u.user``) gives ages in years; ml-1m (``users.dat``) gives its age-group codes
    (1, 18, 25, 35, 45, 50, 56) and occupation codes, which are turned into names.

    Raises:
        DataError: the edition has no user file (only ml-100k and ml-1m have one).
    """
    edition = require_edition(folder)
    if edition.layout == "100k" and (edition.folder / "u.user").is_file():
        types = {
            "user": pa.int64(),
            "age": pa.int32(),
            "gender": pa.string(),
            "occupation": pa.string(),
            "zip_code": pa.string(),
        }
        return _read_small(edition.folder / "u.user", "|", types, names=list(types)).set_index("user")
    if (edition.folder / "users.dat").is_file():
        types = {
            "user": pa.int64(),
            "gender": pa.string(),
            "age": pa.int32(),
            "occupation": pa.int32(),
            "zip_code": pa.string(),
        }
        frame = _read_small(edition.folder / "users.dat", "::", types, names=list(types))
        frame["occupation"] = _occupation_names(frame["occupation"].to_numpy())
        return frame.set_index("user")[["age", "gender", "occupation", "zip_code"]]
    raise DataError(
        f"{edition.folder} ({edition.name}) has no user file; only ml-100k (u.user) and ml-1m (users.dat) have one."
    )


def _occupation_names(codes: np.ndarray) -> np.ndarray:
    """ml-1m occupation codes as their names; a code outside the README's list stays as its number."""
    names = np.asarray(_1M_OCCUPATIONS, dtype=object)
    valid = (codes >= 0) & (codes < len(names))
    return np.where(valid, names[np.clip(codes, 0, len(names) - 1)], codes.astype(str))

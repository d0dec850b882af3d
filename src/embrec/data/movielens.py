"""Loading every MovieLens edition: ratings, movies (titles, years, genres), links, tags and users.

The edition and its layout are told from the folder's files (see :mod:`embrec.data.editions`).
Ratings are parsed by pyarrow with fixed column types; ``::`` files are read with ``:`` as the
delimiter and every second (empty) field skipped, so nothing is copied or split in Python.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from embrec.data.build import DuplicatePolicy
from embrec.data.columns import parse_year
from embrec.data.editions import (
    MovieLensEdition,
    is_movielens_folder,
    movielens_edition,
    movielens_ratings_file,
    require_edition,
)
from embrec.data.interactions import Interactions
from embrec.data.sniff import check_file, read_header
from embrec.data.tables import CsvSpec, build_from_table, read_csv_table
from embrec.errors import DataError

# the edition names are re-exported from embrec.data.editions, where they live
__all__ = [
    "MovieLensEdition",
    "is_movielens_folder",
    "load_links",
    "load_movielens",
    "load_movies",
    "load_tags",
    "load_users",
    "movielens_edition",
    "movielens_ratings_file",
]

log = logging.getLogger(__name__)

_CSV_RATING_COLUMNS = ("userId", "movieId", "rating", "timestamp")
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


# --------------------------------------------------------------------------- ratings
def _ratings_spec(edition: MovieLensEdition, path: Path) -> tuple[CsvSpec, dict[str, str], dict[str, str]]:
    """How to read an edition's ratings file: the spec, role -> column, role -> label."""
    if edition.layout == "csv":
        header = read_header(path, ",")
        missing = [c for c in _CSV_RATING_COLUMNS if c not in header.fields]
        if missing:
            raise DataError(
                f"{path}: not a MovieLens ratings.csv: columns {missing} are missing (it has {header.fields}); "
                "load it as your own file (load_ratings_file with user_col, item_col and rating_col) instead."
            )
        chosen = dict(zip(("user", "item", "rating", "timestamp"), _CSV_RATING_COLUMNS, strict=True))
        spec = CsvSpec(
            path=path,
            sep=",",
            header=True,
            names=header.fields,
            include=list(_CSV_RATING_COLUMNS),
            types={"userId": pa.int32(), "movieId": pa.int32(), "rating": pa.float32(), "timestamp": pa.int64()},
            roles={"userId": "id", "movieId": "id", "rating": "rating", "timestamp": "timestamp"},
            labels={c: c for c in _CSV_RATING_COLUMNS},
            first_line=2,
        )
        return spec, chosen, chosen
    if edition.layout == "100k":
        names = ["user", "item", "rating", "timestamp"]
        chosen = {n: n for n in names}
        spec = CsvSpec(
            path=path,
            sep="\t",
            header=False,
            names=names,
            include=names,
            types={"user": pa.int32(), "item": pa.int32(), "rating": pa.float32(), "timestamp": pa.int64()},
            roles={"user": "id", "item": "id", "rating": "rating", "timestamp": "timestamp"},
            labels={n: n for n in names},
            row_format="user<TAB>item<TAB>rating<TAB>timestamp",
            quoting=False,
            first_line=1,
        )
        return spec, chosen, chosen
    # '::' files: read with ':' so that every second field is empty, and skip those
    names = [f"f{i}" for i in range(7)]
    chosen = {"user": "f0", "item": "f2", "rating": "f4", "timestamp": "f6"}
    labels = {"user": "UserID", "item": "MovieID", "rating": "Rating", "timestamp": "Timestamp"}
    spec = CsvSpec(
        path=path,
        sep=":",
        header=False,
        names=names,
        include=list(chosen.values()),
        types={"f0": pa.int32(), "f2": pa.int32(), "f4": pa.float32(), "f6": pa.int64()},
        roles={"f0": "id", "f2": "id", "f4": "rating", "f6": "timestamp"},
        labels={chosen[r]: labels[r] for r in chosen},
        row_format="UserID::MovieID::Rating::Timestamp",
        quoting=False,
        first_line=1,
    )
    return spec, chosen, labels


def load_movielens(
    folder: str | Path,
    *,
    ratings_file: str | Path | None = None,
    rating_scale: tuple[float, float] | None = None,
    duplicates: DuplicatePolicy | str = DuplicatePolicy.last,
    item_metadata: pd.DataFrame | None = None,
    name: str | None = None,
) -> Interactions:
    """Load a MovieLens folder of any edition, with titles, years and genres as item metadata.

    Args:
        folder: the folder the MovieLens zip extracts to (``ml-100k``, ``ml-latest-small``,
            ``ml-1m``, ``ml-10M100K``, ``ml-25m``, ...).
        ratings_file: another ratings file of the same layout inside the folder (for ml-100k:
            ``u1.base``, ``ua.test``, ...); default the edition's full ratings file.
        rating_scale: override the edition's known scale (1-5 or 0.5-5).
        duplicates: what to do with repeated (user, item) pairs.
        item_metadata: use this frame (indexed by item id) instead of the folder's movies.
        name: label; default the edition's name.

    Raises:
        DataError: the folder is not a MovieLens folder, or a file in it is malformed.
    """
    edition = require_edition(folder)
    path = edition.ratings_file if ratings_file is None else Path(ratings_file)
    if not path.is_absolute() and not path.exists():
        path = edition.folder / path
    path = check_file(path)
    spec, chosen, labels = _ratings_spec(edition, path)
    table = read_csv_table(spec)
    meta = item_metadata if item_metadata is not None else _movies_or_none(edition)
    label = name or (edition.name if path == edition.ratings_file else f"{edition.name}/{path.name}")
    owner = [table]
    del table
    return build_from_table(
        owner,
        chosen,
        path=path,
        first_line=spec.first_line,
        rating_scale=rating_scale if rating_scale is not None else edition.rating_scale,
        duplicates=duplicates,
        item_metadata=meta,
        name=label,
        labels=labels,
    )


# --------------------------------------------------------------------------- small text files
def _decode(path: Path) -> tuple[str, str]:
    """Text of a small file and its encoding: UTF-8 when it decodes, else Latin-1 (ml-100k, ml-1m)."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8").lstrip("\ufeff"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def _read_text_table(
    path: Path, text: str, *, sep: str, names: list[str] | None, types: dict[str, pa.DataType], quoting: bool
) -> pd.DataFrame:
    """Parse a small decoded text file with pyarrow; malformed rows are a DataError naming the line."""
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
        if seen:
            bad = seen[0]
            line = getattr(bad, "number", None)
            where = f", line {line}" if line is not None else ""
            raise DataError(
                f"{path}{where}: malformed row {getattr(bad, 'text', '')[:80]!r} (expected "
                f"{getattr(bad, 'expected_columns', '?')} fields); fix that line or get a fresh copy of the file."
            ) from None
        first = str(exc).splitlines()[0]
        raise DataError(f"{path}: cannot be parsed ({first}); get a fresh copy of the file.") from None
    return table.to_pandas()


def _dat_text(path: Path) -> str:
    text, _ = _decode(path)
    # one-character delimiter for pyarrow; \x1f (unit separator) never occurs in MovieLens text
    return text.replace("::", "\x1f")


def _clean_genres(genres: pd.Series) -> pd.Series:
    return genres.fillna("").astype(str).str.strip().replace(_NO_GENRES, "")


def load_movies(folder: str | Path) -> pd.DataFrame:
    """The movies of a MovieLens folder, indexed by movie id (``item``).

    Columns: ``title`` (as shipped, e.g. ``"Toy Story (1995)"``), ``year`` (nullable ``Int64``,
    parsed from the title), ``genres`` (``|``-joined names; ``""`` for none), plus ``imdbId`` and
    ``tmdbId`` where the edition has ``links.csv``, and ``release_date``/``imdb_url`` for ml-100k.

    Raises:
        DataError: the folder is not a MovieLens folder or has no movies file.
    """
    edition = require_edition(folder)
    f = edition.folder
    if edition.layout == "csv":
        path = check_file(f / "movies.csv", "MovieLens movies file")
        text, _ = _decode(path)
        frame = _read_text_table(
            path,
            text,
            sep=",",
            names=None,
            types={"movieId": pa.int64(), "title": pa.string(), "genres": pa.string()},
            quoting=True,
        )
        missing = [c for c in ("movieId", "title", "genres") if c not in frame.columns]
        if missing:
            raise DataError(f"{path}: columns {missing} are missing (it has {list(frame.columns)}); get a fresh copy.")
        frame = frame.set_index("movieId")
        links_path = f / "links.csv"
        if links_path.is_file():
            links = load_links(f).set_index("item")
            frame = frame.join(links[~links.index.duplicated()], how="left")
    elif edition.layout == "100k":
        path = check_file(f / "u.item", "MovieLens item file")
        text, _ = _decode(path)
        genres = _100k_genre_names(f)
        names = [
            "movieId",
            "title",
            "release_date",
            "video_release_date",
            "imdb_url",
            *[f"g{i}" for i in range(len(genres))],
        ]
        types: dict[str, pa.DataType] = {n: pa.string() for n in names[1:5]}
        types.update({f"g{i}": pa.int8() for i in range(len(genres))})
        types["movieId"] = pa.int64()
        raw = _read_text_table(path, text, sep="|", names=names, types=types, quoting=False)
        joined = pd.Series("", index=raw.index, dtype=object)
        for i, genre in enumerate(genres):  # one vectorised pass per genre, not per movie
            joined = joined + np.where(raw[f"g{i}"].to_numpy() == 1, genre + "|", "")
        frame = pd.DataFrame(
            {
                "movieId": raw["movieId"],
                "title": raw["title"],
                "genres": joined.str.rstrip("|"),
                "release_date": raw["release_date"],
                "imdb_url": raw["imdb_url"],
            }
        ).set_index("movieId")
        frame["year"] = parse_year(frame["title"])
        fallback = pd.to_numeric(frame["release_date"].str[-4:], errors="coerce").astype("Int64")
        frame["year"] = frame["year"].fillna(fallback)
    else:
        path = check_file(f / "movies.dat", "MovieLens movies file")
        frame = _read_text_table(
            path,
            _dat_text(path),
            sep="\x1f",
            names=["movieId", "title", "genres"],
            types={"movieId": pa.int64(), "title": pa.string(), "genres": pa.string()},
            quoting=False,
        ).set_index("movieId")
    frame["title"] = frame["title"].astype(str).str.strip()
    frame["genres"] = _clean_genres(frame["genres"])
    if "year" not in frame.columns:
        frame["year"] = parse_year(frame["title"])
    frame.index.name = "item"
    first = ["title", "year", "genres"]
    return frame[first + [c for c in frame.columns if c not in first]]


def _movies_or_none(edition: MovieLensEdition) -> pd.DataFrame | None:
    names = {"csv": "movies.csv", "100k": "u.item", "dat": "movies.dat"}
    if not (edition.folder / names[edition.layout]).is_file():
        log.info("%s has no %s: loading without item metadata", edition.folder, names[edition.layout])
        return None
    return load_movies(edition.folder)


def _100k_genre_names(folder: Path) -> tuple[str, ...]:
    path = folder / "u.genre"
    if not path.is_file():
        return _100K_GENRES
    text, _ = _decode(path)
    frame = _read_text_table(
        path, text, sep="|", names=["genre", "code"], types={"genre": pa.string(), "code": pa.int32()}, quoting=False
    )
    return tuple(frame.sort_values("code")["genre"].astype(str))


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
    text, _ = _decode(path)
    frame = _read_text_table(
        path,
        text,
        sep=",",
        names=None,
        types={"movieId": pa.int64(), "imdbId": pa.string(), "tmdbId": pa.int64()},
        quoting=True,
    )
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
    names = ["user", "item", "tag", "timestamp"]
    types = {"user": pa.int64(), "item": pa.int64(), "tag": pa.string(), "timestamp": pa.int64()}
    if (edition.folder / "tags.csv").is_file():
        path = edition.folder / "tags.csv"
        text, _ = _decode(path)
        frame = _read_text_table(
            path,
            text,
            sep=",",
            names=None,
            types={"userId": pa.int64(), "movieId": pa.int64(), "tag": pa.string(), "timestamp": pa.int64()},
            quoting=True,
        )
        return frame.rename(columns={"userId": "user", "movieId": "item"})
    if (edition.folder / "tags.dat").is_file():
        path = edition.folder / "tags.dat"
        return _read_text_table(path, _dat_text(path), sep="\x1f", names=names, types=types, quoting=False)
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
        path = edition.folder / "u.user"
        text, _ = _decode(path)
        frame = _read_text_table(
            path,
            text,
            sep="|",
            names=["user", "age", "gender", "occupation", "zip_code"],
            types={
                "user": pa.int64(),
                "age": pa.int32(),
                "gender": pa.string(),
                "occupation": pa.string(),
                "zip_code": pa.string(),
            },
            quoting=False,
        )
        return frame.set_index("user")
    if (edition.folder / "users.dat").is_file():
        path = edition.folder / "users.dat"
        frame = _read_text_table(
            path,
            _dat_text(path),
            sep="\x1f",
            names=["user", "gender", "age", "occupation", "zip_code"],
            types={
                "user": pa.int64(),
                "gender": pa.string(),
                "age": pa.int32(),
                "occupation": pa.int32(),
                "zip_code": pa.string(),
            },
            quoting=False,
        )
        codes = frame["occupation"].to_numpy()
        names = np.asarray(_1M_OCCUPATIONS, dtype=object)
        valid = (codes >= 0) & (codes < len(names))
        frame["occupation"] = np.where(valid, names[np.clip(codes, 0, len(names) - 1)], codes.astype(str))
        return frame.set_index("user")[["age", "gender", "occupation", "zip_code"]]
    raise DataError(
        f"{edition.folder} ({edition.name}) has no user file; only ml-100k (u.user) and ml-1m (users.dat) have one."
    )

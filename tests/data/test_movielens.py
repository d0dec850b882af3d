"""MovieLens editions: real shared copies (counts, titles, genres) and small synthetic folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import real_dataset
from embrec.data.load import load_data
from embrec.data.movielens import (
    is_movielens_folder,
    load_links,
    load_movielens,
    load_movies,
    load_tags,
    load_users,
    movielens_edition,
    movielens_ratings_file,
)
from embrec.errors import DataError


# --------------------------------------------------------------------------- real copies
@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "n_ratings", "n_users", "n_items", "scale"),
    [
        ("ml-100k", 100_000, 943, 1_682, (1.0, 5.0)),
        ("ml-latest-small", 100_836, 610, 9_724, (0.5, 5.0)),
        ("ml-latest-small-2016", 100_004, 671, 9_066, (0.5, 5.0)),
    ],
)
def test_real_counts(name: str, n_ratings: int, n_users: int, n_items: int, scale: tuple[float, float]) -> None:
    data = load_data(real_dataset(name))
    assert data.name == name
    assert (data.n_ratings, data.n_users, data.n_items) == (n_ratings, n_users, n_items)
    assert data.rating_scale == scale
    assert data.users.dtype == np.int32 and data.items.dtype == np.int32
    assert data.ratings is not None and data.ratings.dtype == np.float32
    assert data.timestamps is not None and data.timestamps.dtype == np.int64
    assert data.item_metadata is not None and data.item_metadata["title"].notna().all()


@pytest.mark.realdata
def test_ml100k_latin1_titles_genres_years() -> None:
    folder = real_dataset("ml-100k")
    movies = load_movies(folder)
    assert len(movies) == 1_682
    assert movies.loc[543, "title"] == "Misérables, Les (1995)"
    assert movies.loc[1104, "title"] == "C'est arrivé près de chez vous (1992)"
    assert movies.loc[1, "title"] == "Toy Story (1995)"
    assert movies.loc[1, "year"] == 1995
    assert movies.loc[1, "genres"] == "Animation|Children's|Comedy"
    assert movies.loc[2, "genres"] == "Action|Adventure|Thriller"
    data = load_data(folder)
    idx = data.item_index([543])
    assert data.titles(idx) == ["Misérables, Les (1995)"]


@pytest.mark.realdata
def test_ml100k_users_and_split_files() -> None:
    folder = real_dataset("ml-100k")
    users = load_users(folder)
    assert len(users) == 943
    assert users.loc[1].to_dict() == {"age": 24, "gender": "M", "occupation": "technician", "zip_code": "85711"}
    base = load_data(folder / "u1.base")
    assert base.n_ratings == 80_000 and base.name == "ml-100k/u1.base"
    assert movielens_ratings_file(folder / "ua.test") is not None
    assert movielens_ratings_file(folder / "u.item") is None


@pytest.mark.realdata
def test_ml_latest_small_metadata_links_tags() -> None:
    folder = real_dataset("ml-latest-small")
    movies = load_movies(folder)
    assert len(movies) == 9_742
    assert movies.loc[11, "title"] == "American President, The (1995)"  # quoted title with a comma
    assert movies.loc[73, "title"] == "Misérables, Les (1995)"  # UTF-8
    assert movies.loc[1, "genres"] == "Adventure|Animation|Children|Comedy|Fantasy"
    assert movies.loc[1, "imdbId"] == "0114709" and movies.loc[1, "tmdbId"] == 862
    assert (movies["genres"] == "(no genres listed)").sum() == 0
    assert (movies["genres"] == "").sum() == 34
    links = load_links(folder)
    assert len(links) == 9_742 and list(links.columns) == ["item", "imdbId", "tmdbId"]
    tags = load_tags(folder)
    assert len(tags) == 3_683 and list(tags.columns) == ["user", "item", "tag", "timestamp"]
    assert tags["user"].nunique() == 58


@pytest.mark.realdata
def test_ml_latest_small_2016_ratings_file_directly() -> None:
    folder = real_dataset("ml-latest-small-2016")
    data = load_data(folder / "ratings.csv")
    assert data.name == "ml-latest-small-2016"
    assert data.n_ratings == 100_004
    assert data.item_metadata is not None and data.item_metadata.loc[1, "title"] == "Toy Story (1995)"  # by movieId
    assert data.item_metadata.iloc[0]["title"] == "Toy Story (1995)"  # and in item-index order
    assert len(load_tags(folder)) == 1_296


@pytest.mark.realdata
def test_real_detection() -> None:
    assert movielens_edition(real_dataset("ml-100k")).layout == "100k"  # type: ignore[union-attr]
    assert movielens_edition(real_dataset("ml-latest-small")).layout == "csv"  # type: ignore[union-attr]
    with pytest.raises(DataError, match="no links.csv"):
        load_links(real_dataset("ml-100k"))
    with pytest.raises(DataError, match="no tags file"):
        load_tags(real_dataset("ml-100k"))
    with pytest.raises(DataError, match="no user file"):
        load_users(real_dataset("ml-latest-small"))


# --------------------------------------------------------------------------- synthetic .dat editions
def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def ml1m(tmp_path: Path) -> Path:
    folder = tmp_path / "ml-1m"
    _write(
        folder / "ratings.dat",
        "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n3::73::1::978297000\n",
    )
    _write(
        folder / "movies.dat",
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
        "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
        "73::Misérables, Les (1995)::Drama|Musical\n",
        encoding="latin-1",
    )
    _write(folder / "users.dat", "1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::15::55117\n")
    return folder


@pytest.fixture
def ml10m(tmp_path: Path) -> Path:
    folder = tmp_path / "ml-10M100K"
    _write(folder / "ratings.dat", "1::122::5::838985046\n1::185::4.5::838983525\n2::122::0.5::868245777\n")
    _write(
        folder / "movies.dat", "122::Boomerang (1992)::Comedy|Romance\n185::Net, The (1995)::Action|Crime|Thriller\n"
    )
    _write(folder / "tags.dat", "15::4973::excellent!::1215184630\n20::1747::politics::1188263867\n")
    return folder


def test_ml1m_dat(ml1m: Path) -> None:
    edition = movielens_edition(ml1m)
    assert edition is not None and (edition.name, edition.layout, edition.rating_scale) == ("ml-1m", "dat", (1.0, 5.0))
    data = load_data(ml1m)
    assert data.name == "ml-1m"
    assert (data.n_ratings, data.n_users, data.n_items) == (4, 3, 3)
    frame = data.to_frame()
    assert frame.iloc[0].tolist() == [1, 1193, 5.0, 978300760]
    assert data.titles(data.item_index([73])) == ["Misérables, Les (1995)"]
    assert data.item_metadata is not None
    meta = data.item_metadata.set_index(data.item_ids)
    assert meta.loc[661, "genres"] == "Animation|Children's|Musical"
    assert meta.loc[1193, "year"] == 1975
    users = load_users(ml1m)
    assert users.loc[1, "occupation"] == "K-12 student" and users.loc[2, "age"] == 56
    with pytest.raises(DataError, match="no tags file"):
        load_tags(ml1m)


def test_ml10m_dat(ml10m: Path) -> None:
    data = load_data(ml10m)
    assert data.name == "ml-10m"
    assert data.rating_scale == (0.5, 5.0)
    assert data.ratings is not None and sorted(data.ratings.tolist()) == [0.5, 4.5, 5.0]
    assert data.titles(data.item_index([185])) == ["Net, The (1995)"]
    tags = load_tags(ml10m)
    assert tags.iloc[0].tolist() == [15, 4973, "excellent!", 1215184630]


def test_ml10m_rejects_ratings_outside_known_scale(tmp_path: Path) -> None:
    folder = tmp_path / "ml-10M100K"
    _write(folder / "ratings.dat", "1::122::5::838985046\n1::185::6::838983525\n")
    with pytest.raises(DataError, match=r"line 2.*rating 6 is outside the scale 0.5-5"):
        load_data(folder)


def test_dat_malformed_row_names_line(ml1m: Path) -> None:
    _write(ml1m / "ratings.dat", "1::1193::5::978300760\n1::661::3\n")
    with pytest.raises(
        DataError, match=r"ratings.dat, line 2: malformed row '1::661::3'.*UserID::MovieID::Rating::Timestamp"
    ):
        load_data(ml1m)


def test_dat_non_numeric_rating(ml1m: Path) -> None:
    _write(ml1m / "ratings.dat", "1::1193::5::978300760\n1::661::good::978302109\n")
    with pytest.raises(DataError, match=r"line 2, column 'Rating': rating 'good' is not a number"):
        load_data(ml1m)


def test_synthetic_100k(tmp_path: Path) -> None:
    folder = tmp_path / "ml-100k"
    _write(folder / "u.data", "1\t10\t4\t881250949\n2\t10\t2\t881250950\n2\t20\t5\t881250951\n")
    genres = (
        "unknown|0\nAction|1\nAdventure|2\nAnimation|3\nChildren's|4\nComedy|5\nCrime|6\nDocumentary|7\nDrama|8\n"
        "Fantasy|9\nFilm-Noir|10\nHorror|11\nMusical|12\nMystery|13\nRomance|14\nSci-Fi|15\nThriller|16\nWar|17\nWestern|18\n\n"
    )
    _write(folder / "u.genre", genres)
    flags10 = "|".join(["0", "1"] + ["0"] * 13 + ["1"] + ["0"] * 3)
    flags20 = "|".join(["1"] + ["0"] * 18)
    _write(
        folder / "u.item",
        f"10|Amélie (2001)|01-Jan-2001||http://x|{flags10}\n20|unknown||||{flags20}\n",
        encoding="latin-1",
    )
    data = load_data(folder)
    assert data.name == "ml-100k" and data.n_ratings == 3
    meta = load_movies(folder)
    assert meta.loc[10, "title"] == "Amélie (2001)"
    assert meta.loc[10, "genres"] == "Action|Sci-Fi"
    assert meta.loc[20, "genres"] == "unknown"
    assert meta.loc[10, "year"] == 2001 and meta["year"].isna().loc[20]


def test_csv_edition_synthetic_crlf(tmp_path: Path) -> None:
    folder = tmp_path / "ml-25m"
    _write(folder / "ratings.csv", "userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,3,4.5,964981247\r\n")
    _write(
        folder / "movies.csv",
        'movieId,title,genres\r\n1,Toy Story (1995),Adventure\r\n3,"Foo, The (1999)",(no genres listed)\r\n',
    )
    data = load_data(folder)
    assert data.name == "ml-25m" and data.rating_scale == (0.5, 5.0)
    assert data.item_metadata is not None
    assert data.item_metadata["title"].tolist() == ["Toy Story (1995)", "Foo, The (1999)"]
    assert data.item_metadata["genres"].tolist() == ["Adventure", ""]
    assert data.item_metadata["year"].tolist() == [1995, 1999]


def test_folder_without_movies_still_loads(tmp_path: Path) -> None:
    folder = tmp_path / "ml-1m"
    _write(folder / "ratings.dat", "1::2::3::4\n")
    data = load_movielens(folder)
    assert data.item_metadata is None and data.n_ratings == 1


def test_not_a_movielens_folder(tmp_path: Path) -> None:
    assert not is_movielens_folder(tmp_path)
    with pytest.raises(DataError, match="not a MovieLens folder"):
        load_movielens(tmp_path)

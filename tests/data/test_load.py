"""load_data: what it dispatches to, the dataset= route, and its argument checks."""

from __future__ import annotations

from pathlib import Path

import pytest

import embrec.data.datasets as datasets
from embrec.data.build import DuplicatePolicy, DuplicateRatingsWarning
from embrec.data.load import ColumnMapping, load_data
from embrec.errors import DataError, DatasetNotFoundError


def _ml1m(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "ratings.dat").write_text("1::10::5::978300760\n2::10::3::978300761\n2::20::4::978300762\n")
    (folder / "movies.dat").write_bytes("10::Amélie (2001)::Comedy\n20::B (1990)::Drama\n".encode("latin-1"))
    (folder / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    return folder


def test_exactly_one_source() -> None:
    with pytest.raises(DataError, match=r"give exactly one of data \(data=PATH.*\) or dataset \(dataset=NAME.*neither"):
        load_data()
    with pytest.raises(DataError, match="both was given"):
        load_data("x.csv", dataset="ml-100k")


def test_column_mapping_defaults() -> None:
    assert ColumnMapping() == ColumnMapping("user", "item", "rating", "timestamp")
    with pytest.raises(AttributeError):
        ColumnMapping().user = "x"  # type: ignore[misc]


def test_folder_and_own_file(tmp_path: Path) -> None:
    data = load_data(_ml1m(tmp_path / "ml-1m"))
    assert data.name == "ml-1m" and data.n_ratings == 3
    own = tmp_path / "mine.csv"
    own.write_text("a,b,c\nx,y,1\n")
    data = load_data(own, columns=ColumnMapping(user="a", item="b", rating="c", timestamp=None))
    assert data.name == "mine" and data.user_ids.tolist() == ["x"]


def test_movielens_ratings_file_directly(tmp_path: Path) -> None:
    folder = _ml1m(tmp_path / "ml-1m")
    data = load_data(folder / "ratings.dat")
    assert data.name == "ml-1m" and data.item_metadata is not None
    assert data.titles([0]) == ["Amélie (2001)"]


def test_dataset_route_uses_find_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _ml1m(tmp_path / "cache" / "ml-1m")
    calls: list[tuple[str, object, bool]] = []

    def fake_find(name: str, data_dir: object = None, *, download: bool = True) -> Path:
        calls.append((name, data_dir, download))
        return folder

    monkeypatch.setattr(datasets, "find_dataset", fake_find)
    data = load_data(dataset="ml-1m", data_dir=tmp_path / "cache", download=False)
    assert calls == [("ml-1m", tmp_path / "cache", False)]
    assert data.name == "ml-1m" and data.n_users == 2


def test_dataset_not_found_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_find(name: str, data_dir: object = None, *, download: bool = True) -> Path:
        raise DatasetNotFoundError(f"dataset {name!r} is not on disk")

    monkeypatch.setattr(datasets, "find_dataset", fake_find)
    with pytest.raises(DatasetNotFoundError, match="'ml-1m' is not on disk"):
        load_data(dataset="ml-1m", download=False)


def test_items_file_replaces_movielens_metadata(tmp_path: Path) -> None:
    folder = _ml1m(tmp_path / "ml-1m")
    items = tmp_path / "items.csv"
    items.write_text("movieId,title,genres\n10,Ten,X|Y\n")
    data = load_data(folder, items=items)
    assert data.titles([0, 1]) == ["Ten", "20"]


def test_rating_scale_override_and_duplicates_policy(tmp_path: Path) -> None:
    folder = _ml1m(tmp_path / "ml-1m")
    with pytest.raises(DataError, match="outside the scale 1-4"):
        load_data(folder, rating_scale=(1, 4))
    (folder / "ratings.dat").write_text("1::10::5::1\n1::10::3::2\n")
    with pytest.warns(DuplicateRatingsWarning):
        data = load_data(folder)
    assert data.ratings is not None and data.ratings.tolist() == [3.0]
    with pytest.warns(DuplicateRatingsWarning):
        data = load_data(folder, duplicates=DuplicatePolicy.mean)
    assert data.ratings is not None and data.ratings.tolist() == [4.0]
    with pytest.raises(
        DataError, match="duplicates='median' is not a duplicate policy; use one of last, first, mean, error"
    ):
        load_data(folder, duplicates="median")


def test_missing_path_and_non_movielens_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_data(tmp_path / "nope")
    (tmp_path / "mine.csv").write_text("user,item\n1,2\n")
    with pytest.raises(DataError, match=r"not a MovieLens one.*pass it: data='.*mine.csv'"):
        load_data(tmp_path)
    _ml1m(tmp_path / "sub" / "ml-1m")
    with pytest.raises(DataError, match=r"but .*ml-1m is; pass data='.*ml-1m'"):
        load_data(tmp_path / "sub")

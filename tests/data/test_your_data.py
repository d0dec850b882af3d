"""Your own data: item metadata columns, the rating column hint, and the options a run records."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embrec.data.load import ColumnMapping, load_data
from embrec.data.options import DataOptions
from embrec.errors import DataError


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def ratings(tmp_path: Path) -> Path:
    return _write(tmp_path / "ratings.csv", "user,item,rating\n1,7,4\n2,7,5\n2,8,3\n")


# --------------------------------------------------------------------------- item metadata columns
def test_metadata_with_other_names_is_refused_naming_file_columns_and_option(ratings: Path, tmp_path: Path) -> None:
    items = _write(tmp_path / "items.csv", "id,name,tags\n7,Seven,A|B\n8,Eight,C\n")
    with pytest.raises(DataError) as caught:
        load_data(ratings, items=items)
    message = str(caught.value)
    assert str(items) in message and "no 'title' column" in message
    assert "['id', 'name', 'tags']" in message
    assert "title_col='name'" in message and "genres_col='tags'" in message and "title_col=None" in message
    assert "\n" not in message


def test_metadata_columns_and_genre_separator_are_read_as_named(ratings: Path, tmp_path: Path) -> None:
    items = _write(tmp_path / "items.csv", 'id,name,tags,price\n7,"Seven (1995)",A; B ;,3\n8,Eight,C,4\n')
    data = load_data(ratings, items=items, title_col="name", genres_col="tags", genres_sep=";")
    assert data.titles([0, 1]) == ["Seven (1995)", "Eight"]
    meta = data.item_metadata
    assert meta is not None
    assert meta["genres"].tolist() == ["A|B", "C"]  # kept |-joined, as every reader of genres expects
    assert meta["year"].tolist()[0] == 1995 and meta["price"].tolist() == [3, 4]
    assert "name" not in meta.columns and "tags" not in meta.columns


def test_an_id_and_a_title_are_enough_and_named_columns_must_exist(ratings: Path, tmp_path: Path) -> None:
    items = _write(tmp_path / "items.csv", "item,Title\n7,Seven\n8,Eight\n")
    data = load_data(ratings, items=items)  # genres are optional; the default names match in any case
    assert data.titles([0, 1]) == ["Seven", "Eight"]
    assert data.item_metadata is not None and "genres" not in data.item_metadata.columns
    with pytest.raises(DataError, match=r"has no 'tags' column.*genres_col=None"):
        load_data(ratings, items=items, genres_col="tags")
    with pytest.raises(DataError, match=r"has no 'label' column.*title_col='Title'"):
        load_data(ratings, items=items, title_col="label")


def test_a_file_without_titles_loads_with_title_col_none(ratings: Path, tmp_path: Path) -> None:
    items = _write(tmp_path / "items.csv", "item,genres,title_old\n7,A|B,x\n8,C,y\n")
    with pytest.raises(DataError, match="no 'title' column"):
        load_data(ratings, items=items)
    data = load_data(ratings, items=items, title_col=None)
    assert data.item_metadata is not None and data.item_metadata["genres"].tolist() == ["A|B", "C"]
    assert "title" not in data.item_metadata.columns
    ids_only = _write(tmp_path / "ids.csv", "item,price\n7,1\n")
    with pytest.raises(DataError, match=r"no 'genres' column.*title_col=None leaves nothing to read"):
        load_data(ratings, items=ids_only, title_col=None)


def test_the_metadata_id_column_can_be_named(ratings: Path, tmp_path: Path) -> None:
    items = _write(tmp_path / "items.csv", "code,title\n7,Seven\n8,Eight\n")
    with pytest.raises(DataError, match=r"no item id column .*items_id_col=COLUMN"):
        load_data(ratings, items=items)
    assert load_data(ratings, items=items, items_id_col="code").titles([0]) == ["Seven"]
    with pytest.raises(DataError, match=r"no item id column 'sku'.*items_id_col=COLUMN"):
        load_data(ratings, items=items, items_id_col="sku")


def test_metadata_options_with_a_movielens_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings.dat").write_text("1::10::5::978300760\n1::20::3::978300761\n")
    items = _write(tmp_path / "films.tsv", "film\tname\n10\tTen\n")
    data = load_data(folder, items=items, items_id_col="film", title_col="name")
    assert data.titles([0, 1]) == ["Ten", "20"]


# --------------------------------------------------------------------------- the options a run records
def test_data_options_carry_and_record_the_metadata_columns(ratings: Path, tmp_path: Path) -> None:
    items = _write(tmp_path / "items.csv", "sku,name,tags\n7,Seven,A/B\n8,Eight,C\n")
    options = DataOptions(
        data=str(ratings), items=str(items), items_id_col="sku", title_col="name", genres_col="tags", genres_sep="/"
    )
    stored = options.to_dict()
    assert (stored["items_id_col"], stored["title_col"], stored["genres_col"], stored["genres_sep"]) == (
        "sku",
        "name",
        "tags",
        "/",
    )
    again = DataOptions.from_dict(stored)
    assert again == options
    data = again.load()
    assert data.titles([0]) == ["Seven"] and data.item_metadata is not None
    assert data.item_metadata["genres"].tolist() == ["A|B", "C"]


def test_old_run_records_without_the_new_keys_load_with_defaults(ratings: Path, tmp_path: Path) -> None:
    items = _write(tmp_path / "items.csv", "item,title,genres\n7,Seven,A\n")
    old = {"data": str(ratings), "user_col": "user", "items": str(items), "duplicates": "last"}
    options = DataOptions.from_dict(old)
    assert (options.items_id_col, options.title_col, options.genres_col, options.genres_sep) == (
        None,
        "title",
        "genres",
        "|",
    )
    assert options.load().titles([0]) == ["Seven"]


def test_title_col_none_written_as_text_means_no_titles(ratings: Path, tmp_path: Path) -> None:
    items = _write(tmp_path / "items.csv", "item,genres\n7,A\n")
    data = DataOptions(data=str(ratings), items=str(items), title_col="none").load()
    assert data.item_metadata is not None and data.item_metadata["genres"].tolist()[0] == "A"


# --------------------------------------------------------------------------- the rating column hint
@pytest.mark.parametrize(
    ("header", "row"),
    [
        ("uid,sku,when", "A,x,1700000000"),  # named like a time
        ("uid,sku,created_at", "A,x,2024-01-02"),
        ("uid,sku,ev", "A,x,1700000000"),  # Unix seconds under a neutral name
        ("uid,sku,session_id", "A,x,17"),  # an id
    ],
)
def test_the_rating_hint_never_suggests_times_or_ids(tmp_path: Path, header: str, row: str) -> None:
    path = _write(tmp_path / "clicks.csv", f"{header}\n{row}\n")
    other = header.split(",")[-1]
    with pytest.raises(DataError) as caught:
        load_data(path, columns=ColumnMapping(user="uid", item="sku"))
    message = str(caught.value)
    assert "no rating column 'rating'" in message
    assert f"rating_col='{other}'" not in message and f"rating={other!r}" not in message
    assert "rating_col=None for implicit feedback" in message
    if other != "session_id":
        assert f"timestamp_col='{other}' to keep its times" in message


def test_the_rating_hint_without_timestamps_asked_for(tmp_path: Path) -> None:
    path = _write(tmp_path / "clicks.csv", "user,item,timestamp\n1,2,1700000000\n")
    with pytest.raises(DataError) as caught:
        load_data(path, columns=ColumnMapping(timestamp=None))
    message = str(caught.value)
    assert "rating_col='timestamp'" not in message and "rating_col=None for implicit feedback" in message
    assert "timestamp_col=" not in message  # no timestamps was asked for
    with pytest.raises(DataError) as caught:
        load_data(path, columns=ColumnMapping(rating="stars"))
    assert "rating_col='user'" not in str(caught.value) and "rating_col=None" in str(caught.value)


def test_the_rating_hint_in_a_parquet_file_of_datetimes(tmp_path: Path) -> None:
    path = tmp_path / "clicks.parquet"
    stamps = pa.array(pd.to_datetime(["2020-01-01", "2020-01-02"]).values)
    pq.write_table(pa.table({"user": [1, 2], "item": [3, 3], "seen": stamps}), path)
    with pytest.raises(DataError) as caught:
        load_data(path)
    assert "rating_col='seen'" not in str(caught.value) and "timestamp_col='seen'" in str(caught.value)


def test_the_rating_hint_still_suggests_a_column_of_ratings(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "uid,sku,grade,when\nA,x,4,1700000000\n")
    with pytest.raises(DataError, match=r"no rating column 'rating'.*rating_col='grade', or rating_col=None"):
        load_data(path, columns=ColumnMapping(user="uid", item="sku", timestamp="when"))

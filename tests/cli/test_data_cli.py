"""``embrec data summary`` through the CLI: tables, JSON, and one-line errors (exit 2) for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import embrec.data.datasets as datasets
from conftest import real_dataset
from embrec.cli.main import app

runner = CliRunner()


def summary(*args: str) -> object:
    return runner.invoke(app, ["data", "summary", *args])


def assert_one_line_error(result: object, *needles: str) -> str:
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    err = result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in result.output and "Traceback" not in err  # type: ignore[attr-defined]
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    line = " ".join(err.split())  # rich may wrap a long line on narrow terminals
    for needle in needles:
        assert needle in line, line
    assert result.stdout == ""  # type: ignore[attr-defined]
    return line


@pytest.fixture
def ratings_csv(tmp_path: Path) -> Path:
    path = tmp_path / "mine.csv"
    path.write_text("user,item,rating,timestamp\nu1,i1,4,100\nu1,i2,5,200\nu2,i1,3,300\n")
    return path


def test_json_summary(ratings_csv: Path) -> None:
    result = summary("--data", str(ratings_csv), "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["name"] == "mine"
    assert (info["n_ratings"], info["n_users"], info["n_items"]) == (3, 2, 2)
    assert info["rating_histogram"] == {"3.0": 1, "4.0": 1, "5.0": 1}
    assert info["first_timestamp"] == "1970-01-01T00:01:40Z"


def test_table_summary(ratings_csv: Path) -> None:
    result = summary("--data", str(ratings_csv))
    assert result.exit_code == 0, result.output
    for needle in ("ratings", "users", "density", "rating histogram", "per user", "per item"):
        assert needle in result.stdout


def test_column_options_and_implicit(tmp_path: Path) -> None:
    path = tmp_path / "clicks.tsv"
    path.write_text("uid\tsku\tscore\nA\tx\t1\nB\tx\t1\n")
    result = summary("--data", str(path), "--user-col", "uid", "--item-col", "sku", "--rating-col", "none", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["implicit"] is True and info["n_users"] == 2


def test_dataset_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings.dat").write_text("1::10::5::978300760\n")
    (folder / "users.dat").write_text("1::F::1::10::48067\n")
    monkeypatch.setattr(datasets, "find_dataset", lambda name, data_dir=None, *, download=True: folder)
    result = summary("--dataset", "ml-1m", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["name"] == "ml-1m"


def test_duplicates_warn_on_stderr(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("user,item,rating\n1,2,3\n1,2,4\n")
    result = summary("--data", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "1 duplicate (user, item) rows" in result.stderr
    assert json.loads(result.stdout)["rating_histogram"] == {"4.0": 1}
    result = summary("--data", str(path), "--duplicates", "error")
    assert_one_line_error(result, "1 duplicate (user, item) rows", "--duplicates")


# --------------------------------------------------------------------------- bad input, one line each
def test_neither_data_nor_dataset() -> None:
    assert_one_line_error(summary(), "give exactly one of data (--data PATH", "--dataset NAME")


def test_missing_path(tmp_path: Path) -> None:
    assert_one_line_error(summary("--data", str(tmp_path / "nope.csv")), "nope.csv' does not exist")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    assert_one_line_error(summary("--data", str(path)), "empty.csv' is empty")


def test_misnamed_column(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("uid,item,rating\n1,2,3\n")
    assert_one_line_error(
        summary("--data", str(path)), "no user column 'user'", "['uid', 'item', 'rating']", "--user-col uid"
    )
    assert_one_line_error(
        summary("--data", str(path), "--user-col", "uid", "--rating-col", "stars"), "no rating column 'stars'"
    )


def test_wrong_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("user;item;rating\n1;2;3\n")
    assert_one_line_error(summary("--data", str(path)), "looks like it is separated by ';' — pass --sep ';'")
    result = summary("--data", str(path), "--sep", ";", "--json")
    assert result.exit_code == 0, result.output


def test_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("user,item,rating\n1,Café,4\n".encode("latin-1"))
    assert_one_line_error(
        summary("--data", str(path)), "latin.csv, line 2: not UTF-8", "byte e9 at byte offset 22", "re-encode"
    )


def test_non_numeric_and_nan_rating(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating\n1,2,3\n1,3,lots\n")
    assert_one_line_error(summary("--data", str(path)), "line 3, column 'rating': rating 'lots' is not a number")
    path.write_text("user,item,rating\n1,2,3\n1,3,\n")
    assert_one_line_error(summary("--data", str(path)), "line 3", "rating is missing (NaN)")


def test_rating_outside_scale(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating\n1,2,3\n1,3,11\n")
    assert_one_line_error(
        summary("--data", str(path), "--rating-scale", "1", "10"), "line 3", "rating 11 is outside the scale 1-10"
    )


def test_not_parquet(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    path.write_text("user,item,rating\n1,2,3\n")
    assert_one_line_error(summary("--data", str(path)), "r.parquet: is not a Parquet file")


def test_parquet_ok(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    pq.write_table(pa.table({"user": [1, 2], "item": [1, 1], "rating": [2.0, 3.0]}), path)
    result = summary("--data", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_ratings"] == 2


def test_malformed_row(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating\n1,2,3\n1,2,3,4\n")
    assert_one_line_error(summary("--data", str(path)), "line 3: malformed row '1,2,3,4'")


@pytest.mark.realdata
def test_real_ml100k_json() -> None:
    result = summary("--data", str(real_dataset("ml-100k")), "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert (info["name"], info["n_ratings"], info["n_users"], info["n_items"]) == ("ml-100k", 100_000, 943, 1_682)


# --------------------------------------------------------------------------- bad values, refused at their root
@pytest.mark.parametrize(
    ("value", "needles"),
    [
        ("inf", ["line 3, column 'rating': rating 'inf' is infinite", "finite number"]),
        ("1e39", ["line 3, column 'rating': rating '1e39' is too large", "float32"]),
        ("true", ["line 3, column 'rating': rating 'true' is a boolean", "implicit feedback"]),
    ],
)
def test_ratings_that_are_no_ratings_exit_2_and_never_print_infinity(
    tmp_path: Path, value: str, needles: list[str]
) -> None:
    path = tmp_path / "r.csv"
    path.write_text(f"user,item,rating\n1,2,3\n1,3,{value}\n")
    assert_one_line_error(summary("--data", str(path), "--json"), *needles)


@pytest.mark.parametrize(
    ("value", "needles"),
    [
        ("300000000000", ["timestamp 300000000000 is out of range", "milliseconds", "9999-12-31T23:59:59Z"]),
        ("100000000000000000000", ["timestamp '100000000000000000000' is out of range", "0001-01-01T00:00:00Z"]),
        ("-1e300", ["timestamp '-1e300' is out of range"]),
    ],
)
def test_timestamps_out_of_range_exit_2_naming_the_range(tmp_path: Path, value: str, needles: list[str]) -> None:
    path = tmp_path / "r.csv"
    path.write_text(f"user,item,rating,timestamp\n1,2,3,100\n1,3,4,{value}\n")
    assert_one_line_error(summary("--data", str(path)), "r.csv, line 3, column 'timestamp'", *needles)


def test_iso_timestamps_of_long_ago_load(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating,timestamp\n1,2,3,1500-01-01\n1,3,4,2000-01-01\n")
    result = summary("--data", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["first_timestamp"] == "1500-01-01T00:00:00Z"


def test_ids_too_large_for_int64_are_text_ids(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(f"user,item,rating\n{10**30},2,3\n1,2,4\n")
    result = summary("--data", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_users"] == 2


@pytest.mark.parametrize(
    ("column", "array", "typ"),
    [
        ("user", pa.array([[1], [2]]), "list<element: int64>"),
        ("item", pa.array([{"a": 1}, {"a": 2}]), "struct<a: int64>"),
    ],
)
def test_parquet_id_column_of_nested_type(tmp_path: Path, column: str, array: pa.Array, typ: str) -> None:
    columns = {"user": pa.array([1, 2]), "item": pa.array([1, 1]), "rating": pa.array([2.0, 3.0])}
    columns[column] = array
    path = tmp_path / "r.parquet"
    pq.write_table(pa.table(columns), path)
    assert_one_line_error(summary("--data", str(path)), f"column '{column}' has type {typ}", "whole numbers or text")


def test_a_file_of_nul_bytes_gives_one_short_line(tmp_path: Path) -> None:
    path = tmp_path / "zeros.csv"
    with open(path, "wb") as fh:
        fh.truncate(4 << 20)
    line = assert_one_line_error(summary("--data", str(path)), "holds NUL bytes", "binary data")
    assert len(line) < 400


def test_a_long_value_is_cut_in_the_message(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating\n1,2," + "x" * 100_000 + "\n")
    line = assert_one_line_error(
        summary("--data", str(path)), "line 2, column 'rating': rating 'xxx", "(100,000 characters)"
    )
    assert len(line) < 600


def test_your_own_ratings_csv_with_the_column_options(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    path = folder / "ratings.csv"
    path.write_text("uid,sku,stars\nA,x,4\nB,x,5\n")
    line = assert_one_line_error(summary("--data", str(folder)), "not a MovieLens ratings.csv", f"--data {path}")
    assert "load_ratings_file" not in line
    assert_one_line_error(summary("--data", str(path)), "no user column 'user'", "--user-col uid")
    result = summary("--data", str(path), "--user-col", "uid", "--item-col", "sku", "--rating-col", "stars", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_users"] == 2
    path.write_text("user,item,rating\nA,x,4\n")  # the usual column names: read as your own file at once
    result = summary("--data", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["name"] == "ratings"


# --------------------------------------------------------------------------- your own metadata and implicit data
def test_metadata_with_other_names_is_one_line_naming_the_flags(tmp_path: Path, ratings_csv: Path) -> None:
    items = tmp_path / "items.csv"
    items.write_text("id,name,tags\ni1,One,A|B\ni2,Two,C\n")
    assert_one_line_error(
        summary("--data", str(ratings_csv), "--items", str(items)),
        f"{items} has no 'title' column",
        "['id', 'name', 'tags']",
        "--title-col name",
        "--genres-col tags",
    )
    assert_one_line_error(
        summary("--data", str(ratings_csv), "--items", str(items), "--title-col", "label"),
        "has no 'label' column",
        "--title-col name",
    )
    assert_one_line_error(
        summary("--data", str(ratings_csv), "--items", str(items), "--items-id-col", "sku"),
        "no item id column 'sku'",
        "--items-id-col COLUMN",
    )


def test_metadata_flags_read_titles_and_genres(tmp_path: Path, ratings_csv: Path) -> None:
    items = tmp_path / "items.csv"
    items.write_text("sku,name,tags\ni1,One,A;B\ni2,Two,C\n")
    flags = ["--items", str(items), "--items-id-col", "sku", "--title-col", "name", "--genres-col", "tags"]
    result = summary("--data", str(ratings_csv), *flags, "--genres-sep", ";", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["n_items_with_metadata"] == 2 and info["metadata_columns"][:2] == ["title", "genres"]
    result = summary("--data", str(ratings_csv), "--items", str(items), "--items-id-col", "sku", "--title-col", "none")
    assert_one_line_error(result, "no 'genres' column", "--title-col none leaves nothing to read", "--genres-col tags")


@pytest.mark.parametrize(
    ("header", "flags", "times"),
    [
        ("uid,sku,when", [], "when"),
        ("uid,sku,timestamp", ["--timestamp-col", "none"], None),
    ],
)
def test_the_rating_hint_for_implicit_data_suggests_none_not_the_times(
    tmp_path: Path, header: str, flags: list[str], times: str | None
) -> None:
    path = tmp_path / "clicks.csv"
    path.write_text(f"{header}\nA,x,1700000000\nB,x,1700000100\n")
    line = assert_one_line_error(
        summary("--data", str(path), "--user-col", "uid", "--item-col", "sku", *flags),
        "no rating column 'rating'",
        "--rating-col none for implicit feedback",
    )
    column = header.split(",")[-1]
    assert f"--rating-col {column}" not in line
    assert (f"--timestamp-col {times} to keep its times" in line) == (times is not None)
    fixed = [*flags] if times is None else ["--timestamp-col", times]
    result = summary("--data", str(path), "--user-col", "uid", "--item-col", "sku", "--rating-col", "none", *fixed)
    assert result.exit_code == 0, result.output

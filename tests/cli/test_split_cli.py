"""``embrec split`` through the CLI: files, ids, counts, JSON, atomic writes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split
from typer.testing import CliRunner

from conftest import real_dataset
from embrec.cli.main import app
from embrec.data.build import build_interactions
from embrec.data.splits import make_split

runner = CliRunner()


@pytest.fixture
def ratings_csv(tmp_path: Path) -> Path:
    """60 users with string ids, 25 items, 3-12 rows each, ratings and timestamps."""
    rng = np.random.default_rng(3)
    rows = []
    for u in range(60):
        k = int(rng.integers(3, 13))
        for i in rng.choice(25, size=k, replace=False):
            rows.append(
                (
                    f"user{u:02d}",
                    int(100 + i),
                    float(rng.integers(1, 11)) / 2,
                    int(1_500_000_000 + rng.integers(0, 10**6)),
                )
            )
    path = tmp_path / "my_ratings.csv"
    pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"]).to_csv(path, index=False)
    return path


def split_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["split", "--data", str(data), "--out", str(out), *extra]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_default_is_random_90_10_seed_42_with_own_ids(ratings_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "split"
    result = runner.invoke(app, split_args(ratings_csv, out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["split.json", "test.csv", "train.csv"]

    source = pd.read_csv(ratings_csv)
    train = pd.read_csv(out / "train.csv")
    test = pd.read_csv(out / "test.csv")
    assert list(train.columns) == ["user", "item", "rating", "timestamp"]
    train_idx, test_idx = train_test_split(np.arange(len(source)), test_size=0.1, random_state=42)
    pd.testing.assert_frame_equal(test, source.iloc[test_idx].reset_index(drop=True))
    pd.testing.assert_frame_equal(train, source.iloc[train_idx].reset_index(drop=True))

    assert "random" in result.stdout and str(out) in result.stdout.replace("\n", "")
    assert f"{len(train):,} rows" in result.stdout and f"{len(test):,} rows" in result.stdout
    meta = json.loads((out / "split.json").read_text())
    assert (meta["method"], meta["test_fraction"], meta["seed"]) == ("random", 0.1, 42)
    assert leftovers(tmp_path) == []


def test_json_output_has_the_counts(ratings_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "loo"
    result = runner.invoke(app, split_args(ratings_csv, out, "--split", "loo", "--drop-unseen", "--json"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    test = pd.read_csv(out / "test.csv")
    train = pd.read_csv(out / "train.csv")
    assert summary["method"] == "loo" and summary["drop_unseen"] is True
    assert summary["test_rows"] == len(test) and summary["train_rows"] == len(train)
    assert summary["test_rows"] + summary["train_rows"] + summary["dropped_rows"] == len(pd.read_csv(ratings_csv))
    assert summary["train_users"] == train["user"].nunique()
    assert {"dropped_users", "dropped_items", "out", "files"} <= summary.keys()
    assert set(test["item"]) <= set(train["item"])  # drop-unseen took out cold items
    assert test.groupby("user").size().max() == 1


@pytest.mark.parametrize(
    "options",
    [
        ["--split", "user", "--test-count", "2", "--seed", "7"],
        ["--split", "temporal", "--test-fraction", "0.25"],
        ["--split", "cutoff", "--cutoff", "2017-07-20"],
        ["--split", "cutoff", "--cutoff", "1500500000"],
        ["--split", "cutoff", "--test-fraction", "0.2"],
        ["--split", "random", "--test-count", "50", "--keep-unseen"],
    ],
)
def test_files_match_the_api(ratings_csv: Path, tmp_path: Path, options: list[str]) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, split_args(ratings_csv, out, *options))
    assert result.exit_code == 0, result.output

    source = pd.read_csv(ratings_csv)
    data = build_interactions(source["user"], source["item"], source["rating"], source["timestamp"])
    it = iter(options)
    pairs = dict(zip(it, it))
    expected = make_split(
        data,
        pairs["--split"],
        test_fraction=float(pairs["--test-fraction"]) if "--test-fraction" in pairs else None,
        test_count=int(pairs["--test-count"]) if "--test-count" in pairs else None,
        cutoff=pairs.get("--cutoff"),
        seed=int(pairs.get("--seed", 42)),
    )
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "train.csv"), source.iloc[expected.train_rows].reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(pd.read_csv(out / "test.csv"), source.iloc[expected.test_rows].reset_index(drop=True))


def test_refuses_a_non_empty_out_unless_forced(ratings_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = runner.invoke(app, split_args(ratings_csv, out))
    assert result.exit_code == 2
    assert "not empty" in result.stderr and "keep.txt" in result.stderr and "--force" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]

    forced = runner.invoke(app, split_args(ratings_csv, out, "--force"))
    assert forced.exit_code == 0, forced.output
    assert sorted(p.name for p in out.iterdir()) == ["split.json", "test.csv", "train.csv"]
    assert leftovers(tmp_path) == []


def test_writes_into_an_existing_empty_folder(ratings_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    result = runner.invoke(app, split_args(ratings_csv, out))
    assert result.exit_code == 0, result.output
    assert (out / "train.csv").is_file()


def test_out_that_is_a_file_is_refused(ratings_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "file.txt"
    out.write_text("x")
    result = runner.invoke(app, split_args(ratings_csv, out, "--force"))
    assert result.exit_code == 2
    assert "not a folder" in result.stderr and "file.txt" in result.stderr
    assert out.read_text() == "x"


@pytest.mark.parametrize(
    ("options", "pieces"),
    [
        (["--test-fraction", "1.5"], ["1.5", "(0, 1)"]),
        (["--test-fraction", "0"], ["0", "(0, 1)"]),
        (["--split", "user", "--test-count", "0"], ["--test-count 0", "1 or more"]),
        (["--test-fraction", "0.2", "--test-count", "3"], ["0.2", "3", "not both"]),
        (["--split", "cutoff", "--cutoff", "soon"], ["--cutoff soon", "ISO date"]),
        (["--split", "cutoff", "--cutoff", "1990-01-01"], ["--cutoff 1990-01-01", "train set empty"]),
        (["--split", "cutoff", "--cutoff", "2030-01-01"], ["--cutoff 2030-01-01", "test set empty"]),
        (["--split", "user", "--cutoff", "2017-07-20"], ["--cutoff 2017-07-20", "only applies"]),
        (["--split", "loo", "--test-count", "2"], ["--test-count 2", "'loo'"]),
        (
            ["--split", "user", "--test-count", "1000000000000"],
            ["--test-count 1000000000000", "most rows one user has is 12", "largest possible is --test-count 11"],
        ),
        (["--split", "temporal", "--timestamp-col", "none"], ["'temporal' needs timestamps", "none"]),
        (["--seed", "-4"], ["seed -4"]),
    ],
)
def test_bad_options_exit_2_with_one_line(
    ratings_csv: Path, tmp_path: Path, options: list[str], pieces: list[str]
) -> None:
    out = tmp_path / "never"
    result = runner.invoke(app, split_args(ratings_csv, out, *options))
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    for piece in pieces:
        assert piece in lines[0], (piece, lines[0])
    assert not out.exists()
    assert leftovers(tmp_path) == []


def test_unknown_method_is_a_usage_error(ratings_csv: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, split_args(ratings_csv, tmp_path / "x", "--split", "kfold"))
    assert result.exit_code == 2
    assert "kfold" in result.output
    assert not (tmp_path / "x").exists()


def test_out_is_required(ratings_csv: Path) -> None:
    result = runner.invoke(app, ["split", "--data", str(ratings_csv)])
    assert result.exit_code == 2
    assert "--out" in result.output


def test_help_lists_the_split_options() -> None:
    result = runner.invoke(app, ["split", "--help"])
    assert result.exit_code == 0
    for option in (
        "--split",
        "--test-fraction",
        "--test-count",
        "--cutoff",
        "--seed",
        "--drop-unseen",
        "--out",
        "--force",
        "--json",
    ):
        assert option in result.output


@pytest.mark.realdata
def test_ml_latest_small_2016_random_90_10_matches_sklearn(tmp_path: Path) -> None:
    folder = real_dataset("ml-latest-small-2016")
    out = tmp_path / "ml"
    result = runner.invoke(app, ["split", "--data", str(folder), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["train_rows"], summary["test_rows"]) == (90_003, 10_001)

    ratings = pd.read_csv(folder / "ratings.csv")
    _, test_idx = train_test_split(np.arange(len(ratings)), test_size=0.1, random_state=42)
    test = pd.read_csv(out / "test.csv")
    expected = ratings.iloc[test_idx].reset_index(drop=True)
    np.testing.assert_array_equal(test["user"].to_numpy(), expected["userId"].to_numpy())
    np.testing.assert_array_equal(test["item"].to_numpy(), expected["movieId"].to_numpy())
    np.testing.assert_array_equal(test["rating"].to_numpy(), expected["rating"].to_numpy())
    np.testing.assert_array_equal(test["timestamp"].to_numpy(), expected["timestamp"].to_numpy())


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ("u1,5,inf,1500000000", "rating 'inf' is infinite"),
        ("u1,5,true,1500000000", "rating 'true' is a boolean"),
        ("u1,5,3,1500000000000", "timestamp 1500000000000 is out of range"),
    ],
)
def test_bad_values_exit_2_and_write_nothing(ratings_csv: Path, tmp_path: Path, row: str, needle: str) -> None:
    with open(ratings_csv, "a") as fh:
        fh.write(row + "\n")
    out = tmp_path / "never"
    result = runner.invoke(app, split_args(ratings_csv, out))
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], result.stderr
    assert "Traceback" not in result.output
    assert not out.exists() and leftovers(tmp_path) == []


def test_text_ids_too_large_for_int64_are_written_exactly(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    huge = str(10**30)
    path.write_text(f"user,item,rating\n{huge},1,4\n{huge},2,3\n7,1,5\n7,2,2\n")
    out = tmp_path / "split"
    result = runner.invoke(app, split_args(path, out, "--split", "user", "--test-count", "1"))
    assert result.exit_code == 0, result.output
    written = pd.concat([pd.read_csv(out / name, dtype={"user": str}) for name in ("train.csv", "test.csv")])
    assert sorted(set(written["user"])) == [huge, "7"]

"""``embrec datasets``: list, info and download through the real command app (offline)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embrec.cli.main import app
from embrec.data import datasets

NAMES = ["ml-latest-small", "ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-25m", "ml-32m"]
U_DATA = b"1\t10\t5\t881250949\n2\t10\t3\t881250950\n"

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")  # wide enough that table cells do not wrap
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("EMBREC_DATA_DIR", raising=False)
    monkeypatch.delenv("EMBREC_DOWNLOAD_URL", raising=False)


@pytest.fixture
def file_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local mirror (file:// URL) holding a small fake ml-100k.zip whose checksum the registry expects."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ml-100k/u.data", U_DATA)
    body = buffer.getvalue()
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "ml-100k.zip").write_bytes(body)
    info = datasets.dataset_info("ml-100k")
    patched = dataclasses.replace(info, sha256=hashlib.sha256(body).hexdigest(), md5=None, zip_size=len(body))
    monkeypatch.setitem(datasets._REGISTRY, "ml-100k", patched)
    monkeypatch.setenv("EMBREC_DOWNLOAD_URL", mirror.as_uri())
    return mirror


def test_list_shows_every_dataset() -> None:
    result = runner.invoke(app, ["datasets", "list"])
    assert result.exit_code == 0, result.output
    for name in NAMES:
        assert name in result.stdout
    assert "100,000" in result.stdout


def test_list_json_reports_where_a_dataset_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "env" / "ml-1m").mkdir(parents=True)
    (tmp_path / "env" / "ml-1m" / "ratings.dat").write_text("1::1193::5::978300760\n")
    monkeypatch.setenv("EMBREC_DATA_DIR", str(tmp_path / "env"))

    result = runner.invoke(app, ["datasets", "list", "--json"])

    assert result.exit_code == 0, result.output
    records = {record["name"]: record for record in json.loads(result.stdout)}
    assert list(records) == NAMES
    assert records["ml-1m"]["path"] == str(tmp_path / "env" / "ml-1m")
    assert records["ml-100k"]["path"] is None
    assert records["ml-10m"]["folder"] == "ml-10M100K"


def test_info_describes_one_dataset() -> None:
    result = runner.invoke(app, ["datasets", "info", "ml-100k"])
    assert result.exit_code == 0, result.output
    assert "https://files.grouplens.org/datasets/movielens/ml-100k.zip" in result.stdout
    assert "943" in result.stdout and "u.data" in result.stdout

    as_json = runner.invoke(app, ["datasets", "info", "ML-10M", "--json"])
    assert as_json.exit_code == 0, as_json.output
    record = json.loads(as_json.stdout)
    assert (record["name"], record["md5"], record["sha256"]) == ("ml-10m", "ce571fd55effeba0271552578f2648bd", None)


@pytest.mark.parametrize("command", ["info", "download"])
def test_unknown_name_is_one_line_and_exit_2(command: str) -> None:
    result = runner.invoke(app, ["datasets", command, "ml-5m"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "unknown dataset 'ml-5m'" in lines[0] and "ml-100k" in lines[0]
    assert "Traceback" not in result.output


def test_download_from_a_mirror_then_finds_it(file_mirror: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    result = runner.invoke(app, ["datasets", "download", "ml-100k", "--data-dir", str(data_dir)])

    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == str(data_dir / "ml-100k")
    assert (data_dir / "ml-100k" / "u.data").read_bytes() == U_DATA
    assert sorted(p.name for p in data_dir.iterdir()) == ["ml-100k"]

    (file_mirror / "ml-100k.zip").unlink()  # a second download would now fail
    again = runner.invoke(app, ["datasets", "download", "ml-100k", "--data-dir", str(data_dir)])
    assert again.exit_code == 0, again.output
    assert "already" in again.stderr


def test_download_failure_is_one_line_naming_where_to_put_the_folder(file_mirror: Path, tmp_path: Path) -> None:
    (file_mirror / "ml-100k.zip").unlink()
    data_dir = tmp_path / "data"

    result = runner.invoke(app, ["datasets", "download", "ml-100k", "--data-dir", str(data_dir)])

    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(data_dir / "ml-100k" / "u.data") in lines[0]
    assert not data_dir.exists()


# ---------------------------------------------------------------------------- embrec datasets synthetic
def synthetic_args(out: Path, *extra: str) -> list[str]:
    return ["datasets", "synthetic", "--shape", "ml-100k", "--rows", "20000", "--seed", "3", "--out", str(out), *extra]


def test_synthetic_writes_planted_data_and_its_truth(tmp_path: Path) -> None:
    import embrec

    out = tmp_path / "planted"
    result = runner.invoke(app, synthetic_args(out, "--json"))

    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["out"] == str(out) and record["files"] == ["ratings.parquet", "truth.json", "truth.npz"]
    assert (record["shape"], record["rows"], record["seed"], record["users"]) == ("ml-100k", 20_000, 3, 943)
    assert 0 < record["best_rmse"] < record["noise_floor_rmse"] < 1
    assert 0 < record["ranking"]["relevance"]["ndcg@10"] <= 1
    assert json.loads((out / "truth.json").read_text())["noise_floor_rmse"] == record["noise_floor_rmse"]
    data = embrec.load_data(out / "ratings.parquet")
    assert data.n_ratings == 20_000 and not data.is_implicit


def test_synthetic_says_what_it_wrote_and_how_to_train_on_it(tmp_path: Path) -> None:
    out = tmp_path / "planted"
    result = runner.invoke(app, synthetic_args(out))
    assert result.exit_code == 0, result.output
    assert "planted ml-100k ratings (seed 3" in result.stdout and "20,000 rows" in result.stdout
    assert "noise floor RMSE" in result.stdout and "NDCG@10" in result.stdout
    assert f"embrec train --data {out / 'ratings.parquet'}" in result.stdout

    trained = runner.invoke(
        app, ["train", "--data", str(out / "ratings.parquet"), "--model", "popularity", "--out", str(tmp_path / "run")]
    )
    assert trained.exit_code == 0, trained.output


def test_synthetic_implicit_has_no_rating_column(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "implicit"
    result = runner.invoke(app, synthetic_args(out, "--implicit", "--json"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["implicit"] is True
    assert pq.read_schema(out / "ratings.parquet").names == ["user", "item", "timestamp"]
    assert "ranked by the planted score" not in result.stdout  # JSON only


def test_synthetic_refuses_a_non_empty_out_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "planted"
    out.mkdir()
    (out / "keep.txt").write_text("mine")

    result = runner.invoke(app, synthetic_args(out))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "not empty" in lines[0] and "keep.txt" in lines[0] and "--force" in lines[0]
    assert (out / "keep.txt").exists()

    forced = runner.invoke(app, synthetic_args(out, "--force"))
    assert forced.exit_code == 0, forced.output
    assert not (out / "keep.txt").exists() and (out / "truth.json").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--shape", "ml-10m"], "--shape ml-10m is not allowed; use one of ml-25m, ml-20m, ml-1m, ml-100k"),
        (["--rows", "5"], "--rows 5 is fewer than the 943 users of the ml-100k shape; give --rows 943 or more"),
        (["--rows", "99999999"], "--rows 99999999 is not allowed"),
        (["--rank", "0"], "--rank 0 is not allowed"),
        (["--implicit", "--noise", "0.5"], "--noise 0.5 applies to ratings, and --implicit draws none"),
    ],
)
def test_synthetic_bad_settings_are_one_line(tmp_path: Path, args: list[str], expected: str) -> None:
    out = tmp_path / "never"
    result = runner.invoke(app, ["datasets", "synthetic", "--out", str(out), *args])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.output and not out.exists()


def test_synthetic_cli_default_rank_is_the_librarys() -> None:
    from embrec.cli import datasets_cmd
    from embrec.data import synthetic

    assert datasets_cmd._DEFAULT_RANK == synthetic.DEFAULT_RANK

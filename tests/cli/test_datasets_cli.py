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

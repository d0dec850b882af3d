"""The dataset registry and where datasets are looked for (no downloads here)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from embrec.data.datasets import (
    DEFAULT_BASE_URL,
    dataset_info,
    dataset_url,
    default_cache_dir,
    find_dataset,
    list_datasets,
    locate_dataset,
    search_roots,
)
from embrec.errors import DatasetNotFoundError

#: the real copies, read before the autouse fixture below hides $EMBREC_DATA_DIR from each test
SHARED_DATA = Path(os.environ["EMBREC_DATA_DIR"]) if os.environ.get("EMBREC_DATA_DIR") else None

NAMES = ["ml-latest-small", "ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-25m", "ml-32m"]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("EMBREC_DATA_DIR", raising=False)
    monkeypatch.delenv("EMBREC_DOWNLOAD_URL", raising=False)
    return home


def fake_dataset(root: Path, name: str = "ml-100k") -> Path:
    info = dataset_info(name)
    folder = root / info.folder
    folder.mkdir(parents=True)
    (folder / info.marker).write_text("1\t1\t5\t881250949\n")
    return folder


def test_registry_lists_the_seven_movielens_datasets() -> None:
    assert [info.name for info in list_datasets()] == NAMES
    for info in list_datasets():
        assert info.url == f"{DEFAULT_BASE_URL}/{info.name}.zip"
        assert info.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", info.sha256)
        assert info.md5 is None or re.fullmatch(r"[0-9a-f]{32}", info.md5)
        assert info.sha256 or info.md5 or info.published_md5, f"{info.name} would be unverified"
        lo, hi = info.rating_scale
        assert 0 < lo < hi == 5.0
        assert info.n_ratings > info.n_users > 0
        json.dumps(info.to_dict())


def test_registry_entries_match_the_recorded_values() -> None:
    ml100k = dataset_info("ml-100k")
    assert (ml100k.folder, ml100k.marker, ml100k.zip_size) == ("ml-100k", "u.data", 4_924_029)
    assert ml100k.sha256 == "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"
    assert ml100k.md5 == "0e33842e24a9c977be4e0107933c0723"
    assert (ml100k.n_ratings, ml100k.n_users, ml100k.n_items, ml100k.rating_scale) == (100_000, 943, 1_682, (1.0, 5.0))

    ml10m = dataset_info("ml-10m")
    assert (ml10m.folder, ml10m.marker, ml10m.sha256) == ("ml-10M100K", "ratings.dat", None)
    assert ml10m.md5 == "ce571fd55effeba0271552578f2648bd"

    ml32m = dataset_info("ml-32m")
    assert (ml32m.sha256, ml32m.md5, ml32m.published_md5) == (None, None, True)
    assert dataset_info("ml-1m").marker == "ratings.dat"
    assert dataset_info("ml-latest-small").marker == "ratings.csv"


def test_names_are_case_insensitive_and_the_folder_name_works() -> None:
    assert dataset_info(" ML-100K ").name == "ml-100k"
    assert dataset_info("ml-10M100K").name == "ml-10m"


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(DatasetNotFoundError) as caught:
        dataset_info("ml-5m")
    message = str(caught.value)
    assert "'ml-5m'" in message
    assert all(name in message for name in NAMES)


def test_download_url_parameter_beats_env_beats_grouplens(monkeypatch: pytest.MonkeyPatch) -> None:
    assert dataset_url("ml-1m") == "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
    monkeypatch.setenv("EMBREC_DOWNLOAD_URL", "http://mirror.example/ml/")
    assert dataset_url("ml-1m") == "http://mirror.example/ml/ml-1m.zip"
    assert dataset_url("ml-1m", "http://other.example") == "http://other.example/ml-1m.zip"


def test_cache_dir_follows_xdg_then_home(isolated_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert default_cache_dir() == isolated_env / ".cache" / "embrec"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "embrec"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # not absolute: ignored, as the spec says
    assert default_cache_dir() == isolated_env / ".cache" / "embrec"


def test_resolution_order_is_data_dir_then_env_then_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("EMBREC_DATA_DIR", str(tmp_path / "env"))
    in_dir = fake_dataset(tmp_path / "given")
    in_env = fake_dataset(tmp_path / "env")
    in_cache = fake_dataset(tmp_path / "xdg" / "embrec")

    assert search_roots(tmp_path / "given") == [tmp_path / "given", tmp_path / "env", tmp_path / "xdg" / "embrec"]
    assert find_dataset("ml-100k", tmp_path / "given", download=False) == in_dir
    assert find_dataset("ml-100k", tmp_path / "elsewhere", download=False) == in_env
    (in_env / "u.data").unlink()  # no ratings file: not a complete copy, so it does not count
    assert find_dataset("ml-100k", download=False) == in_cache
    assert find_dataset("ml-100k", str(tmp_path / "given"), download=False) == in_dir


def test_data_dir_may_be_the_dataset_folder_itself(tmp_path: Path) -> None:
    folder = fake_dataset(tmp_path)
    assert find_dataset("ml-100k", folder, download=False) == folder
    assert locate_dataset("ml-100k", folder) == folder


def test_missing_without_download_says_where_to_put_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EMBREC_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(DatasetNotFoundError) as caught:
        find_dataset("ml-1m", tmp_path / "given", download=False)
    message = str(caught.value)
    assert "https://files.grouplens.org/datasets/movielens/ml-1m.zip" in message
    assert str(tmp_path / "given" / "ml-1m" / "ratings.dat") in message
    for searched in ("given", "env", "home/.cache/embrec"):
        assert str(tmp_path / searched / "ml-1m") in message
    assert "download_dataset('ml-1m')" in message
    assert not (tmp_path / "given").exists()


def test_locate_only_in_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EMBREC_DATA_DIR", str(tmp_path / "env"))
    in_env = fake_dataset(tmp_path / "env", "ml-25m")
    assert locate_dataset("ml-25m") == in_env
    assert locate_dataset("ml-25m", tmp_path / "given") == in_env
    assert locate_dataset("ml-25m", tmp_path / "given", search_defaults=False) is None
    assert locate_dataset("ml-20m") is None


def test_importing_creates_no_folders(tmp_path: Path) -> None:
    home = tmp_path / "fresh-home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("XDG_CACHE_HOME", "EMBREC_DATA_DIR")}
    env["HOME"] = str(home)
    code = "import embrec.data.datasets, embrec.data.download, embrec.cli.datasets_cmd"
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=tmp_path)
    assert list(home.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh-home"]


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["ml-100k", "ml-latest-small"])
def test_the_shared_real_copies_are_found_in_place(name: str) -> None:
    if SHARED_DATA is None or not (SHARED_DATA / name).is_dir():
        pytest.skip(f"real dataset {name!r} not found under EMBREC_DATA_DIR (set EMBREC_DATA_DIR=../shared/data)")
    shared_data = SHARED_DATA
    folder = find_dataset(name, shared_data, download=False)
    assert folder == shared_data / name
    assert (folder / dataset_info(name).marker).stat().st_size > 1_000_000

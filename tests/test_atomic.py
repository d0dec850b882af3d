"""The one atomic writer: whole files and folders, or nothing, and an old folder never lost."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from embrec import atomic
from embrec.data.interactions import Interactions
from embrec.errors import EmbrecError


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_text_and_bytes_land_whole_with_ordinary_permissions(tmp_path: Path) -> None:
    text = atomic.write_text(tmp_path / "a" / "b.txt", "héllo\r\n")
    data = atomic.write_bytes(tmp_path / "c.bin", b"\x00\x01")
    assert text.read_bytes() == "héllo\r\n".encode() and data.read_bytes() == b"\x00\x01"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(text.stat().st_mode) == 0o666 & ~umask
    assert _leftovers(tmp_path) == []


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = atomic.write_text(tmp_path / "f.txt", "old")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic.write_with(target, broken)
    assert target.read_text() == "old" and _leftovers(tmp_path) == []


def test_a_folder_or_an_unwritable_place_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(EmbrecError, match="it is a folder"):
        atomic.write_text(tmp_path, "x")
    with pytest.raises(EmbrecError, match="cannot write '/proc/embrec-test/x.txt'"):
        atomic.write_text("/proc/embrec-test/x.txt", "x")


def test_a_folder_replaces_the_old_one_only_when_complete(tmp_path: Path) -> None:
    target = tmp_path / "run"
    with atomic.folder(target) as staging:
        (staging / "a.txt").write_text("1")
    with pytest.raises(RuntimeError), atomic.folder(target, replace=True) as staging:
        (staging / "a.txt").write_text("2")
        raise RuntimeError("interrupted")
    assert (target / "a.txt").read_text() == "1" and _leftovers(tmp_path) == []
    with atomic.folder(target, replace=True) as staging:
        (staging / "b.txt").write_text("3")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"] and _leftovers(tmp_path) == []


def test_a_full_folder_is_not_replaced_unless_asked(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(EmbrecError, match="not empty"), atomic.folder(tmp_path / "out"):
        pass
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_the_old_folder_comes_back_when_the_second_rename_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target, new = tmp_path / "data", tmp_path / "new"
    target.mkdir()
    (target / "old.txt").write_text("old")
    new.mkdir()
    real = os.replace
    calls = []

    def failing(src: object, dst: object) -> None:
        calls.append((src, dst))
        if Path(str(src)) == new:
            raise OSError(28, "No space left on device")
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)  # a system without a one-step swap
    monkeypatch.setattr(atomic.os, "replace", failing)
    with pytest.raises(OSError):
        atomic.replace_folder(new, target)
    assert (target / "old.txt").read_text() == "old"
    assert _leftovers(tmp_path) == [] and len(calls) == 3  # aside, the failed swap, back


def _two_folders(tmp_path: Path) -> tuple[Path, Path]:
    target, new = tmp_path / "run", tmp_path / "new"
    for folder, text in ((target, "old"), (new, "new")):
        folder.mkdir()
        (folder / "a.txt").write_text(text)
    return target, new


def test_an_existing_folder_is_swapped_in_one_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target, new = _two_folders(tmp_path)
    if not atomic._exchange(new, target):
        pytest.skip("this system or file system cannot swap two folders in one step")
    atomic._exchange(new, target)  # swap back
    monkeypatch.setattr(atomic.os, "replace", lambda *a: pytest.fail("renamed in two steps"))
    atomic.replace_folder(new, target)
    assert (target / "a.txt").read_text() == "new" and not new.exists() and _leftovers(tmp_path) == []


KILLED_BETWEEN_THE_RENAMES = """
import os, sys
from pathlib import Path
from embrec import atomic
from embrec.data.interactions import Interactions
atomic._exchange = lambda a, b: False  # a system without a one-step swap
real, calls = os.replace, []
def replace(src, dst):
    calls.append(src)
    if len(calls) == 2:
        os._exit(9)  # kill -9 after the old folder went aside, before the new one came in
    real(src, dst)
atomic.os.replace = replace
atomic.replace_folder(Path(sys.argv[1]), Path(sys.argv[2]))
"""


def test_a_folder_stranded_by_a_kill_between_the_renames_comes_back(tmp_path: Path) -> None:
    target, new = _two_folders(tmp_path)
    done = subprocess.run([sys.executable, "-c", KILLED_BETWEEN_THE_RENAMES, str(new), str(target)], check=False)
    assert done.returncode == 9 and not target.exists()  # the crash this guards against
    assert [p.name.split("-")[0] for p in tmp_path.iterdir() if p.name.startswith(".")] == [".run.old"]
    atomic.recover(target)
    assert (target / "a.txt").read_text() == "old" and _leftovers(tmp_path) == []


def test_opening_a_stranded_run_or_split_recovers_it(tmp_path: Path, tiny: Interactions) -> None:
    from embrec.data.split_files import load_split, write_split
    from embrec.data.splits import make_split
    from embrec.models.io import read_run_info
    from embrec.models.registry import create

    tiny_split = make_split(tiny)
    run, split = tmp_path / "run", tmp_path / "split"
    create("popularity").fit(tiny_split.train).save(run)
    write_split(tiny_split, split)
    for folder in (run, split):
        copy = tmp_path / f"copy-{folder.name}"
        shutil.copytree(folder, copy)
        done = subprocess.run([sys.executable, "-c", KILLED_BETWEEN_THE_RENAMES, str(copy), str(folder)], check=False)
        assert done.returncode == 9 and not folder.exists()
    assert read_run_info(run)["model"] == "popularity"
    assert load_split(split).train.n_ratings == tiny_split.train.n_ratings
    assert _leftovers(tmp_path) == []  # the copies the killed writers were renaming stay, as they would


def test_a_live_writer_s_staging_folder_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "run"
    mine = tmp_path / f".run.tmp-{os.getpid()}-abc"
    mine.mkdir()
    dead = tmp_path / ".run.tmp-999999999-abc"  # beyond any pid
    dead.mkdir()
    atomic.recover(target)
    assert mine.is_dir() and not dead.exists()

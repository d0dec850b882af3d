"""The one atomic writer: whole files and folders, or nothing, and an old folder never lost."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from embrec import atomic
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

    monkeypatch.setattr(atomic.os, "replace", failing)
    with pytest.raises(OSError):
        atomic.replace_folder(new, target)
    assert (target / "old.txt").read_text() == "old"
    assert _leftovers(tmp_path) == [] and len(calls) == 3  # aside, the failed swap, back

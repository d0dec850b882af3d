"""Atomic writes: write a temporary file beside the target, then rename it into place."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from embrec.errors import EmbrecError

__all__ = ["write_csv_atomic", "write_text_atomic"]


def _temp_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    # mkstemp makes the file 0600; give it the permissions a plain open() would (umask applied)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)
    return Path(name)


def write_text_atomic(path: str | Path, text: str) -> Path:
    path = Path(path)
    if path.is_dir():
        raise EmbrecError(f"cannot write {path}: it is a folder; give a file name.")
    tmp = _temp_beside(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_csv_atomic(frame: pd.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        raise EmbrecError(f"cannot write {path}: it is a folder; give a file name.")
    tmp = _temp_beside(path)
    try:
        frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path

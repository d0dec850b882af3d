"""The one atomic writer: files and folders appear whole or not at all.

Everything embrec writes goes through here. A file is written to a temporary name beside its
target and renamed into place; a folder is filled beside its target and renamed into place.
Either way a failure (or Ctrl-C) leaves nothing behind, an existing target untouched, and the
result gets the permissions a plain ``open()``/``mkdir()`` would give under the user's umask.

* :func:`write_text`, :func:`write_bytes`: a file from text or bytes.
* :func:`write_with`: a file written by a callback given the temporary path (``fig.savefig``,
  ``frame.to_csv``, ``np.savez``...).
* :func:`folder`: a context manager yielding a staging folder that replaces the target on success.
* :func:`replace_folder`: rename a finished folder into place, putting the old one back if that fails.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from embrec.errors import EmbrecError

__all__ = ["folder", "replace_folder", "write_bytes", "write_text", "write_with"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _cannot(path: Path, exc: OSError) -> EmbrecError:
    return EmbrecError(f"cannot write {str(path)!r}: {exc.strerror or exc}; nothing was written.")


def write_with(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Write the file ``path`` by calling ``write(temporary_path)``, then renaming it into place.

    Raises:
        EmbrecError: ``path`` is a folder, or its folder cannot be created or written.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise EmbrecError(f"cannot write {str(path)!r}: it is a folder; give a file path.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _cannot(path, exc) from None
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _cannot(path, exc) from None
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)

    return write_with(path, write)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return write_with(path, lambda tmp: tmp.write_bytes(data))


@contextmanager
def folder(path: str | Path, *, replace: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder beside ``path``; on success it becomes ``path``.

    An existing ``path`` is replaced only when ``replace`` is true (else :class:`EmbrecError`
    before anything is written); it stays whole until the new folder is complete.
    """
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise EmbrecError(f"cannot write the folder {str(path)!r}: it is a file; give a folder path.")
    if path.is_dir() and any(path.iterdir()) and not replace:
        raise EmbrecError(f"cannot write the folder {str(path)!r}: it exists and is not empty.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    except OSError as exc:
        raise _cannot(path, exc) from None
    os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes it 0700; this is an ordinary folder
    try:
        yield staging
        replace_folder(staging, path)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, EmbrecError):
            raise _cannot(path, exc) from None
        raise


def replace_folder(new: Path, target: Path) -> None:
    """Rename the finished folder ``new`` to ``target``, beside it on the same file system.

    An existing ``target`` is first moved aside; if the second rename fails it is put back, so
    ``target`` is at every moment either the old folder or the new one.
    """
    if not target.exists():
        os.replace(new, target)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    old = aside / target.name
    try:
        os.replace(target, old)
        try:
            os.replace(new, target)
        except BaseException:
            os.replace(old, target)
            raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)

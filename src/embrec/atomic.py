"""The one atomic writer: files and folders appear whole or not at all.

Everything embrec writes goes through here. A file is written to a temporary name beside its
target and renamed into place; a folder is filled beside its target and renamed into place.
Either way a failure (or Ctrl-C) leaves nothing behind, an existing target untouched, and the
result gets the permissions a plain ``open()``/``mkdir()`` would give under the user's umask.

* :func:`write_text`, :func:`write_bytes`: a file from text or bytes.
* :func:`write_with`: a file written by a callback given the temporary path (``fig.savefig``,
  ``frame.to_csv``, ``np.savez``...).
* :func:`folder`: a context manager yielding a staging folder that replaces the target on success.
* :func:`replace_folder`: rename a finished folder into place, swapping it with the old one in one step.
* :func:`recover`: put back what a writer killed mid-way left beside a folder.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from embrec.errors import EmbrecError

__all__ = ["folder", "recover", "replace_folder", "write_bytes", "write_text", "write_with"]


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
    recover(path)
    if path.exists() and not path.is_dir():
        raise EmbrecError(f"cannot write the folder {str(path)!r}: it is a file; give a folder path.")
    if path.is_dir() and any(path.iterdir()) and not replace:
        raise EmbrecError(f"cannot write the folder {str(path)!r}: it exists and is not empty.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent))
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


def _exchange(a: Path, b: Path) -> bool:
    """Swap the paths ``a`` and ``b`` in one step (Linux ``renameat2(RENAME_EXCHANGE)``).

    False where the system or file system cannot (then nothing happened).
    """
    renameat2 = getattr(_libc(), "renameat2", None) if sys.platform.startswith("linux") else None
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _left_by_dead_writer(entry: Path, prefix: str) -> bool:
    pid = entry.name[len(prefix) :].split("-", 1)[0]
    return pid.isdigit() and not _alive(int(pid))


def recover(target: str | Path) -> None:
    """Undo what a writer killed mid-way (``kill -9``, power loss) left beside ``target``.

    Where the system cannot swap two folders in one step, :func:`replace_folder` moves the old
    folder aside before renaming the new one into place; killed between the two, it leaves
    ``target`` missing and the old copy in ``.NAME.old-PID-*``. This puts that copy back, and
    removes staging and aside folders whose writer process is gone. Called before every folder
    write and when a run or split folder is opened.
    """
    target = Path(target).expanduser()
    parent = target.parent
    if not parent.is_dir():
        return
    old_prefix, tmp_prefix = f".{target.name}.old-", f".{target.name}.tmp-"
    try:
        entries = sorted(parent.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(old_prefix) and _left_by_dead_writer(entry, old_prefix):
            kept = entry / target.name
            if kept.is_dir() and not target.exists():
                try:
                    os.replace(kept, target)
                except OSError:
                    continue
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(tmp_prefix) and _left_by_dead_writer(entry, tmp_prefix):
            shutil.rmtree(entry, ignore_errors=True)


def replace_folder(new: Path, target: Path) -> None:
    """Rename the finished folder ``new`` to ``target``, beside it on the same file system.

    An existing ``target`` is swapped with ``new`` in one step where the system can (Linux), so
    ``target`` is at every moment the old folder or the new one, even under ``kill -9``; the old
    one is then removed. Elsewhere the old folder is first moved aside (and put back if the
    second rename fails; :func:`recover` puts it back after a crash between the two).
    """
    recover(target)
    if not target.exists():
        os.replace(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # ``new`` now names the old folder
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-{os.getpid()}-", dir=target.parent))
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

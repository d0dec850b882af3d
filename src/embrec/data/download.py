"""Fetch a zip over HTTP(S), check its checksum, and unpack one folder of it atomically.

Nothing here knows about MovieLens: :mod:`embrec.data.datasets` says what to fetch and where.
Every step works on temporary names inside the target folder and only the final
:func:`os.replace` makes the result visible, so a bad checksum, a dropped connection, a corrupt
zip or Ctrl-C leaves no partial zip and no partial folder behind.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import urllib.response
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from embrec.atomic import replace_folder
from embrec.data.quoting import quoted
from embrec.errors import ChecksumError, DownloadError

__all__ = [
    "ProgressCallback",
    "Digests",
    "fetch_to_temp",
    "fetch_text",
    "parse_md5_file",
    "verify_digests",
    "extract_folder",
    "download_and_extract",
]

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int | None], None]
"""Called as ``progress(bytes_done, bytes_total)``; ``bytes_total`` is ``None`` when unknown."""

TEMP_PREFIX = ".embrec-tmp-"
CHUNK_SIZE = 1 << 20
TIMEOUT_S = 60.0
USER_AGENT = "embrec (python urllib)"
_ALLOWED_SCHEMES = ("http", "https", "file")


@dataclass(frozen=True)
class Digests:
    """Hex digests and size of a fetched file."""

    sha256: str
    md5: str
    size: int


def _open(url: str, timeout: float) -> http.client.HTTPResponse | urllib.response.addinfourl:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in _ALLOWED_SCHEMES:
        raise DownloadError(f"cannot download {url!r}: scheme {scheme!r} is not one of {', '.join(_ALLOWED_SCHEMES)}")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise DownloadError(f"{url} answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DownloadError(f"cannot reach {url} ({exc.reason})") from None
    except (OSError, http.client.HTTPException) as exc:
        raise DownloadError(f"cannot reach {url} ({exc})") from None


def fetch_text(url: str, *, timeout: float = TIMEOUT_S, max_bytes: int = 64 * 1024) -> str:
    """Fetch a small text resource (such as a published ``.md5`` file).

    Raises:
        DownloadError: the server cannot be reached, answers an error, or the text is too large.
    """
    with _open(url, timeout) as response:
        try:
            data = response.read(max_bytes + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise DownloadError(f"reading {url} failed ({exc})") from None
    if len(data) > max_bytes:
        raise DownloadError(f"{url} is larger than {max_bytes} bytes; it is not a checksum file.")
    return data.decode("utf-8", errors="replace")


def parse_md5_file(text: str, *, source: str) -> str:
    """The one md5 hex digest in a ``.md5`` file (GNU ``HASH  NAME`` or BSD ``MD5 (NAME) = HASH``).

    Raises:
        DownloadError: the text holds no md5 digest, or several different ones.
    """
    found = {m.lower() for m in re.findall(r"\b[0-9a-fA-F]{32}\b", text)}
    if len(found) != 1:
        raise DownloadError(
            f"{source} does not hold exactly one md5 digest (found {len(found)}): {quoted(text.strip(), 100)}"
        )
    return found.pop()


def fetch_to_temp(
    url: str,
    directory: Path,
    *,
    expected_size: int | None = None,
    progress: ProgressCallback | None = None,
    timeout: float = TIMEOUT_S,
) -> tuple[Path, Digests]:
    """Stream ``url`` into a new temporary file inside ``directory``, hashing as it goes.

    The temporary file is removed again if anything fails, Ctrl-C included. On success the
    caller owns it and must remove it.

    Args:
        url: what to fetch (http, https or file).
        directory: an existing folder; the temporary file is created here so that a later
            rename stays on one file system.
        expected_size: the size to report as the total when the server sends no Content-Length.
        progress: called with ``(bytes_done, bytes_total)`` after every chunk.
        timeout: seconds to wait on each network operation.

    Returns:
        The temporary file and the digests of its bytes.

    Raises:
        DownloadError: the server cannot be reached, answers an error, or the connection ends early.
    """
    fd, name = tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX, suffix=".zip.part")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, _open(url, timeout) as response:
            length_header = response.headers.get("Content-Length")
            length = int(length_header) if length_header and length_header.isdigit() else None
            digests = _copy_hashing(response, out, url, length if length is not None else expected_size, progress)
        # http.client returns b"" rather than raising when a server closes before Content-Length
        if length is not None and digests.size != length:
            raise DownloadError(f"the connection to {url} ended after {digests.size:,} of {length:,} bytes")
        return path, digests
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _copy_hashing(
    response: http.client.HTTPResponse | urllib.response.addinfourl,
    out: BinaryIO,
    url: str,
    total: int | None,
    progress: ProgressCallback | None,
) -> Digests:
    """Copy the response into ``out`` chunk by chunk, hashing and reporting progress as it goes."""
    sha256 = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    done = 0
    if progress is not None:
        progress(0, total)
    while True:
        try:
            chunk = response.read(CHUNK_SIZE)
        except (OSError, http.client.HTTPException) as exc:
            raise DownloadError(f"the connection to {url} failed after {done:,} bytes ({exc})") from None
        if not chunk:
            return Digests(sha256=sha256.hexdigest(), md5=md5.hexdigest(), size=done)
        out.write(chunk)
        sha256.update(chunk)
        md5.update(chunk)
        done += len(chunk)
        if progress is not None:
            progress(done, total)


def verify_digests(
    digests: Digests,
    *,
    label: str,
    sha256: str | None = None,
    md5: str | None = None,
) -> None:
    """Check every known digest; the first mismatch raises.

    Raises:
        ChecksumError: a digest differs from the expected one.
    """
    for kind, expected, actual in (("sha256", sha256, digests.sha256), ("md5", md5, digests.md5)):
        if expected is not None and expected.lower() != actual:
            raise ChecksumError(
                f"{label} ({digests.size:,} bytes) has {kind} {actual}, expected {expected}: "
                "the download was damaged or the file changed on the server; it was not kept"
            )


def _member_path(info: zipfile.ZipInfo, *, label: str) -> PurePosixPath:
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise DownloadError(f"{label} holds an unsafe member path {info.filename!r}; refusing to unpack it")
    return path


def extract_folder(zip_path: Path, folder: str, target_root: Path, *, marker: str, label: str) -> Path:
    """Unpack ``folder/`` of a zip into a temporary folder inside ``target_root``.

    Members outside ``folder/`` (such as ``__MACOSX/``) are skipped. The caller moves the
    returned folder into place and removes its parent.

    Returns:
        ``<temporary folder>/<folder>``, which holds ``marker``.

    Raises:
        DownloadError: the zip is corrupt, holds unsafe paths, or lacks ``folder/marker``.
    """
    staging = Path(tempfile.mkdtemp(dir=target_root, prefix=TEMP_PREFIX))
    try:
        try:
            with zipfile.ZipFile(zip_path) as archive:
                for info in archive.infolist():
                    member = _member_path(info, label=label)
                    if not member.parts or member.parts[0] != folder:
                        log.debug("skipping %s in %s: outside %s/", info.filename, label, folder)
                        continue
                    destination = staging.joinpath(*member.parts)
                    if info.is_dir():
                        destination.mkdir(parents=True, exist_ok=True)
                        continue
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(info) as source, open(destination, "wb") as out:
                        shutil.copyfileobj(source, out, CHUNK_SIZE)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
            raise DownloadError(f"{label} is not a readable zip ({exc}); it was not kept") from None
        extracted = staging / folder
        if not (extracted / marker).is_file():
            raise DownloadError(f"{label} has no {folder}/{marker}; it is not the expected archive and was not kept")
        return extracted
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _move_into_place(extracted: Path, target: Path, *, marker: str) -> None:
    """Rename ``extracted`` to ``target``, swapping out an older ``target`` if there is one."""
    if not target.exists():
        try:
            os.replace(extracted, target)
            return
        except OSError:
            # Another process may have finished the same download a moment earlier.
            if (target / marker).is_file():
                log.info("%s appeared while unpacking; keeping it", target)
                return
            raise
    replace_folder(extracted, target)


def download_and_extract(
    url: str,
    target_root: Path,
    folder: str,
    *,
    marker: str,
    label: str,
    sha256: str | None = None,
    md5: str | None = None,
    expected_size: int | None = None,
    progress: ProgressCallback | None = None,
    timeout: float = TIMEOUT_S,
) -> Path:
    """Download a zip, check it, and unpack its ``folder/`` to ``target_root/folder`` atomically.

    An existing ``target_root/folder`` is replaced only once the new one is complete.

    Args:
        url: the zip to fetch.
        target_root: where the unpacked folder goes; created if missing (and removed again if
            it was created here and the download fails).
        folder: the top folder inside the zip, and the name it gets under ``target_root``.
        marker: a file inside ``folder`` that every complete copy has.
        label: how messages name the zip.
        sha256, md5: expected digests; each given one is checked.
        expected_size: size to show as the total when the server sends no Content-Length.
        progress: called with ``(bytes_done, bytes_total)`` while downloading.
        timeout: seconds to wait on each network operation.

    Returns:
        ``target_root / folder``.

    Raises:
        DownloadError: fetching or unpacking failed. ChecksumError: a digest differs.
    """
    created = [p for p in (target_root, *target_root.parents) if not p.exists()]
    try:
        target_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create {target_root} ({exc.strerror or exc})") from None
    try:
        log.info("downloading %s to %s", url, target_root)
        zip_path, digests = fetch_to_temp(
            url, target_root, expected_size=expected_size, progress=progress, timeout=timeout
        )
        try:
            verify_digests(digests, label=label, sha256=sha256, md5=md5)
            extracted = extract_folder(zip_path, folder, target_root, marker=marker, label=label)
            try:
                _move_into_place(extracted, target_root / folder, marker=marker)
            finally:
                shutil.rmtree(extracted.parent, ignore_errors=True)
        finally:
            zip_path.unlink(missing_ok=True)
    except BaseException as exc:
        # Leave no empty folders of our own making behind either (innermost first).
        for path in created:
            try:
                path.rmdir()
            except OSError:
                break
        if isinstance(exc, OSError):  # disk full, permissions: still one clear message
            raise DownloadError(f"writing {label} under {target_root} failed ({exc}); nothing was kept") from exc
        raise
    log.info("unpacked %s to %s", label, target_root / folder)
    return target_root / folder

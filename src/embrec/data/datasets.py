"""The built-in MovieLens datasets: where they live on disk, and how to get them.

What they are (URL, folder, files, checksums, counts) is recorded in :mod:`embrec.data.registry`;
its names are re-exported here.

A dataset is looked for as the folder its official zip extracts to (``ml-100k/``,
``ml-10M100K/``, ...) inside, in this order: the ``data_dir`` you pass, ``$EMBREC_DATA_DIR``,
and the user cache (``$XDG_CACHE_HOME/embrec`` or ``~/.cache/embrec``). A folder counts only
when it holds the dataset's ratings file. When none is found it is downloaded from GroupLens
(or the mirror in ``$EMBREC_DOWNLOAD_URL``) into ``data_dir`` if given, else the cache,
checked against its recorded checksum, and unpacked atomically (see :mod:`embrec.data.download`).

Example:
    >>> from embrec.data.datasets import find_dataset
    >>> folder = find_dataset("ml-100k")  # doctest: +SKIP
    >>> (folder / "u.data").exists()  # doctest: +SKIP
    True
"""

from __future__ import annotations

import difflib
import logging
import os
from pathlib import Path

from embrec.data.download import ProgressCallback, download_and_extract, fetch_text, parse_md5_file
from embrec.data.quoting import quoted
from embrec.data.registry import BUILT_IN, DEFAULT_BASE_URL, DatasetInfo
from embrec.errors import ChecksumError, DatasetNotFoundError, DownloadError

__all__ = [
    "DATA_DIR_ENV",
    "DOWNLOAD_URL_ENV",
    "DEFAULT_BASE_URL",
    "DatasetInfo",
    "ProgressCallback",
    "dataset_info",
    "dataset_url",
    "default_cache_dir",
    "download_dataset",
    "find_dataset",
    "list_datasets",
    "locate_dataset",
    "search_roots",
]

log = logging.getLogger(__name__)

DATA_DIR_ENV = "EMBREC_DATA_DIR"
DOWNLOAD_URL_ENV = "EMBREC_DOWNLOAD_URL"

_REGISTRY = BUILT_IN  # name -> DatasetInfo; tests patch entries in place
_ALIASES = {info.folder.lower(): info.name for info in _REGISTRY.values()}


def list_datasets() -> list[DatasetInfo]:
    """Every built-in dataset, smallest first."""
    return list(_REGISTRY.values())


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry of one dataset (case-insensitive; the folder name works too).

    Raises:
        DatasetNotFoundError: ``name`` is not a built-in dataset; the message lists those that are.
    """
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key in _REGISTRY:
        return _REGISTRY[key]
    close = difflib.get_close_matches(key, list(_REGISTRY), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise DatasetNotFoundError(
        f"unknown dataset {quoted(name, 80)}; the built-in datasets are {', '.join(_REGISTRY)}.{hint} "
        "For your own ratings file, give its path instead of a dataset name."
    )


def dataset_url(name: str, base_url: str | None = None) -> str:
    """Where to download a dataset's zip: ``base_url``, else ``$EMBREC_DOWNLOAD_URL``, else GroupLens."""
    info = dataset_info(name)
    base = base_url or os.environ.get(DOWNLOAD_URL_ENV) or None
    if base is None:
        return info.url
    return f"{base.rstrip('/')}/{info.name}.zip"


def default_cache_dir() -> Path:
    """The user cache folder for datasets (not created here)."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():  # the XDG spec says to ignore relative paths
        return Path(xdg) / "embrec"
    local = os.environ.get("LOCALAPPDATA")
    if os.name == "nt" and local:
        return Path(local) / "embrec" / "Cache"
    return Path.home() / ".cache" / "embrec"


def search_roots(data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders searched for datasets, in order: ``data_dir``, ``$EMBREC_DATA_DIR``, the user cache."""
    candidates: list[Path] = []
    if data_dir is not None:
        candidates.append(Path(data_dir).expanduser())
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        candidates.append(Path(env).expanduser())
    candidates.append(default_cache_dir())
    roots: list[Path] = []
    seen: set[str] = set()
    for path in candidates:
        key = os.path.abspath(path)
        if key not in seen:
            seen.add(key)
            roots.append(path)
    return roots


def _complete(folder: Path, info: DatasetInfo) -> bool:
    return (folder / info.marker).is_file()


def _first_present(info: DatasetInfo, roots: list[Path]) -> Path | None:
    for root in roots:
        # A root that is itself the dataset folder is taken as it is.
        for folder in (root / info.folder, root) if root.name == info.folder else (root / info.folder,):
            if _complete(folder, info):
                return folder
    return None


def locate_dataset(
    name: str, data_dir: str | os.PathLike[str] | None = None, *, search_defaults: bool = True
) -> Path | None:
    """The dataset's folder if it is on disk, else ``None``; never downloads.

    Args:
        name: a built-in dataset.
        data_dir: a folder to look in first.
        search_defaults: also look in ``$EMBREC_DATA_DIR`` and the user cache. With
            ``False``, only ``data_dir`` is searched.
    """
    info = dataset_info(name)
    if search_defaults or data_dir is None:
        roots = search_roots(data_dir)
    else:
        roots = [Path(data_dir).expanduser()]
    return _first_present(info, roots)


def _download_root(data_dir: str | os.PathLike[str] | None) -> Path:
    """Where a download goes: ``data_dir`` when given, else the user cache."""
    return Path(data_dir).expanduser() if data_dir is not None else default_cache_dir()


def _manual_hint(info: DatasetInfo, url: str, target_root: Path, searched: list[Path]) -> str:
    where = ", ".join(str(root / info.folder) for root in searched)
    return (
        f"To install it by hand, fetch {url} and unzip it into {target_root} so that "
        f"{target_root / info.folder / info.marker} exists (folders searched: {where})."
    )


def _install(
    info: DatasetInfo,
    target_root: Path,
    *,
    searched: list[Path],
    base_url: str | None,
    progress: ProgressCallback | None,
    force: bool,
) -> Path:
    url = dataset_url(info.name, base_url)
    hint = _manual_hint(info, url, target_root, searched)
    target = target_root / info.folder
    if not force and (target.exists() or target.is_symlink()):
        raise DatasetNotFoundError(
            f"{target} exists but has no {info.marker}, so it is incomplete or holds something else. "
            f"Remove it, or replace it with download_dataset({info.name!r}, force=True)."
        )
    try:
        md5 = info.md5
        if info.published_md5:
            md5_url = f"{url}.md5"
            md5 = parse_md5_file(fetch_text(md5_url), source=md5_url)
        return download_and_extract(
            url,
            target_root,
            info.folder,
            marker=info.marker,
            label=f"{info.name}.zip from {url}",
            sha256=info.sha256,
            md5=md5,
            expected_size=info.zip_size,
            progress=progress,
        )
    except ChecksumError as exc:
        raise ChecksumError(f"{exc}. {hint}") from None
    except DownloadError as exc:
        raise DownloadError(f"could not download {info.name}: {exc}. Nothing was written. {hint}") from None


def find_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    progress: ProgressCallback | None = None,
    base_url: str | None = None,
) -> Path:
    """The folder of a built-in dataset, downloaded first if it is nowhere on disk.

    Args:
        name: a built-in dataset, such as ``"ml-100k"`` (see :func:`list_datasets`).
        data_dir: a folder holding the extracted dataset folder; searched first, and where a
            download goes (else the user cache).
        download: fetch the dataset when it is missing; with ``False`` a missing dataset is an error.
        progress: called as ``progress(bytes_done, bytes_total)`` while downloading.
        base_url: a mirror to download from instead of ``$EMBREC_DOWNLOAD_URL`` or GroupLens.

    Returns:
        The extracted folder, such as ``~/.cache/embrec/ml-100k``.

    Raises:
        DatasetNotFoundError: unknown name, or missing with ``download=False``.
        DownloadError: the download failed (offline, HTTP error, dropped connection, bad zip);
            the message says where to put a hand-downloaded copy. Nothing half-made is left.
        ChecksumError: the download does not match the recorded checksum.
    """
    info = dataset_info(name)
    roots = search_roots(data_dir)
    found = _first_present(info, roots)
    if found is not None:
        return found
    target_root = _download_root(data_dir)
    if not download:
        url = dataset_url(info.name, base_url)
        raise DatasetNotFoundError(
            f"dataset {info.name!r} is not on disk. Download it with download_dataset({info.name!r}) "
            f"(or download=True). {_manual_hint(info, url, target_root, roots)}"
        )
    return _install(info, target_root, searched=roots, base_url=base_url, progress=progress, force=False)


def download_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    progress: ProgressCallback | None = None,
    base_url: str | None = None,
) -> Path:
    """Download a built-in dataset unless it is already there; return its folder.

    Args:
        name: a built-in dataset.
        data_dir: where to put it (else the user cache). When given, only this folder counts
            as "already there"; without it, every searched folder does.
        force: download again and replace the existing folder (only once the new one is complete).
        progress: called as ``progress(bytes_done, bytes_total)`` while downloading.
        base_url: a mirror to download from instead of ``$EMBREC_DOWNLOAD_URL`` or GroupLens.

    Raises:
        DatasetNotFoundError, DownloadError, ChecksumError: as for :func:`find_dataset`.
    """
    info = dataset_info(name)
    roots = [Path(data_dir).expanduser()] if data_dir is not None else search_roots()
    if not force:
        found = _first_present(info, roots)
        if found is not None:
            log.info("%s is already at %s", info.name, found)
            return found
    return _install(info, _download_root(data_dir), searched=roots, base_url=base_url, progress=progress, force=force)

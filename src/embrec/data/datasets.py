"""The built-in MovieLens datasets: what they are, where they live on disk, and how to get them.

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

import dataclasses
import difflib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embrec.data.download import ProgressCallback, download_and_extract, fetch_text, parse_md5_file
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
DEFAULT_BASE_URL = "https://files.grouplens.org/datasets/movielens"

_GROUPLENS_LICENSE = (
    "GroupLens usage license: research use only, no commercial use, no redistribution without "
    "permission; cite Harper & Konstan 2015 (ACM TiiS 5(4)). See the README in the folder."
)


@dataclass(frozen=True)
class DatasetInfo:
    """One built-in dataset: where it comes from, how to check it, and what is in it.

    Attributes:
        name: the name to ask for (``"ml-100k"``).
        url: the official zip.
        folder: the folder the zip extracts to (``"ml-10M100K"`` for ml-10m).
        ratings_file: the ratings file inside ``folder``; its presence marks a complete copy.
        ratings_sep: field delimiter of ``ratings_file``.
        ratings_header: whether ``ratings_file`` starts with a header row.
        items_file: the movie metadata file inside ``folder``.
        rating_scale: lowest and highest possible rating.
        n_ratings, n_users: rows and distinct users of ``ratings_file``.
        n_items: distinct movies in ``ratings_file``; ``None`` where no count was recorded.
        n_movies: movies in ``items_file`` (some never rated).
        zip_size: size of the zip in bytes, where recorded.
        sha256, md5: checksums of the zip, where recorded; every one given is checked.
        published_md5: check the zip against GroupLens's ``<url>.md5``, fetched alongside it
            (only where no checksum was recorded independently).
        description: one line on what the dataset is.
        license: the usage terms in brief.
    """

    name: str
    url: str
    folder: str
    ratings_file: str
    ratings_sep: str
    ratings_header: bool
    items_file: str
    rating_scale: tuple[float, float]
    n_ratings: int
    n_users: int
    n_items: int | None
    n_movies: int
    zip_size: int | None
    sha256: str | None
    md5: str | None
    published_md5: bool
    description: str
    license: str = _GROUPLENS_LICENSE

    @property
    def marker(self) -> str:
        """The file whose presence marks a complete folder (the ratings file)."""
        return self.ratings_file

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON-ready values."""
        out = dataclasses.asdict(self)
        out["rating_scale"] = list(self.rating_scale)
        return out


def _movielens(name: str, *, folder: str | None = None, **fields: Any) -> DatasetInfo:
    return DatasetInfo(name=name, url=f"{DEFAULT_BASE_URL}/{name}.zip", folder=folder or name, **fields)


_CSV = {"ratings_file": "ratings.csv", "ratings_sep": ",", "ratings_header": True, "items_file": "movies.csv"}
_DAT = {"ratings_file": "ratings.dat", "ratings_sep": "::", "ratings_header": False, "items_file": "movies.dat"}
_HALF_STARS = (0.5, 5.0)
_WHOLE_STARS = (1.0, 5.0)

# Sizes and sha256 as recorded by tensorflow/datasets (url_checksums/movielens.txt); md5 as
# published by GroupLens. See shared/data/README.md for the sources.
_REGISTRY: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        _movielens(
            "ml-latest-small",
            **_CSV,
            rating_scale=_HALF_STARS,
            n_ratings=100_836,
            n_users=610,
            n_items=9_724,
            n_movies=9_742,
            zip_size=978_202,
            sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
            # The .md5 changes with every edition GroupLens generates; the sha256 pins the 2018 one.
            md5=None,
            published_md5=False,
            description="Small development sample of the latest MovieLens (2018 edition); may change over time.",
            license=(
                "GroupLens usage license: research use only, no commercial use, redistribution only under the "
                "same license; cite Harper & Konstan 2015 (ACM TiiS 5(4)). See README.txt in the folder."
            ),
        ),
        _movielens(
            "ml-100k",
            ratings_file="u.data",
            ratings_sep="\t",
            ratings_header=False,
            items_file="u.item",
            rating_scale=_WHOLE_STARS,
            n_ratings=100_000,
            n_users=943,
            n_items=1_682,
            n_movies=1_682,
            zip_size=4_924_029,
            sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
            md5="0e33842e24a9c977be4e0107933c0723",
            published_md5=False,
            description="MovieLens 100K (1998): 1-5 stars, user demographics, predefined u1-u5/ua/ub splits.",
        ),
        _movielens(
            "ml-1m",
            **_DAT,
            rating_scale=_WHOLE_STARS,
            n_ratings=1_000_209,
            n_users=6_040,
            n_items=3_706,
            n_movies=3_883,
            zip_size=5_917_549,
            sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
            md5="c4d9eecfca2ab87c1945afe126590906",
            published_md5=False,
            description="MovieLens 1M (2003): 1-5 stars from users who joined in 2000, with demographics.",
        ),
        _movielens(
            "ml-10m",
            folder="ml-10M100K",
            **_DAT,
            rating_scale=_HALF_STARS,
            n_ratings=10_000_054,
            n_users=69_878,
            n_items=10_677,
            n_movies=10_681,
            zip_size=None,
            sha256=None,  # none recorded independently; the GroupLens md5 below is checked
            md5="ce571fd55effeba0271552578f2648bd",
            published_md5=False,
            description="MovieLens 10M (2009): half stars and tags; unzips to ml-10M100K/.",
        ),
        _movielens(
            "ml-20m",
            **_CSV,
            rating_scale=_HALF_STARS,
            n_ratings=20_000_263,
            n_users=138_493,
            n_items=26_744,
            n_movies=27_278,
            zip_size=198_702_078,
            sha256="96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
            md5="cd245b17a1ae2cc31bb14903e1204af3",
            published_md5=False,
            description="MovieLens 20M (2015, stable benchmark): half stars, tags, tag genome.",
        ),
        _movielens(
            "ml-25m",
            **_CSV,
            rating_scale=_HALF_STARS,
            n_ratings=25_000_095,
            n_users=162_541,
            n_items=59_047,
            n_movies=62_423,
            zip_size=261_978_986,
            sha256="8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
            md5="6b51fb2759a8657d3bfcbfc42b592ada",
            published_md5=False,
            description="MovieLens 25M (2019, stable benchmark): half stars, tags, tag genome.",
        ),
        _movielens(
            "ml-32m",
            **_CSV,
            rating_scale=_HALF_STARS,
            n_ratings=32_000_204,
            n_users=200_948,
            n_items=None,
            n_movies=87_585,
            zip_size=None,
            sha256=None,
            md5=None,
            # No checksum of ml-32m.zip was found recorded anywhere but GroupLens's own .md5 next
            # to the zip. Checking that catches truncated or damaged downloads; it cannot catch a
            # tampered server, since both files come from the same place.
            published_md5=True,
            description="MovieLens 32M (2023, stable benchmark): half stars, tags, links.",
        ),
    )
}

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
        f"unknown dataset {name!r}; the built-in datasets are {', '.join(_REGISTRY)}.{hint} "
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
            f"Remove it, or replace it with `embrec datasets download {info.name} --force`."
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
    target_root = roots[0] if data_dir is not None else default_cache_dir()
    if not download:
        url = dataset_url(info.name, base_url)
        raise DatasetNotFoundError(
            f"dataset {info.name!r} is not on disk. Download it with `embrec datasets download {info.name}` "
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
    target_root = roots[0] if data_dir is not None else default_cache_dir()
    return _install(info, target_root, searched=roots, base_url=base_url, progress=progress, force=force)

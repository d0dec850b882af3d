"""The registry of built-in MovieLens datasets: one :class:`DatasetInfo` each, no I/O.

Finding them on disk and downloading them is :mod:`embrec.data.datasets`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypedDict

__all__ = ["BUILT_IN", "DEFAULT_BASE_URL", "DatasetInfo"]

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


def _movielens(name: str, *, folder: str | None = None, published_md5: bool = False, **fields: Any) -> DatasetInfo:
    # only a dataset with no checksum recorded anywhere else is checked against GroupLens's own .md5
    url = f"{DEFAULT_BASE_URL}/{name}.zip"
    return DatasetInfo(name=name, url=url, folder=folder or name, published_md5=published_md5, **fields)


class _Files(TypedDict):
    ratings_file: str
    items_file: str


_CSV = _Files(ratings_file="ratings.csv", items_file="movies.csv")
_DAT = _Files(ratings_file="ratings.dat", items_file="movies.dat")
_HALF_STARS = (0.5, 5.0)
_WHOLE_STARS = (1.0, 5.0)

# Sizes and sha256 as recorded by tensorflow/datasets (url_checksums/movielens.txt); md5 as
# published by GroupLens. See shared/data/README.md for the sources.
BUILT_IN: dict[str, DatasetInfo] = {
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
            description="Small development sample of the latest MovieLens (2018 edition); may change over time.",
            license=(
                "GroupLens usage license: research use only, no commercial use, redistribution only under the "
                "same license; cite Harper & Konstan 2015 (ACM TiiS 5(4)). See README.txt in the folder."
            ),
        ),
        _movielens(
            "ml-100k",
            ratings_file="u.data",
            items_file="u.item",
            rating_scale=_WHOLE_STARS,
            n_ratings=100_000,
            n_users=943,
            n_items=1_682,
            n_movies=1_682,
            zip_size=4_924_029,
            sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
            md5="0e33842e24a9c977be4e0107933c0723",
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

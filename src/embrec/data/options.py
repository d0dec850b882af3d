"""How data is loaded and split, as two small records: :class:`DataOptions` and :class:`SplitOptions`.

They are what a run folder records (``extra.data`` and ``extra.split`` of its ``embrec.json``),
what every command's ``--data``/``--split`` options fill, and what re-creates a run's exact data
and split later. The module imports nothing heavy (no NumPy, no pandas), so the command line
can declare its options from it without slowing ``--help`` down.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embrec.data.choices import DuplicatePolicy, SplitMethod
from embrec.errors import ConfigError

if TYPE_CHECKING:
    from embrec.data.interactions import Interactions
    from embrec.data.splits import Split

__all__ = ["DataOptions", "DuplicatePolicy", "SplitMethod", "SplitOptions"]


def _none(value: Any) -> Any:
    """``"none"`` (any case) written on a command line means no such column."""
    return None if value is None or (isinstance(value, str) and value.lower() == "none") else value


def _resolve_path(value: Any, base: Path | None) -> str | None:
    if value is None:
        return None
    path = Path(str(value)).expanduser()
    if base is not None and not path.is_absolute() and not path.exists() and (base / path).exists():
        return str(base / path)  # a relative path recorded where training ran, next to the run
    return str(path)


def _check_keys(cls: type, values: Any, what: str) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise ConfigError(f"{what} must be a set of options (a JSON object), got {values!r}.")
    known = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in values.items() if k in known}


@dataclass(frozen=True)
class DataOptions:
    """Where ratings come from and how to read them (the keyword arguments of ``load_data``)."""

    data: str | None = None
    """A MovieLens folder, or your own CSV/TSV/Parquet ratings file."""
    dataset: str | None = None
    """A built-in dataset name such as ``ml-100k``."""
    data_dir: str | None = None
    """Where built-in datasets live."""
    user_col: str = "user"
    item_col: str = "item"
    rating_col: str | None = "rating"
    """``None`` (or ``"none"``) for implicit feedback."""
    timestamp_col: str | None = "timestamp"
    sep: str | None = None
    items: str | None = None
    """An item metadata file."""
    items_id_col: str | None = None
    """The item id column of ``items``; ``None``: the ratings' item column, else a usual id name."""
    title_col: str | None = "title"
    """The title column of ``items``; ``None`` (or ``"none"``) for a file without titles."""
    genres_col: str | None = "genres"
    """The genres column of ``items`` (optional unless renamed); ``None`` (or ``"none"``) for none."""
    genres_sep: str = "|"
    """What separates one item's genres in ``genres_col``."""
    rating_scale: tuple[float, float] | None = None
    duplicates: DuplicatePolicy = DuplicatePolicy.last

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values, as a run folder records them."""
        out = dataclasses.asdict(self)
        out["rating_scale"] = list(self.rating_scale) if self.rating_scale else None
        out["duplicates"] = DuplicatePolicy(self.duplicates).value
        return out

    @classmethod
    def from_dict(cls, values: Any, *, base: Path | None = None) -> DataOptions:
        """Options read back from a run folder; relative paths are also looked for beside ``base``."""
        kw = _check_keys(cls, values, "the stored data options")
        for key in ("data", "data_dir", "items"):
            kw[key] = _resolve_path(kw.get(key), base)
        scale = kw.get("rating_scale")
        if scale is not None:
            try:
                lo, hi = scale
                kw["rating_scale"] = (float(lo), float(hi))
            except (TypeError, ValueError):
                raise ConfigError(f"the stored rating_scale {scale!r} is not two numbers.") from None
        if kw.get("duplicates") is not None:
            try:
                kw["duplicates"] = DuplicatePolicy(kw["duplicates"])
            except ValueError:
                allowed = ", ".join(p.value for p in DuplicatePolicy)
                raise ConfigError(f"the stored duplicates={kw['duplicates']!r} is not one of {allowed}.") from None
        return cls(**kw)

    def item_metadata(self) -> Any:
        """The ``items`` file read as these options say (a frame indexed by item id), or ``None``."""
        if self.items is None:
            return None
        from embrec.data.files import read_item_metadata

        return read_item_metadata(
            self.items,
            id_col=_none(self.items_id_col),
            title_col=_none(self.title_col),
            genres_col=_none(self.genres_col),
            genres_sep=self.genres_sep,
            preferred_id=self.item_col,
        )

    def replace(self, **changes: Any) -> DataOptions:
        return dataclasses.replace(self, **changes)

    def load(self) -> Interactions:
        """The data these options describe (see :func:`embrec.data.load.load_data`)."""
        from embrec.data.load import ColumnMapping, load_data

        columns = ColumnMapping(
            user=self.user_col, item=self.item_col, rating=_none(self.rating_col), timestamp=_none(self.timestamp_col)
        )
        return load_data(
            self.data,
            dataset=self.dataset,
            data_dir=self.data_dir,
            columns=columns,
            sep=self.sep,
            items=self.items,
            items_id_col=_none(self.items_id_col),
            title_col=_none(self.title_col),
            genres_col=_none(self.genres_col),
            genres_sep=self.genres_sep,
            rating_scale=self.rating_scale,
            duplicates=self.duplicates,
        )


@dataclass(frozen=True)
class SplitOptions:
    """How test rows are held out (the keyword arguments of ``make_split``)."""

    split: SplitMethod = SplitMethod.random
    test_fraction: float | None = None
    test_count: int | None = None
    cutoff: str | None = None
    seed: int = 42
    drop_unseen: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["split"] = SplitMethod(self.split).value
        return out

    @classmethod
    def from_dict(cls, values: Any) -> SplitOptions:
        kw = _check_keys(cls, values, "the stored split options")
        if "split" not in kw and "method" in values:
            kw["split"] = values["method"]
        try:
            kw["split"] = SplitMethod(kw.get("split", SplitMethod.random.value))
        except ValueError:
            allowed = ", ".join(m.value for m in SplitMethod)
            raise ConfigError(
                f"the stored split method {kw.get('split')!r} is unknown; use one of {allowed}."
            ) from None
        if kw.get("cutoff") is not None:
            kw["cutoff"] = str(kw["cutoff"])
        kw["seed"] = int(kw.get("seed", 42))
        kw["drop_unseen"] = bool(kw.get("drop_unseen", False))
        return cls(**kw)

    def replace(self, **changes: Any) -> SplitOptions:
        return dataclasses.replace(self, **changes)

    def apply(self, interactions: Interactions) -> Split:
        """Split ``interactions`` as these options say (see :func:`embrec.data.splits.make_split`)."""
        from embrec.data.splits import make_split

        return make_split(
            interactions,
            self.split,
            test_fraction=self.test_fraction,
            test_count=self.test_count,
            cutoff=self.cutoff,
            seed=self.seed,
            drop_unseen=self.drop_unseen,
        )

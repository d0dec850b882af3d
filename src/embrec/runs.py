"""A run folder opened: its model, its record, and the data and split it was trained on.

``embrec train`` (or :meth:`Run.record`) stores the data and split options in the run's
``embrec.json`` (``extra.data``, ``extra.split``), or the folder of a saved split it was trained
on (``extra.split_dir``, written by ``embrec split``); :class:`Run` reads them back and re-creates
the exact data and split, checking that the split's training part has the fingerprint the
model recorded, so a model is never scored on rows it was trained on. ``evaluate``, ``report``,
``plot`` and ``serve`` all open runs through here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embrec.data.options import DataOptions, SplitOptions
from embrec.errors import ConfigError, DataError, ModelFileError

if TYPE_CHECKING:
    from embrec.data.interactions import Interactions
    from embrec.data.splits import Split
    from embrec.models.base import Recommender

__all__ = ["Run", "check_fingerprint", "recorded_options"]


def recorded_options(info: dict[str, Any], key: str, where: Path | str) -> dict[str, Any] | None:
    """``extra[key]`` of a run's ``embrec.json``, or ``None`` when the run did not record it."""
    extra = info.get("extra") or {}
    if not isinstance(extra, dict):
        return None
    value = extra.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ModelFileError(
            f"{where}/embrec.json has extra.{key} = {value!r}, which is not a set of options; "
            f"pass the {key} options yourself."
        )
    return value


def check_fingerprint(model: Recommender, split: Split, where: str, origin: str = "") -> None:
    """Refuse ``split`` unless its training part is what ``model`` recorded being trained on."""
    recorded = getattr(model, "data_fingerprint_", None)
    actual = split.train.fingerprint()
    if recorded and recorded != actual:
        raise DataError(
            f"run {where!r} was trained on other data: its training-data fingerprint {recorded[:12]}... differs "
            f"from that of the training part of this {split.method.value} split of {split.train.name!r} "
            f"({actual[:12]}...{origin}). Pass the data= or dataset= and the split options (split=, test_fraction=, "
            "seed=, ...) used for training."
        )


@dataclass
class Run:
    """A saved run: ``path``, the loaded ``model`` and its ``embrec.json`` (``info``)."""

    path: Path
    model: Recommender
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, path: str | Path) -> Run:
        """Load the run folder at ``path`` (a :class:`ModelFileError` when it is missing or broken)."""
        from embrec.models import load

        path = Path(path)
        model = load(str(path))
        return cls(path=path, model=model, info=dict(getattr(model, "run_info_", None) or {}))

    @property
    def label(self) -> str:
        """The run's name in tables: its folder's name."""
        return self.path.resolve().name or str(self.path)

    @property
    def fingerprint(self) -> str | None:
        """sha256 of the training data the model recorded, if it did."""
        return getattr(self.model, "data_fingerprint_", None) or self.info.get("data_fingerprint")

    # ------------------------------------------------------------------ recorded options
    @property
    def data_options(self) -> DataOptions | None:
        """The data options recorded at training, or ``None``."""
        stored = recorded_options(self.info, "data", self.path)
        return None if stored is None else DataOptions.from_dict(stored, base=self.path)

    @property
    def split_options(self) -> SplitOptions | None:
        """The split options recorded at training, or ``None``."""
        stored = recorded_options(self.info, "split", self.path)
        return None if stored is None else SplitOptions.from_dict(stored)

    @property
    def split_dir(self) -> Path | None:
        """The saved split folder the run was trained on (``embrec train --split-dir``), or ``None``."""
        extra = self.info.get("extra") or {}
        value = extra.get("split_dir") if isinstance(extra, dict) else None
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise ModelFileError(
                f"{self.path}/embrec.json has extra.split_dir = {value!r}, which is not a folder; "
                "pass the split folder yourself (split_dir=)."
            )
        return Path(value)

    @staticmethod
    def record(data: DataOptions, split: SplitOptions | None, split_dir: str | Path | None = None) -> dict[str, Any]:
        """What a run stores in ``extra`` so that :class:`Run` can re-create its data and split.

        A run trained on a saved split records the split's folder (absolute) instead of split
        options; ``data`` then holds only how its item metadata file is read.
        """
        if split_dir is not None:
            return {"data": data.to_dict(), "split_dir": str(Path(split_dir).expanduser().resolve())}
        return {"data": data.to_dict(), "split": (split or SplitOptions()).to_dict()}

    def saved_split(self, folder: str | Path | None = None) -> tuple[Interactions, Split]:
        """The split saved in ``folder`` (default: the one the run was trained on), fingerprint checked.

        The run's recorded ``items`` file, if any, gives the data its titles and genres.
        """
        from embrec.data.split_files import load_split_data

        folder = folder if folder is not None else self.split_dir
        if folder is None:
            raise ConfigError(f"run {str(self.path)!r} was not trained on a saved split; pass split_dir=.")
        options = self.data_options
        meta = options.item_metadata() if options is not None else None
        data, split = load_split_data(folder, item_metadata=meta)
        self.check(split, origin=f"; the split saved in {folder}")
        return data, split

    # ------------------------------------------------------------------ re-created data
    def load_data(self, options: DataOptions | None = None) -> Interactions:
        """The data the run was trained on (``options`` replaces the recorded ones)."""
        chosen = options or self.data_options
        if chosen is None or (chosen.data is None and chosen.dataset is None):
            raise ConfigError(
                f"run {str(self.path)!r} does not record the data it was trained on (no extra.data in its "
                "embrec.json); pass data= or dataset= (and the split options) used for training."
            )
        return chosen.load()

    def make_split(self, data: Interactions, options: SplitOptions | None = None, *, origin: str = "") -> Split:
        """``data`` split as at training (``options`` replaces the recorded ones), fingerprint checked."""
        split = (options or self.split_options or SplitOptions()).apply(data)
        self.check(split, origin=origin)
        return split

    def data_and_split(
        self, data: DataOptions | None = None, split: SplitOptions | None = None
    ) -> tuple[Interactions, Split]:
        """The data and split the run was trained on, re-created and checked.

        A run trained on a saved split reads that folder again, unless ``data`` or ``split`` is given.
        """
        if data is None and split is None and self.split_dir is not None:
            return self.saved_split()
        interactions = self.load_data(data)
        return interactions, self.make_split(interactions, split)

    def check(self, split: Split, *, origin: str = "") -> None:
        """Refuse ``split`` unless its training part is what this run was trained on."""
        check_fingerprint(self.model, split, str(self.path), origin)

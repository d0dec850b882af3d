"""The experiment file: datasets x protocols x models x seeds, read from TOML and checked before anything runs.

:func:`load_experiment` reads a file, :func:`parse_experiment` a table already read; both return
an :class:`Experiment` or raise one :class:`~embrec.errors.ConfigError` whose one-line message
names the file, the table, the bad key or value, and the fix. The format is documented in
``docs/experiments.md``; every name in it is checked against its one home (the model registry,
the protocol registry, the metric catalogue, the built-in datasets), so a typo fails here and
not an hour into a run.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from embrec.data.options import DataOptions, DuplicatePolicy
from embrec.errors import ConfigError, EmbrecError

__all__ = [
    "DatasetSpec",
    "Evaluation",
    "Experiment",
    "MetricSpec",
    "ModelSpec",
    "ProtocolSpec",
    "TuneSpec",
    "load_experiment",
    "parse_experiment",
    "parse_metric_name",
]

_MAX_SEED = 2**32 - 1
#: Labels of datasets and models become folder and file names: keep them plain.
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_TOP_KEYS = ("name", "description", "seeds", "baseline", "metrics", "evaluation", "datasets", "protocols", "models")
_EVALUATION_KEYS = ("k", "threshold", "n_resamples", "level")
_PROTOCOL_KEYS = ("name", "threshold", "metrics")
_MODEL_KEYS = ("model", "settings", "tune")
_TUNE_KEYS = ("trials", "metric", "prune")
#: The keys of a ``[[datasets]]`` entry besides ``name``, ``path`` and ``label``: ``load_data``'s options.
_DATA_KEYS = (
    "data_dir",
    "user_col",
    "item_col",
    "rating_col",
    "timestamp_col",
    "sep",
    "items",
    "items_id_col",
    "title_col",
    "genres_col",
    "genres_sep",
    "rating_scale",
    "duplicates",
)
_DATASET_KEYS = ("name", "path", "label", *_DATA_KEYS)


# ---------------------------------------------------------------------------- the parts
@dataclass(frozen=True)
class MetricSpec:
    """One metric of the comparison: a catalogue name and the list length it is cut at.

    Attributes:
        name: the catalogue name (:data:`embrec.evaluation.catalog.METRICS`), such as ``"ndcg"``.
        k: the list length; ``None`` for ``rmse`` and ``mae``, which score predicted ratings.
        kind: ``"per_user"`` (one value per evaluated user: paired over users) or ``"list"``
            (one figure per cell: paired over cells).
    """

    name: str
    k: int | None
    kind: Literal["per_user", "list"]

    @property
    def label(self) -> str:
        """``ndcg@10``, or ``rmse``: the column of every table."""
        return self.name if self.k is None else f"{self.name}@{self.k}"


@dataclass(frozen=True)
class Evaluation:
    """``[evaluation]``: how each cell is scored and how the comparison is summarised."""

    k: int = 10
    """List length of a metric written without ``@K``."""
    threshold: float | None = 4.0
    """Lowest relevant test rating (``None``: every test item is relevant; implicit data always is)."""
    n_resamples: int = 1000
    """Bootstrap resamples of the paired comparisons."""
    level: float = 0.95
    """Confidence level of every interval."""


@dataclass(frozen=True)
class DatasetSpec:
    """One ``[[datasets]]`` entry: a label and the options :func:`~embrec.data.load.load_data` gets."""

    label: str
    options: DataOptions

    def describe(self) -> dict[str, Any]:
        """The label and the options that differ from the defaults (JSON-ready)."""
        given = {k: v for k, v in self.options.to_dict().items() if v != DataOptions().to_dict()[k]}
        return {"label": self.label, **given}


@dataclass(frozen=True)
class ProtocolSpec:
    """One ``[[protocols]]`` entry: a reference protocol, its relevance threshold and its metrics."""

    name: str
    threshold: float | None
    metrics: tuple[MetricSpec, ...]
    n_folds: int

    @property
    def ks(self) -> tuple[int, ...]:
        """The list lengths a cell of this protocol is scored at."""
        return tuple(sorted({m.k for m in self.metrics if m.k is not None}))


@dataclass(frozen=True)
class TuneSpec:
    """A model's ``tune`` table: search its settings on each fold's training part before it is scored."""

    trials: int = 20
    metric: str = "ndcg@10"
    #: ``false`` runs every trial to its end (``embrec tune --no-prune``)
    prune: bool = True


@dataclass(frozen=True)
class ModelSpec:
    """One ``[models.LABEL]`` table: a registry model, its fixed settings, and an optional tune block."""

    label: str
    model: str
    settings: Mapping[str, Any]
    tune: TuneSpec | None = None
    #: whether the model's config has a ``seed`` setting (then each experiment seed sets it)
    seeded: bool = False

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "model": self.model, "settings": dict(self.settings)}
        if self.tune is not None:
            out["tune"] = {"trials": self.tune.trials, "metric": self.tune.metric, "prune": self.tune.prune}
        return out


@dataclass(frozen=True)
class Experiment:
    """A checked experiment: every cell it runs is ``dataset x protocol x fold x model x seed``.

    Attributes:
        name: a title for the tables and the report.
        description: a sentence or two for the report (may be empty).
        seeds: each seed sets every model's ``seed`` and the protocol's split seed.
        baseline: the label of the model every other model is compared with.
        datasets: the ``[[datasets]]``, in file order.
        protocols: the ``[[protocols]]``, in file order.
        models: the ``[models.*]`` tables, in file order.
        evaluation: the ``[evaluation]`` table.
        source: the file it was read from, if any.
        text: the file's text (copied into the output folder), if any.
    """

    name: str
    description: str
    seeds: tuple[int, ...]
    baseline: str
    datasets: tuple[DatasetSpec, ...]
    protocols: tuple[ProtocolSpec, ...]
    models: tuple[ModelSpec, ...]
    evaluation: Evaluation = field(default_factory=Evaluation)
    source: Path | None = None
    text: str | None = field(default=None, repr=False)

    @property
    def n_cells(self) -> int:
        """How many cells a run holds: datasets x (folds of each protocol) x models x seeds."""
        folds = sum(p.n_folds for p in self.protocols)
        return len(self.datasets) * folds * len(self.models) * len(self.seeds)

    def describe(self) -> dict[str, Any]:
        """Plain (JSON-ready) description of everything the file asked for."""
        return {
            "name": self.name,
            "description": self.description,
            "source": None if self.source is None else str(self.source),
            "seeds": list(self.seeds),
            "baseline": self.baseline,
            "evaluation": {
                "k": self.evaluation.k,
                "threshold": self.evaluation.threshold,
                "n_resamples": self.evaluation.n_resamples,
                "level": self.evaluation.level,
            },
            "datasets": [d.describe() for d in self.datasets],
            "protocols": [
                {"name": p.name, "threshold": p.threshold, "metrics": [m.label for m in p.metrics], "folds": p.n_folds}
                for p in self.protocols
            ],
            "models": [m.describe() for m in self.models],
            "cells": self.n_cells,
        }


# ---------------------------------------------------------------------------- reading tables
class _Table:
    """A TOML table being read: each key taken once, the rest refused by name."""

    def __init__(self, values: Any, where: str, file: str, allowed: Iterable[str]) -> None:
        self.where, self.file, self.allowed = where, file, tuple(allowed)
        if not isinstance(values, Mapping):
            raise self.error(f"must be a table of `key = value` lines, got {_kind(values)} {_shown(values)}")
        self.values = dict(values)
        unknown = [key for key in self.values if key not in self.allowed]
        if unknown:
            close = difflib.get_close_matches(str(unknown[0]), self.allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise self.error(f"has the unknown key {unknown[0]!r}{hint}; allowed keys: {', '.join(self.allowed)}")

    def error(self, message: str) -> ConfigError:
        return ConfigError(f"{self.file}: {self.where} {message}.")

    def bad(self, key: str, message: str) -> ConfigError:
        return self.error(f"{key} = {_shown(self.values.get(key))} is not allowed; {message}")

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def text(self, key: str, default: str | None = None) -> str | None:
        if key not in self.values:
            return default
        value = self.values[key]
        if not isinstance(value, str) or not value.strip():
            raise self.bad(key, 'give non-empty text in quotes, as in key = "text"')
        return value

    def whole(self, key: str, default: int, low: int, high: int) -> int:
        value = self.values.get(key, default)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= int(value) <= high:
            raise self.bad(key, f"give a whole number from {low:,} to {high:,}")
        return int(value)

    def threshold(self, key: str, default: float | None) -> float | None:
        if key not in self.values:
            return default
        value = self.values[key]
        if isinstance(value, str) and value.strip().lower() == "none":
            return None
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise self.bad(key, 'give the lowest relevant rating, such as 4.0, or "none" (every test item is relevant)')
        return float(value)


def _kind(value: Any) -> str:
    return {dict: "a table", list: "a list", str: "text", bool: "a boolean"}.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _label(table: _Table, key: str, value: Any, what: str) -> str:
    if not isinstance(value, str) or not _LABEL.match(value):
        raise table.error(
            f"{key} = {_shown(value)} is not a usable {what} label; use letters, digits, '_', '-' or '.' "
            "(up to 64, starting with a letter or digit): it names folders and files"
        )
    return value


# ---------------------------------------------------------------------------- the file
def load_experiment(path: str | Path) -> Experiment:
    """Read and check the experiment file ``path`` (TOML; see ``docs/experiments.md``).

    Relative dataset paths are read from the file's folder.

    Raises:
        ConfigError: the file is missing, is not TOML, or holds a bad key or value (named, with the fix).
        MissingExtraError: a ``tune`` block is given and Optuna (the ``tune`` extra) is not installed.
    """
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"experiment file {str(path)!r} does not exist; give the path of a TOML file.") from None
    except IsADirectoryError:
        raise ConfigError(f"experiment file {str(path)!r} is a folder; give the path of a TOML file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the experiment file {str(path)!r} ({exc}).") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); see docs/experiments.md for the format.") from None
    return parse_experiment(table, base=path.parent, file=str(path), default_name=path.stem, text=text, source=path)


def parse_experiment(
    table: Mapping[str, Any],
    *,
    base: Path | None = None,
    file: str = "experiment",
    default_name: str = "experiment",
    text: str | None = None,
    source: Path | None = None,
) -> Experiment:
    """Check an experiment table (as ``tomllib`` reads one) and return the :class:`Experiment`.

    Args:
        table: the file's top-level table.
        base: the folder relative dataset paths are read from (default: the working folder).
        file: how messages name the file.
        default_name: the experiment's name when the table gives none.
        text: the file's text, kept to copy into the output folder.
        source: the file's path, recorded in the results.

    Raises:
        ConfigError: a bad key or value, named with the fix.
    """
    top = _Table(table, "(top level)", file, _TOP_KEYS)
    evaluation = _evaluation(top, file)
    models = _models(top, file)
    labels = [m.label for m in models]
    baseline = top.text("baseline", labels[0]) or labels[0]
    if baseline not in labels:
        raise top.bad("baseline", f"it must be the label of one of the [models.*] tables: {', '.join(labels)}")
    metrics = top.get("metrics")
    shared = None if metrics is None else _metrics(top, "metrics", metrics, evaluation.k)
    return Experiment(
        name=top.text("name", default_name) or default_name,
        description=top.text("description", "") or "",
        seeds=_seeds(top),
        baseline=baseline,
        datasets=_datasets(top, file, base),
        protocols=_protocols(top, file, shared, evaluation),
        models=models,
        evaluation=evaluation,
        source=source,
        text=text,
    )


def _seeds(top: _Table) -> tuple[int, ...]:
    seeds = top.get("seeds", [42])
    fix = f"give a list of whole numbers from 0 to {_MAX_SEED}, such as seeds = [1, 2, 3]"
    if not isinstance(seeds, list) or not seeds:
        raise top.bad("seeds", fix)
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= int(seed) <= _MAX_SEED:
            raise top.bad("seeds", f"{_shown(seed)} is not a seed; {fix}")
    if len(set(seeds)) != len(seeds):
        raise top.bad("seeds", "a seed is repeated; give each seed once")
    return tuple(int(s) for s in seeds)


def _evaluation(top: _Table, file: str) -> Evaluation:
    from embrec.evaluation.stats import MAX_RESAMPLES

    table = _Table(top.get("evaluation", {}), "[evaluation]", file, _EVALUATION_KEYS)
    level = table.get("level", Evaluation.level)
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < float(level) < 1:
        raise table.bad("level", "give a confidence level strictly between 0 and 1, such as 0.95")
    return Evaluation(
        k=table.whole("k", Evaluation.k, 1, 10_000),
        threshold=table.threshold("threshold", Evaluation.threshold),
        n_resamples=table.whole("n_resamples", Evaluation.n_resamples, 1, MAX_RESAMPLES),
        level=float(level),
    )


# ---------------------------------------------------------------------------- metrics
def parse_metric_name(text: Any, default_k: int = 10) -> MetricSpec:
    """``ndcg@10``, ``recall``, ``rmse``, ``coverage@20``... as a :class:`MetricSpec`.

    A ranking metric without ``@K`` is cut at ``default_k``; ``rmse`` and ``mae`` take no ``@K``.

    Raises:
        ConfigError: a name outside the metric catalogue, or a bad ``@K``.
    """
    from embrec.evaluation.catalog import METRICS

    by_name = {m.name: m for m in METRICS}
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"metric {_shown(text)} is not a metric name; use one of {', '.join(by_name)}.")
    name, at, k_text = text.strip().lower().partition("@")
    entry = by_name.get(name)
    if entry is None:
        close = difflib.get_close_matches(name, list(by_name), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown metric {text!r}{hint}; use one of {', '.join(by_name)}, with @K for a list length.")
    if entry.needs_ratings:
        if at:
            raise ConfigError(
                f"metric {text!r}: {name} scores predicted ratings, not lists; write {name!r} without @K."
            )
        return MetricSpec(name, None, entry.kind)
    if not at:
        return MetricSpec(name, default_k, entry.kind)
    if not k_text.isdigit() or not 1 <= int(k_text) <= 10_000:
        raise ConfigError(f"metric {text!r} needs a list length from 1 to 10,000 after '@', as in {name}@10.")
    return MetricSpec(name, int(k_text), entry.kind)


def _metrics(table: _Table, key: str, values: Any, default_k: int) -> tuple[MetricSpec, ...]:
    if not isinstance(values, list) or not values:
        raise table.bad(key, 'give a list of metric names, such as metrics = ["ndcg@10", "recall@10"]')
    out: list[MetricSpec] = []
    for value in values:
        try:
            metric = parse_metric_name(value, default_k)
        except ConfigError as exc:
            raise table.error(f"{key}: {str(exc).rstrip('.')}") from None
        if metric in out:
            raise table.bad(key, f"{metric.label} is listed twice; list each metric once")
        out.append(metric)
    return tuple(out)


# ---------------------------------------------------------------------------- datasets
def _datasets(top: _Table, file: str, base: Path | None) -> tuple[DatasetSpec, ...]:
    entries = top.get("datasets")
    if not isinstance(entries, list) or not entries:
        raise top.error(
            'needs at least one [[datasets]] table, such as [[datasets]] name = "ml-100k" (or path = "ratings.csv")'
        )
    out = [
        _dataset(_Table(entry, f"[[datasets]] #{i}", file, _DATASET_KEYS), base) for i, entry in enumerate(entries, 1)
    ]
    seen: set[str] = set()
    for i, spec in enumerate(out, 1):
        if spec.label in seen:
            raise ConfigError(
                f"{file}: [[datasets]] #{i} has the label {spec.label!r} of an earlier dataset; give it its own "
                'label = "...".'
            )
        seen.add(spec.label)
    return tuple(out)


def _dataset(table: _Table, base: Path | None) -> DatasetSpec:
    from embrec.data.datasets import dataset_info

    name, path = table.text("name"), table.text("path")
    if (name is None) == (path is None):
        raise table.error(
            'needs exactly one of name (a built-in dataset: name = "ml-100k") or path (a ratings file or '
            'MovieLens folder: path = "ratings.csv")'
        )
    options: dict[str, Any] = {}
    for key in _DATA_KEYS:
        if key in table.values:
            options[key] = _data_option(table, key)
    if name is not None:
        try:
            dataset_info(name)
        except EmbrecError as exc:
            raise table.error(f"name: {str(exc).rstrip('.')}") from None
        label = table.get("label", name)
        options["dataset"] = name
    else:
        resolved = Path(str(path)).expanduser()
        if not resolved.is_absolute() and base is not None:
            resolved = base / resolved
        if not resolved.exists():
            raise table.bad("path", f"{str(resolved)!r} does not exist; give a ratings file or a MovieLens folder")
        label = table.get("label", _label_from(resolved))
        options["data"] = str(resolved)
    if base is not None:
        for key in ("items", "data_dir"):
            if key in options and not Path(options[key]).expanduser().is_absolute():
                options[key] = str(base / Path(options[key]).expanduser())
    return DatasetSpec(label=_label(table, "label", label, "dataset"), options=DataOptions(**options))


def _label_from(path: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem if path.is_file() else path.name).strip("-._")
    return stem[:64] or "data"


def _data_option(table: _Table, key: str) -> Any:
    value = table.get(key)
    if key == "rating_scale":
        ok = isinstance(value, list) and len(value) == 2
        ok = ok and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value) and value[0] < value[1]
        if not ok:
            raise table.bad(key, "give the lowest and highest rating, such as rating_scale = [1, 5]")
        return (float(value[0]), float(value[1]))
    if key == "duplicates":
        try:
            return DuplicatePolicy(value)
        except ValueError:
            raise table.bad(key, f"use one of {', '.join(p.value for p in DuplicatePolicy)}") from None
    if not isinstance(value, str):
        raise table.bad(key, 'give text in quotes (a column name, a path, or "none" for no such column)')
    return value


# ---------------------------------------------------------------------------- protocols
def _protocols(
    top: _Table, file: str, shared: tuple[MetricSpec, ...] | None, evaluation: Evaluation
) -> tuple[ProtocolSpec, ...]:
    from embrec.data.protocols import PROTOCOLS

    entries = top.get("protocols")
    if not isinstance(entries, list) or not entries:
        raise top.error(
            f'needs at least one [[protocols]] table, such as [[protocols]] name = "random-90-10" (protocols: '
            f"{', '.join(PROTOCOLS)})"
        )
    out: list[ProtocolSpec] = []
    for i, entry in enumerate(entries, 1):
        table = _Table(
            {"name": entry} if isinstance(entry, str) else entry, f"[[protocols]] #{i}", file, _PROTOCOL_KEYS
        )
        name = table.text("name") or ""
        if name not in PROTOCOLS:
            close = difflib.get_close_matches(name, list(PROTOCOLS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            shown = _shown(table.get("name"))
            raise table.error(f"name = {shown} is not a protocol{hint}; use one of {', '.join(PROTOCOLS)}")
        if any(p.name == name for p in out):
            raise table.bad("name", "that protocol is listed twice; list each protocol once")
        protocol = PROTOCOLS[name]
        if "metrics" in table.values:
            metrics = _metrics(table, "metrics", table.get("metrics"), evaluation.k)
        elif shared is not None:
            metrics = shared
        else:  # the protocol's own primary metrics
            metrics = tuple(parse_metric_name(m, evaluation.k) for m in protocol.metrics)
        out.append(
            ProtocolSpec(
                name=name,
                threshold=table.threshold("threshold", evaluation.threshold),
                metrics=metrics,
                n_folds=protocol.n_folds,
            )
        )
    return tuple(out)


# ---------------------------------------------------------------------------- models
def _models(top: _Table, file: str) -> tuple[ModelSpec, ...]:
    tables = top.get("models")
    if not isinstance(tables, Mapping) or not tables:
        raise top.error('needs at least one [models.LABEL] table, such as [models.ease] model = "ease"')
    out = []
    for label, values in tables.items():
        table = _Table(values, f"[models.{label}]", file, _MODEL_KEYS)
        out.append(_model(table, _label(table, "the table name", label, "model")))
    return tuple(out)


def _model(table: _Table, label: str) -> ModelSpec:
    from embrec.models import registry

    name = table.get("model")
    if not isinstance(name, str):
        raise table.error(f'needs model = "NAME", a registered model ({", ".join(registry.available())})')
    try:
        cls = registry.get(name)
    except ConfigError as exc:
        raise table.error(f"model: {str(exc).rstrip('.')}") from None
    config_class = cls.config_class
    seeded = "seed" in {f.name for f in dataclasses.fields(config_class)}
    raw = table.get("settings", {})
    if not isinstance(raw, Mapping):
        raise table.bad("settings", "give a table of the model's settings, such as settings = { weight_decay = 500 }")
    if "seed" in raw and seeded:
        raise table.error(
            "settings has seed, but the experiment's seeds set every model's seed; remove seed from settings "
            "(and list the seeds in seeds = [...])"
        )
    try:
        settings = _typed_settings(raw, config_class)
        config_class.from_dict(settings)
    except ConfigError as exc:
        raise table.error(f"settings: {str(exc).rstrip('.')}") from None
    tune = None
    if "tune" in table.values:
        tune = _tune(table, name, settings)
    return ModelSpec(label=label, model=name, settings=settings, tune=tune, seeded=seeded)


def _typed_settings(raw: Mapping[str, Any], config_class: Any) -> dict[str, Any]:
    """TOML values as the config's fields take them: text (``"none"``, a choice) is read by the field's type."""
    from embrec.models.settings import parse_settings

    settings: dict[str, Any] = {}
    for key, value in raw.items():
        key = str(key).replace("-", "_")
        if isinstance(value, str):
            settings.update(parse_settings([f"{key}={value}"], None, config_class))
        else:  # checked with the rest by config_class.from_dict
            settings[key] = value
    return settings


def _tune(table: _Table, model: str, settings: Mapping[str, Any]) -> TuneSpec:
    from embrec.extras import require

    block = _Table(table.get("tune"), f"{table.where} tune", table.file, _TUNE_KEYS)
    metric = block.text("metric", TuneSpec.metric) or TuneSpec.metric
    trials = block.get("trials", TuneSpec.trials)
    prune = block.get("prune", TuneSpec.prune)
    if not isinstance(prune, bool):
        raise block.bad("prune", "give true (stop trials that trail the median) or false (run every trial to its end)")
    require("tune", f"the tune block of {table.where}")
    from embrec.tuning import check_tuning

    try:
        plan = check_tuning(model, metric=metric, trials=trials, fixed=dict(settings))
    except ConfigError as exc:
        raise block.error(f"{str(exc).rstrip('.')}") from None
    return TuneSpec(trials=plan.trials, metric=plan.metric.label, prune=prune)

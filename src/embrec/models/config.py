"""Model settings: the one config base, the settings parser, and the embedding model's config.

Every model's settings are a frozen, keyword-only dataclass deriving from :class:`ModelConfig`.
Each field carries a docstring and an annotation that says what it accepts (``PositiveInt``,
``Positive``, ``Literal[...]``, ``X | None``...); the annotation is checked when the config is
made, so a bad value fails at once with a :class:`~embrec.errors.ConfigError` naming the setting,
the value and what is allowed. :func:`parse_settings` turns ``key=value`` text and a TOML file
into typed settings by the same annotations.

This module imports neither torch nor numpy: the command line reads settings without them.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Self, Union

from embrec.errors import ConfigError

__all__ = [
    "Bounds",
    "Device",
    "DeviceName",
    "EmbeddingConfig",
    "ModelConfig",
    "NonNegative",
    "OpenFraction",
    "PRESETS",
    "Positive",
    "PositiveInt",
    "ResolvedEmbeddingConfig",
    "Seed",
    "parse_settings",
    "preset",
]


# ---------------------------------------------------------------------- what a field accepts
def _number(x: float) -> str:
    return repr(x) if isinstance(x, int) else f"{x:g}"


@dataclass(frozen=True)
class Bounds:
    """A range for a number field, read from its annotation: ``Annotated[int, Bounds(low=1)]``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    """True: ``low`` itself is not allowed (``> low`` instead of ``>= low``)."""
    high_open: bool = False
    """True: ``high`` itself is not allowed."""

    def accepts(self, value: Any) -> bool:
        if self.low is not None and not (value > self.low if self.low_open else value >= self.low):
            return False
        return self.high is None or bool(value < self.high if self.high_open else value <= self.high)

    def describe(self, kind: str) -> str:
        low, high = self.low, self.high
        if low is not None and high is not None:
            if self.low_open and self.high_open:
                return f"{kind} between {_number(low)} and {_number(high)} (exclusive)"
            return f"{kind} from {_number(low)}{' (exclusive)' if self.low_open else ''} to {_number(high)}" + (
                " (exclusive)" if self.high_open else ""
            )
        if low is not None:
            return f"{kind} {'above' if self.low_open else 'of at least'} {_number(low)}"
        if high is not None:
            return f"{kind} {'below' if self.high_open else 'of at most'} {_number(high)}"
        return kind


@dataclass(frozen=True)
class DeviceName:
    """A torch device name: ``auto`` (CUDA when present, else the CPU), ``cpu``, ``cuda`` or ``cuda:N``."""

    def accepts(self, value: Any) -> bool:
        return value in ("auto", "cpu", "cuda") or bool(re.fullmatch(r"cuda:\d+", value))

    def describe(self, kind: str) -> str:
        return "use 'auto', 'cpu', 'cuda' or 'cuda:N'"


_CONSTRAINTS = (Bounds, DeviceName)

#: A whole number of at least 1.
PositiveInt = Annotated[int, Bounds(low=1)]
#: A number above 0.
Positive = Annotated[float, Bounds(low=0, low_open=True)]
#: A number of at least 0.
NonNegative = Annotated[float, Bounds(low=0)]
#: A number strictly between 0 and 1.
OpenFraction = Annotated[float, Bounds(low=0, high=1, low_open=True, high_open=True)]
#: A random seed: what numpy, torch and implicit all accept.
Seed = Annotated[int, Bounds(low=0, high=2**32 - 1)]
#: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
Device = Annotated[str, DeviceName()]

_NONE = type(None)


def _options(annotation: Any) -> tuple[Any, ...]:
    """The alternatives of a union annotation (the annotation alone when it is not one)."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _unwrap(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    """``(type, constraints)`` of ``Annotated[type, *constraints]`` (or ``(annotation, ())``)."""
    if typing.get_origin(annotation) is Annotated:
        base, *extras = typing.get_args(annotation)
        return base, tuple(x for x in extras if isinstance(x, _CONSTRAINTS))
    return annotation, ()


def _is_a(value: Any, kind: Any) -> bool:
    if kind is _NONE or kind is None:
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
    if typing.get_origin(kind) is Literal:
        return any(type(value) is type(choice) and value == choice for choice in typing.get_args(kind))
    if isinstance(kind, type):
        return isinstance(value, kind)
    return True  # an annotation this check cannot read is left to the model


def _accepts(value: Any, annotation: Any) -> bool:
    for option in _options(annotation):
        kind, constraints = _unwrap(option)
        if _is_a(value, kind) and all(c.accepts(value) for c in constraints):
            return True
    return False


def _describe_kind(kind: Any) -> str:
    if kind is bool:
        return "give True or False"
    if kind is int:
        return "give a whole number"
    if kind is float:
        return "give a number"
    if kind is str:
        return "give a text"
    if typing.get_origin(kind) is Literal:
        choices = [repr(c) for c in typing.get_args(kind)]
        return "use " + (f"{', '.join(choices[:-1])} or {choices[-1]}" if len(choices) > 1 else choices[0])
    return f"give a {getattr(kind, '__name__', kind)}"


def _describe(annotation: Any) -> str:
    """What an annotation allows, in words: ``give a whole number of at least 1, or None``."""
    parts, none = [], False
    for option in _options(annotation):
        kind, constraints = _unwrap(option)
        if kind is _NONE:
            none = True
            continue
        text = _describe_kind(kind)
        for constraint in constraints:
            text = constraint.describe(text)
        parts.append(text)
    text = " or ".join(parts)
    return f"{text}, or None" if none else text


_FIELD_TYPES: dict[type, dict[str, Any]] = {}  # a memo of _field_types


def _field_types(cls: type) -> dict[str, Any]:
    """Field name -> resolved annotation (``None`` where it cannot be resolved), in field order."""
    if cls not in _FIELD_TYPES:
        try:
            hints = typing.get_type_hints(cls, include_extras=True)
        except (NameError, TypeError):  # a name only known where the class was defined (inside a function)
            hints = {}
        _FIELD_TYPES[cls] = {
            f.name: hints.get(f.name, None if isinstance(f.type, str) else f.type) for f in dataclasses.fields(cls)
        }
    return _FIELD_TYPES[cls]


# ---------------------------------------------------------------------- the config base
@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Base of every model's settings: a frozen, keyword-only dataclass checked when it is made.

    A model's config subclasses it with ``@dataclass(frozen=True, kw_only=True)``: one field per
    setting, its docstring after it, its annotation saying what it accepts. Rules the annotations
    cannot express go in :meth:`_validate`. Settings are given by name only; an unknown or
    mistyped name raises :class:`~embrec.errors.ConfigError` naming it, the model, the closest
    allowed name and every allowed one.

    Example:
        >>> EASEConfig(weight_decay=500.0).replace(threads=None).to_dict()   # doctest: +SKIP
    """

    #: The model's registry name, for messages ("for the ease model").
    model_name: ClassVar[str] = ""
    #: Settings renamed since an earlier release, old name -> new: suggested for the old name, and
    #: mapped when an older run folder is read.
    renamed_keys: ClassVar[Mapping[str, str]] = {}

    def __new__(cls, *args: Any, **settings: Any) -> Self:
        # dataclass's __init__ would raise a bare TypeError for these; say what was wrong instead
        if args:
            raise ConfigError(
                f"{cls.__name__} takes its settings by name, as in {cls.__name__}(setting=value); "
                f"got {len(args)} value(s) without a name: {', '.join(map(repr, args))}."
            )
        cls._check_keys(settings)
        return super().__new__(cls)

    def __post_init__(self) -> None:
        for name, annotation in _field_types(type(self)).items():
            if annotation is not None and not _accepts(getattr(self, name), annotation):
                raise self._bad(name, _describe(annotation))
        self._validate()

    def _validate(self) -> None:
        """Rules across settings, beyond each field's annotation; raise ``self._bad(name, allowed)``."""

    def _bad(self, name: str, allowed: str) -> ConfigError:
        return ConfigError(f"{name}={getattr(self, name)!r} is not allowed for the {self.label()} model; {allowed}.")

    @classmethod
    def label(cls) -> str:
        """The model's name in messages."""
        return cls.model_name or cls.__name__

    @classmethod
    def keys(cls) -> list[str]:
        """The names of the settings, in field order."""
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def describe(cls) -> list[tuple[str, str, Any]]:
        """``(name, what it allows, default)`` of each setting, in field order (``embrec models --settings``)."""
        types_ = _field_types(cls)
        return [
            (f.name, _describe(types_[f.name]) if types_[f.name] is not None else "", f.default)
            for f in dataclasses.fields(cls)
        ]

    @classmethod
    def _check_keys(cls, settings: Mapping[Any, Any]) -> None:
        allowed = cls.keys()
        unknown = [key for key in settings if key not in allowed]
        if unknown:
            raise ConfigError(_unknown_keys(cls, unknown))

    def to_dict(self) -> dict[str, Any]:
        """The settings by name (JSON-ready: every value is a plain number, text, bool or None)."""
        return {name: getattr(self, name) for name in self.keys()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Self:
        """The config with these settings (those left out keep their defaults)."""
        if not isinstance(values, Mapping):
            raise ConfigError(
                f"the settings of the {cls.label()} model must be a mapping of names to values, "
                f"got {type(values).__name__}: {values!r}."
            )
        cls._check_keys(values)
        return cls(**values)

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied (checked like a new config)."""
        return dataclasses.replace(self, **changes)


def _unknown_keys(cls: type[ModelConfig], unknown: Sequence[Any]) -> str:
    allowed = sorted(cls.keys())
    named = []
    for key in unknown:
        close = (
            [cls.renamed_keys[key]] if key in cls.renamed_keys else difflib.get_close_matches(str(key), allowed, n=1)
        )
        named.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return (
        f"unknown setting{'s' if len(named) > 1 else ''} {', '.join(named)} for the {cls.label()} model; "
        f"allowed: {', '.join(allowed) if allowed else 'none (it has no settings)'}."
    )


# ---------------------------------------------------------------------- the settings parser
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def _convert(text: str, kind: Any) -> Any:
    """``text`` as a value of ``kind``; ``ValueError`` when it is not one."""
    if kind is _NONE:
        if text.lower() in ("none", "null"):
            return None
        raise ValueError(text)
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(text)
    if kind is int:
        return int(text)
    if kind is float:
        return float(text)
    if typing.get_origin(kind) is Literal:
        for choice in typing.get_args(kind):
            if str(choice) == text:
                return choice
        raise ValueError(text)
    return text


def _typed(key: str, raw: Any, cls: type[ModelConfig], where: str) -> Any:
    """The setting ``key`` given as ``raw`` (text from ``--set``, or a TOML value), typed and checked."""
    annotation = _field_types(cls).get(key)
    if annotation is None:
        return raw
    value = raw
    if isinstance(raw, str):
        candidates = []
        for option in sorted(_options(annotation), key=lambda o: _unwrap(o)[0] is not _NONE):
            try:
                candidates.append(_convert(raw.strip(), _unwrap(option)[0]))
            except ValueError:
                continue
        accepted = [c for c in candidates if _accepts(c, annotation)]
        value = accepted[0] if accepted else candidates[0] if candidates else raw
    if not _accepts(value, annotation):
        raise ConfigError(
            f"{key}={value!r}{where} is not allowed for the {cls.label()} model; {_describe(annotation)}."
        )
    return value


def _read_toml(path: str | os.PathLike[str], cls: type[ModelConfig]) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            table = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"settings file {str(path)!r} does not exist; give the path of a TOML file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the settings file {str(path)!r} ({exc}).") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"settings file {str(path)!r} is not valid TOML ({exc}); write one `name = value` a line."
        ) from None
    tables = sorted(key for key, value in table.items() if isinstance(value, dict))
    if tables:
        raise ConfigError(
            f"settings file {str(path)!r} has the table(s) {', '.join(f'[{t}]' for t in tables)}; the settings of "
            f"the {cls.label()} model are top-level `name = value` lines, with no table header."
        )
    return table


def parse_settings(
    pairs: Sequence[str], toml_path: str | os.PathLike[str] | None, config_class: type[ModelConfig]
) -> dict[str, Any]:
    """Typed settings for ``config_class`` from ``name=value`` texts and a TOML file.

    The TOML file holds the settings as top-level ``name = value`` lines (no table header)::

        objective = "ranking"
        embedding_dim = 64
        n_negatives = "none"     # TOML has no null: "none" is None where a setting allows it

    Each text of ``pairs`` is ``name=value``, the value read by the field's type: whole numbers,
    numbers, ``true``/``false`` (also ``yes``/``no``, ``on``/``off``, ``1``/``0``), one of a
    ``Literal``'s choices, ``none`` where ``None`` is allowed, and plain text. A ``-`` in a name
    is read as ``_``. Pairs override the file, and a later pair an earlier one.

    Returns:
        The settings given, by name, ready for ``config_class(**settings)`` (or ``models.create``).

    Raises:
        ConfigError: an unknown name (with the closest allowed one), a text that is not
            ``name=value``, a value of the wrong kind or out of range, or an unreadable file.
    """
    settings: dict[str, Any] = {}
    if toml_path is not None:
        where = f" (in {os.fspath(toml_path)})"
        table = _read_toml(toml_path, config_class)
        config_class._check_keys({key.replace("-", "_"): None for key in table})
        for key, raw in table.items():
            settings[key.replace("-", "_")] = _typed(key.replace("-", "_"), raw, config_class, where)
    for pair in pairs:
        key, sep, text = str(pair).partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            allowed = config_class.keys()
            example = key if key in allowed else (allowed or ["name"])[0]
            raise ConfigError(
                f"setting {pair!r} is not name=value; write it as, for example, {example}=... "
                f"(settings of the {config_class.label()} model: {', '.join(sorted(config_class.keys())) or 'none'})."
            )
        config_class._check_keys({key: None})
        settings[key] = _typed(key, text, config_class, "")
    return settings


# ---------------------------------------------------------------------- the embedding model
Objective = Literal["rating", "ranking"]
Optimizer = Literal["auto", "adam", "sparse_adam"]
DecayMode = Literal["per_row", "decoupled"]

#: Measured defaults of the settings left as None, per objective.
OBJECTIVE_DEFAULTS: dict[str, dict[str, Any]] = {
    "rating": dict(
        embedding_dim=32,
        learning_rate=4e-3,
        weight_decay=3e-3,
        decay_mode="per_row",
        batch_size=1024,
        patience=3,
        refit=False,
    ),
    "ranking": dict(
        embedding_dim=64,
        learning_rate=4e-3,
        weight_decay=1.0,
        decay_mode="decoupled",
        batch_size=64,
        patience=4,
        refit=True,
    ),
}
#: Largest catalogue trained with the full softmax when ``n_negatives`` is not set.
FULL_SOFTMAX_MAX_ITEMS = 20_000
#: Sampled negatives per batch above that.
DEFAULT_NEGATIVES = 4_096
#: ``optimizer="auto"`` trains the rating objective with SparseAdam above this many users + items.
SPARSE_ABOVE = 50_000


@dataclass(frozen=True, kw_only=True)
class EmbeddingConfig(ModelConfig):
    """Configuration of :class:`~embrec.models.embedding.EmbeddingRecommender`.

    The defaults are the ones that measured best (see ``docs/benchmarks.md``); the
    ``notebook`` preset reproduces the university exercise exactly. Settings left ``None`` (and
    ``optimizer="auto"``, ``device="auto"``) are decided in ``fit`` for the objective and the
    data; the model keeps this config as given and what it used in ``resolved_config_``.
    """

    model_name: ClassVar[str] = "embedding"
    renamed_keys: ClassVar[Mapping[str, str]] = {"regularization": "decay_mode"}

    objective: Objective = "rating"
    """``rating``: sigmoid over min-max scaled ratings with MSE (the exercise's model).
    ``ranking``: the same embeddings trained with a softmax over items, for top-N lists."""
    embedding_dim: PositiveInt | None = None
    """Length of each user and item vector (default: 32 for rating, 64 for ranking)."""
    init_std: Positive = 0.01
    """Standard deviation of the normal initialisation of the embeddings (biases start at 0)."""
    learning_rate: Positive | None = None
    """Adam's step size (default: 4e-3 for both objectives)."""
    weight_decay: NonNegative | None = None
    """L2 strength on the embeddings (default: 3e-3 for rating, 1.0 for ranking); applied as
    ``decay_mode`` says."""
    decay_mode: DecayMode | None = None
    """``per_row``: ``weight_decay * (|p_u|^2 + |q_i|^2)`` added to the loss of each batch row
    (rating default); ``decoupled``: AdamW's weight decay on all vectors each step (ranking default)."""
    bias_weight_decay: NonNegative = 1e-3
    """Rating objective: per-row L2 penalty on the user and item biases."""
    batch_size: PositiveInt | None = None
    """Rating: rows per mini-batch (default 1024). Ranking: users per mini-batch (default 64)."""
    epochs: PositiveInt = 100
    """Most epochs to run (early stopping usually stops sooner)."""
    early_stopping: bool = True
    """Stop when the validation loss has not improved for ``patience`` epochs and restore the best epoch."""
    patience: PositiveInt | None = None
    """Epochs without improvement before stopping (default: 3 for rating, 4 for ranking)."""
    validation_fraction: OpenFraction = 0.05
    """Share of the training rows carved out (at random, seeded) to watch for early stopping."""
    refit: bool | None = None
    """After early stopping, train again on all training rows for the best number of epochs
    (default: off for rating, where it gained 0.002 RMSE for 60% more time; on for ranking, where
    NDCG@10 on ml-100k went from 0.309 to 0.313)."""
    liked_rating: float | None = 4.0
    """Ranking objective: ratings at or above this (in stars) count fully as positives..."""
    low_rating_weight: NonNegative = 0.5
    """...and rated items below it count with this weight (implicit data: every item counts 1).
    On ml-100k 0.5 measured NDCG@10 0.313 against 0.293 with every rated item counting 1."""
    global_bias: bool = True
    """Add a learned global offset (starts at the logit of the mean scaled rating)."""
    n_negatives: PositiveInt | None = None
    """Ranking objective: items sampled as shared negatives per batch; ``None`` uses the full
    softmax over the catalogue when it has at most 20,000 items, else 4,096 sampled negatives."""
    optimizer: Optimizer = "auto"
    """Rating objective: ``adam`` (dense, fused), ``sparse_adam`` (lazy updates of the rows in a
    batch; faster on large catalogues) or ``auto`` (sparse when users + items exceed 50,000)."""
    seed: Seed = 42
    """Seed of initialisation, validation carve-out and batch order: same seed, same model."""
    device: Device = "auto"
    """``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    threads: PositiveInt | None = 1
    """CPU threads for torch while training (``None``: torch's default). One thread measured
    fastest and steadiest on small data on a 2-core machine (see docs/benchmarks.md)."""

    def resolve(self, *, n_users: int, n_items: int, device: str) -> ResolvedEmbeddingConfig:
        """What training uses on data of ``n_users`` x ``n_items`` on ``device`` (the resolved device name)."""
        defaults = OBJECTIVE_DEFAULTS[self.objective]
        asked = self.to_dict()
        filled = {k: defaults[k] if asked[k] is None else asked[k] for k in defaults}
        decay_mode, weight_decay = filled["decay_mode"], filled["weight_decay"]
        n_negatives: int | None = None
        if self.objective == "ranking":
            optimizer = "adamw"
            if self.n_negatives is not None:
                n_negatives = None if self.n_negatives >= n_items else self.n_negatives
            elif n_items > FULL_SOFTMAX_MAX_ITEMS:
                n_negatives = DEFAULT_NEGATIVES
        else:
            sparse = decay_mode != "decoupled" and (
                n_users + n_items > SPARSE_ABOVE if self.optimizer == "auto" else self.optimizer == "sparse_adam"
            )
            optimizer = "sparse_adam" if sparse else "adamw" if decay_mode == "decoupled" and weight_decay else "adam"
        return ResolvedEmbeddingConfig.from_dict(
            {
                **asked,
                **filled,
                "optimizer": optimizer,
                "n_negatives": n_negatives,
                "device": device,
                "threads": self.threads if device == "cpu" else None,
            }
        )


@dataclass(frozen=True, kw_only=True)
class ResolvedEmbeddingConfig(ModelConfig):
    """What an :class:`~embrec.models.embedding.EmbeddingRecommender` trained with: its
    :class:`EmbeddingConfig` with every ``None`` and ``auto`` decided (``resolved_config_``).

    The settings mean what they mean in :class:`EmbeddingConfig`; those listed here were decided.
    """

    model_name: ClassVar[str] = "embedding (resolved)"

    objective: Objective
    embedding_dim: PositiveInt
    init_std: Positive
    learning_rate: Positive
    weight_decay: NonNegative
    decay_mode: DecayMode
    bias_weight_decay: NonNegative
    batch_size: PositiveInt
    epochs: PositiveInt
    early_stopping: bool
    patience: PositiveInt
    validation_fraction: OpenFraction
    refit: bool
    liked_rating: float | None
    low_rating_weight: NonNegative
    global_bias: bool
    n_negatives: PositiveInt | None
    """Items sampled as negatives per batch; ``None``: the full softmax (or the rating objective)."""
    optimizer: Literal["adam", "adamw", "sparse_adam"]
    """The optimizer used: ``adamw`` applies decoupled weight decay (every ranking model uses it)."""
    seed: Seed
    device: str
    """The device trained on (``cpu``, ``cuda``, ``cuda:N``); as asked for runs of format 1, which did not record it."""
    threads: PositiveInt | None
    """torch CPU threads while training; ``None`` on a GPU or for torch's default."""


PRESETS: dict[str, dict[str, Any]] = {
    # the exercise as written: dim 16, N(0,1) init, lr 0.01, batch 64, 10 epochs, no regularisation
    "notebook": dict(
        objective="rating",
        embedding_dim=16,
        init_std=1.0,
        learning_rate=0.01,
        weight_decay=0.0,
        decay_mode="per_row",
        bias_weight_decay=0.0,
        batch_size=64,
        epochs=10,
        early_stopping=False,
        refit=False,
        global_bias=False,
        optimizer="adam",
    ),
    "default": {},
    "ranking": dict(objective="ranking"),
}


def preset(name: str, **overrides: Any) -> EmbeddingConfig:
    """The named preset's configuration, with ``overrides`` applied."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
    return EmbeddingConfig.from_dict({**PRESETS[name], **overrides})

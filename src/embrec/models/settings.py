"""Model settings: the one config base every model's config derives from, and the settings parser.

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
import os
import tomllib
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

from embrec.errors import ConfigError
from embrec.models.fields import (
    MAX_EMBEDDING_DIM,
    MAX_THREADS,
    NONE,
    Bounds,
    Device,
    DeviceName,
    Dimension,
    NonNegative,
    OpenFraction,
    Positive,
    PositiveInt,
    Seed,
    Threads,
    accepts,
    describe,
    field_types,
    options,
    unwrap,
)

__all__ = [
    "Bounds",
    "Device",
    "DeviceName",
    "Dimension",
    "MAX_EMBEDDING_DIM",
    "MAX_THREADS",
    "ModelConfig",
    "NonNegative",
    "OpenFraction",
    "Positive",
    "PositiveInt",
    "Seed",
    "Threads",
    "parse_settings",
]


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

    @classmethod
    def search_space_for(cls, fixed: Mapping[str, Any]) -> Mapping[str, Any]:
        """What ``embrec tune`` tries when ``fixed`` settings are held: the declared ``search_space``
        (:mod:`embrec.models.space`); a config whose best ranges depend on a fixed setting overrides it."""
        return dict(getattr(cls, "search_space", None) or {})

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
        for name, annotation in field_types(type(self)).items():
            if annotation is not None and not accepts(getattr(self, name), annotation):
                raise self._bad(name, describe(annotation))
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
        types_ = field_types(cls)
        return [
            (f.name, describe(types_[f.name]) if types_[f.name] is not None else "", f.default)
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
    if kind is NONE:
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
    annotation = field_types(cls).get(key)
    if annotation is None:
        return raw
    value = raw
    if isinstance(raw, str):
        candidates = []
        for option in sorted(options(annotation), key=lambda o: unwrap(o)[0] is not NONE):
            try:
                candidates.append(_convert(raw.strip(), unwrap(option)[0]))
            except ValueError:
                continue
        accepted = [c for c in candidates if accepts(c, annotation)]
        value = accepted[0] if accepted else candidates[0] if candidates else raw
    if not accepts(value, annotation):
        raise ConfigError(f"{key}={value!r}{where} is not allowed for the {cls.label()} model; {describe(annotation)}.")
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

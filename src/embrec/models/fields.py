"""What a settings field accepts, read from its annotation: kinds, ranges, choices, and words for them.

``Annotated[int, Bounds(low=1)]`` is a whole number of at least 1; :func:`accepts` checks a
value against such an annotation and :func:`describe` says in words what it allows, for the
messages of :class:`~embrec.models.settings.ModelConfig`.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

__all__ = [
    "Bounds",
    "Device",
    "DeviceName",
    "Dimension",
    "MAX_EMBEDDING_DIM",
    "MAX_THREADS",
    "NONE",
    "NonNegative",
    "OpenFraction",
    "Positive",
    "PositiveInt",
    "Seed",
    "Threads",
    "accepts",
    "describe",
    "field_types",
    "options",
    "unwrap",
]


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

#: Longest user or item vector a model may be asked for: 4096 floats per user and item already
#: make ml-25m's 220,000 users and films 3.6 GB; a typo such as 1000000000 would ask for terabytes.
MAX_EMBEDDING_DIM = 4096
#: Most CPU threads a model may be asked to train with (torch, BLAS and OpenMP refuse or
#: crash far above it, and no machine embrec runs on has more cores).
MAX_THREADS = 256
#: The length of each user and item vector: a whole number from 1 to :data:`MAX_EMBEDDING_DIM`.
Dimension = Annotated[int, Bounds(low=1, high=MAX_EMBEDDING_DIM)]
#: CPU threads: a whole number from 1 to :data:`MAX_THREADS`.
Threads = Annotated[int, Bounds(low=1, high=MAX_THREADS)]

#: The type of ``None``, as it appears in ``X | None`` annotations.
NONE = type(None)


def options(annotation: Any) -> tuple[Any, ...]:
    """The alternatives of a union annotation (the annotation alone when it is not one)."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def unwrap(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    """``(type, constraints)`` of ``Annotated[type, *constraints]`` (or ``(annotation, ())``)."""
    if typing.get_origin(annotation) is Annotated:
        base, *extras = typing.get_args(annotation)
        return base, tuple(x for x in extras if isinstance(x, _CONSTRAINTS))
    return annotation, ()


def _is_a(value: Any, kind: Any) -> bool:
    if kind is NONE or kind is None:
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


def accepts(value: Any, annotation: Any) -> bool:
    for option in options(annotation):
        kind, constraints = unwrap(option)
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


def describe(annotation: Any) -> str:
    """What an annotation allows, in words: ``give a whole number of at least 1, or None``."""
    parts, none = [], False
    for option in options(annotation):
        kind, constraints = unwrap(option)
        if kind is NONE:
            none = True
            continue
        text = _describe_kind(kind)
        for constraint in constraints:
            text = constraint.describe(text)
        parts.append(text)
    text = " or ".join(parts)
    return f"{text}, or None" if none else text


_FIELD_TYPES: dict[type, dict[str, Any]] = {}  # a memo of field_types


def field_types(cls: type) -> dict[str, Any]:
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

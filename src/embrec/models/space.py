"""Search spaces of model settings: what ``embrec tune`` may try for each setting of a model.

A model's config declares its space beside its fields, as a class attribute::

    search_space: ClassVar[SearchSpace] = {
        "weight_decay": Float(10.0, 5000.0, log=True),
        "neighbours": Int(5, 200, log=True),
        "embedding_dim": Choice((16, 32, 64, 128)),
    }

The three kinds are plain frozen dataclasses with nothing to import but the standard library,
so a config module (which the command line reads without torch) can declare its space, and
:mod:`embrec.tuning` turns them into Optuna distributions when it tunes. A config without
``search_space`` (or with an empty one) has nothing to tune.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from embrec.errors import ConfigError

__all__ = ["Choice", "Float", "Int", "Range", "SearchSpace", "search_space_of"]


def _number(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


@dataclass(frozen=True)
class Float:
    """A real number from ``low`` to ``high`` (both included); ``log``: drawn uniformly in log space."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low > self.high:
            raise ConfigError(f"Float({self.low!r}, {self.high!r}) is not a range; give finite low <= high.")
        if self.log and self.low <= 0:
            raise ConfigError(f"Float({self.low!r}, {self.high!r}, log=True) needs low above 0.")

    def describe(self) -> str:
        return f"{_number(self.low)} to {_number(self.high)}" + (", log-uniform" if self.log else ", uniform")


@dataclass(frozen=True)
class Int:
    """A whole number from ``low`` to ``high`` (both included); ``log``: drawn uniformly in log space."""

    low: int
    high: int
    log: bool = False

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ConfigError(f"Int({self.low!r}, {self.high!r}) is not a range; give low <= high.")
        if self.log and self.low < 1:
            raise ConfigError(f"Int({self.low!r}, {self.high!r}, log=True) needs low of at least 1.")

    def describe(self) -> str:
        return f"whole numbers {self.low} to {self.high}" + (", log-uniform" if self.log else "")


@dataclass(frozen=True)
class Choice:
    """One of a few values (numbers, text or booleans), each as likely a priori."""

    choices: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.choices:
            raise ConfigError("Choice(()) has nothing to choose from; give at least one value.")
        object.__setattr__(self, "choices", tuple(self.choices))

    def describe(self) -> str:
        return "one of " + ", ".join(repr(c) for c in self.choices)


#: One setting's range.
Range: TypeAlias = Float | Int | Choice
#: A model's search space: setting name -> its range.
SearchSpace: TypeAlias = Mapping[str, Range]


def search_space_of(config_class: type) -> SearchSpace:
    """The ``search_space`` a config class declares (empty when it declares none)."""
    space = getattr(config_class, "search_space", None)
    return dict(space) if space else {}

"""Baselines every new model should beat, under the same :class:`~embrec.models.Recommender` interface.

* ``popularity`` (:class:`PopularityRecommender`): items ranked by how many training users have them.
* ``biases`` (:class:`BiasRecommender`): damped global, user and item biases; predicts stars.
* ``ease`` (:class:`EASERecommender`): Steck's closed-form item-item model.
* ``als`` and ``bpr`` (:class:`ALSRecommender`, :class:`BPRRecommender`): matrix factorisation
  from the ``implicit`` library.

Importing this package registers every one of them (``embrec.models.create("ease")``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Self

from embrec.errors import ConfigError

__all__ = [
    "ALSConfig",
    "ALSRecommender",
    "BPRConfig",
    "BPRRecommender",
    "BaselineConfig",
    "BiasConfig",
    "BiasRecommender",
    "EASEConfig",
    "EASERecommender",
    "PopularityConfig",
    "PopularityRecommender",
]


@dataclasses.dataclass(frozen=True, kw_only=True)
class BaselineConfig:
    """What every baseline's config shares: a dict round trip and value checks.

    Subclasses are frozen keyword-only dataclasses whose fields carry docstrings.
    """

    #: The model's name, used in messages.
    _label: ClassVar[str] = "baseline"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Self:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown setting(s) {', '.join(unknown)} for the {cls._label} model; "
                f"allowed: {', '.join(sorted(known)) or 'none'}."
            )
        return cls(**values)

    def replace(self, **changes: Any) -> Self:
        return self.from_dict({**self.to_dict(), **changes})

    # ------------------------------------------------------------------ checks for __post_init__
    def _bad(self, name: str, allowed: str) -> ConfigError:
        return ConfigError(f"{name}={getattr(self, name)!r} is not allowed for the {self._label} model; {allowed}.")

    def _check_whole(self, *names: str, allow_none: bool = False) -> None:
        for name in names:
            value = getattr(self, name)
            if value is None and allow_none:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise self._bad(name, "give a whole number of at least 1" + (", or None" if allow_none else ""))

    def _check_number(self, *names: str, minimum: float = 0.0, strict: bool = False) -> None:
        for name in names:
            value = getattr(self, name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not ok or not (value > minimum if strict else value >= minimum) or value != value:
                word = "above" if strict else "of at least"
                raise self._bad(name, f"give a number {word} {minimum:g}")

    def _check_device(self, name: str = "device") -> None:
        value = getattr(self, name)
        if not isinstance(value, str) or not (value in ("auto", "cpu", "cuda") or value.startswith("cuda:")):
            raise self._bad(name, "use 'auto', 'cpu', 'cuda' or 'cuda:N'")


# The model modules import BaselineConfig from here, so they are imported after it is defined.
from embrec.models.baselines.biases import BiasConfig, BiasRecommender  # noqa: E402
from embrec.models.baselines.ease import EASEConfig, EASERecommender  # noqa: E402
from embrec.models.baselines.implicit_models import (  # noqa: E402
    ALSConfig,
    ALSRecommender,
    BPRConfig,
    BPRRecommender,
)
from embrec.models.baselines.popularity import PopularityConfig, PopularityRecommender  # noqa: E402

"""A model's declared search space (:mod:`embrec.models.space`) as Optuna distributions.

Optuna is imported by the functions that need it, never at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from embrec.errors import ConfigError
from embrec.models.space import Choice, Float, Int, Range, SearchSpace, search_space_of

if TYPE_CHECKING:
    from embrec.data.interactions import Interactions

__all__ = ["defaults_in_space", "describe_space", "distributions", "model_space"]


def model_space(model: str, fixed: Mapping[str, Any] | None = None) -> dict[str, Range]:
    """The ranges ``tune`` tries for ``model``: its config's ``search_space`` less the ``fixed`` settings.

    Raises:
        ConfigError: an unknown model, or one with nothing (left) to tune.
    """
    from embrec.models import registry

    config_class = registry.get(model).config_class
    choose = getattr(config_class, "search_space_for", None)
    declared = dict(choose(dict(fixed or {}))) if choose is not None else search_space_of(config_class)
    if not declared:
        raise ConfigError(f"model {model!r} has nothing to tune: its settings declare no search space.")
    space = {name: spec for name, spec in declared.items() if name not in (fixed or {})}
    if not space:
        raise ConfigError(
            f"model {model!r} has nothing left to tune: the fixed settings {', '.join(sorted(fixed or {}))} "
            f"cover its whole search space ({', '.join(declared)}); fix fewer of them."
        )
    return space


def distributions(space: SearchSpace) -> dict[str, Any]:
    """``{name: optuna distribution}`` of a search space."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for name, spec in space.items():
        if isinstance(spec, Float):
            out[name] = FloatDistribution(spec.low, spec.high, log=spec.log)
        elif isinstance(spec, Int):
            out[name] = IntDistribution(spec.low, spec.high, log=spec.log)
        elif isinstance(spec, Choice):
            out[name] = CategoricalDistribution(spec.choices)
        else:
            raise ConfigError(f"the search space of {name!r} is {spec!r}; declare a Float, Int or Choice.")
    return out


def _inside(value: Any, spec: Range) -> bool:
    if isinstance(spec, Choice):
        return value in spec.choices
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return spec.low <= value <= spec.high


def defaults_in_space(model: str, space: SearchSpace, fixed: Mapping[str, Any], train: Interactions) -> dict[str, Any]:
    """The settings of ``space`` that the model with the ``fixed`` settings would train with on
    ``train`` (its defaults, those decided in ``fit`` decided for this data), where they lie
    inside ``space``: a study's first trial, so the best found is never worse than them."""
    from embrec.models import registry

    used = registry.create(model, **fixed).settings_for(train)
    return {
        name: used[name] for name, spec in space.items() if used.get(name) is not None and _inside(used[name], spec)
    }


def describe_space(space: SearchSpace) -> dict[str, str]:
    """``{name: what it spans}``, in words (for messages, the docs and a study's fingerprint)."""
    return {name: spec.describe() for name, spec in space.items()}

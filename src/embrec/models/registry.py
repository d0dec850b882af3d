"""A small registry of models: ``create(name, **config)`` instead of if/elif chains."""

from __future__ import annotations

from typing import Any, TypeVar

from embrec.errors import ConfigError
from embrec.models.base import Recommender

__all__ = ["available", "create", "get", "register"]

_MODELS: dict[str, type[Recommender]] = {}
_BUILTINS_LOADED = False

R = TypeVar("R", bound=type[Recommender])


def register(cls: R) -> R:
    """Class decorator adding a model under its ``name``."""
    _MODELS[cls.name] = cls
    return cls


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        import embrec.models.embedding  # noqa: F401  (registers itself)

        import embrec.models.baselines  # noqa: F401


def available() -> list[str]:
    """Names of the registered models."""
    _load_builtins()
    return sorted(_MODELS)


def get(name: str) -> type[Recommender]:
    """The model class registered under ``name``."""
    _load_builtins()
    if name not in _MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(sorted(_MODELS))}.")
    return _MODELS[name]


def create(name: str, **config: Any) -> Recommender:
    """A new, unfitted model: ``create("embedding", embedding_dim=64)``."""
    return get(name)(**config)


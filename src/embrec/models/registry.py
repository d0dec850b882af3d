"""A small registry of models: ``create(name, **config)`` instead of if/elif chains.

The built-in models are a static table of ``name -> "module:Class"``, imported on first use, so
importing the registry imports no model (nor torch). A plugin adds its own with
:func:`register`. Adding a built-in model is one module plus one line in :data:`BUILTINS`.
"""

from __future__ import annotations

import difflib
import importlib
from typing import TYPE_CHECKING, Any

from embrec.errors import ConfigError

if TYPE_CHECKING:
    from embrec.models.base import Recommender

__all__ = ["BUILTINS", "available", "create", "get", "register", "unregister"]

#: The built-in models: registry name -> ``"module:Class"``.
BUILTINS: dict[str, str] = {
    "embedding": "embrec.models.embedding:EmbeddingRecommender",
    "popularity": "embrec.models.baselines.popularity:PopularityRecommender",
    "biases": "embrec.models.baselines.biases:BiasRecommender",
    "ease": "embrec.models.baselines.ease:EASERecommender",
    "als": "embrec.models.baselines.implicit_models:ALSRecommender",
    "bpr": "embrec.models.baselines.implicit_models:BPRRecommender",
    "item_knn": "embrec.models.baselines.knn:ItemKNNRecommender",
    "user_knn": "embrec.models.baselines.knn:UserKNNRecommender",
}

# filled only by register() calls, never on import
_plugins: dict[str, type[Recommender] | str] = {}


def _target(model: type[Recommender] | str) -> str:
    return model if isinstance(model, str) else f"{model.__module__}:{model.__qualname__}"


def register(name: str, model: type[Recommender] | str, *, replace: bool = False) -> None:
    """Add a model under ``name``: its class, or ``"module:Class"`` to import on first use.

    The class's ``name`` must be ``name`` (a run folder records it to load the model back).
    Registering the same model again does nothing; another model under a taken name needs
    ``replace=True``.
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"a model is registered under a non-empty name, got {name!r}.")
    if not isinstance(model, str) and getattr(model, "name", None) != name:
        raise ConfigError(
            f"register({name!r}, {model.__qualname__}) but {model.__qualname__}.name is "
            f"{getattr(model, 'name', None)!r}; set name = {name!r} on the class."
        )
    taken = _plugins.get(name, BUILTINS.get(name))
    if taken is not None and _target(taken) != _target(model) and not replace:
        raise ConfigError(
            f"the model name {name!r} is taken by {_target(taken)}; choose another name, or pass replace=True."
        )
    _plugins[name] = model


def unregister(name: str) -> None:
    """Remove a model added with :func:`register` (built-in ones stay)."""
    _plugins.pop(name, None)


def available() -> list[str]:
    """Names of the registered models."""
    return sorted({**BUILTINS, **_plugins})


def get(name: str) -> type[Recommender]:
    """The model class registered under ``name``."""
    target = _plugins.get(name, BUILTINS.get(name))
    if target is None:
        close = difflib.get_close_matches(str(name), available(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"unknown model {name!r}{hint}; choose one of {', '.join(available())}, "
            "or add yours with embrec.models.register(name, cls)."
        )
    if not isinstance(target, str):
        return target
    module_name, _, class_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"model {name!r} is registered as {target!r}, which cannot be imported ({exc}).") from None
    if getattr(cls, "name", None) != name:
        raise ConfigError(f"model {name!r} is registered as {target!r}, whose name is {getattr(cls, 'name', None)!r}.")
    return cls


def create(name: str, **config: Any) -> Recommender:
    """A new, unfitted model: ``create("embedding", embedding_dim=64)``."""
    return get(name)(**config)

"""Models: one module per family, a shared base class, one config base, and a registry.

Names are imported on first use, so ``from embrec.models import parse_settings`` (or the
registry) does not import torch.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from embrec.models.base import Recommender
    from embrec.models.config import EmbeddingConfig, ModelConfig, parse_settings, preset
    from embrec.models.registry import available, create, get, register, unregister

__all__ = [
    "EmbeddingConfig",
    "ModelConfig",
    "Recommender",
    "available",
    "create",
    "get",
    "load",
    "parse_settings",
    "preset",
    "register",
    "unregister",
]

#: Where each public name lives (imported on first use).
_HOMES = {
    "Recommender": "embrec.models.base",
    "EmbeddingConfig": "embrec.models.config",
    "ModelConfig": "embrec.models.config",
    "parse_settings": "embrec.models.config",
    "preset": "embrec.models.config",
    "available": "embrec.models.registry",
    "create": "embrec.models.registry",
    "get": "embrec.models.registry",
    "register": "embrec.models.registry",
    "unregister": "embrec.models.registry",
}


def load(path: str | Path) -> Recommender:
    """Load any saved model from its run folder (:meth:`Recommender.save` writes one)."""
    from embrec.models.io import load_run

    return load_run(Path(path))


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'embrec.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

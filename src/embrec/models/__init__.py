"""Models: one module per family, a shared base class, one config base, and a registry.

Names are imported on first use, so ``from embrec.models import parse_settings`` (or the
registry) does not import torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from embrec._lazy import lazy_exports

if TYPE_CHECKING:
    from embrec.models.base import Recommender
    from embrec.models.config import EmbeddingConfig, preset
    from embrec.models.registry import available, create, get, register, unregister
    from embrec.models.settings import ModelConfig, parse_settings

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
    "ModelConfig": "embrec.models.settings",
    "parse_settings": "embrec.models.settings",
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


__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals())

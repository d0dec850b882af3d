"""Models: one module per family, a shared base class, and a registry."""

from embrec.models.base import Recommender
from embrec.models.config import EmbeddingConfig, preset
from embrec.models.registry import available, create, get, register

__all__ = ["EmbeddingConfig", "Recommender", "available", "create", "get", "preset", "register", "load"]


def load(path: str) -> Recommender:
    """Load a saved run folder."""
    return Recommender.load(path)

"""Data: the Interactions container, loaders, the built-in datasets and splits."""

from embrec.data.build import DuplicatePolicy, build_interactions
from embrec.data.interactions import Interactions

__all__ = ["DuplicatePolicy", "Interactions", "build_interactions"]

"""Data: the Interactions container, loaders, the built-in datasets and splits.

Names are imported on first use, so ``embrec.data.options`` (what the command line declares
its options from) loads without NumPy or pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from embrec._lazy import lazy_exports

if TYPE_CHECKING:
    from embrec.data.build import build_interactions
    from embrec.data.choices import DuplicatePolicy
    from embrec.data.interactions import Interactions

__all__ = ["DuplicatePolicy", "Interactions", "build_interactions"]

_HOMES = {
    "DuplicatePolicy": "embrec.data.choices",
    "Interactions": "embrec.data.interactions",
    "build_interactions": "embrec.data.build",
}

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals())

"""embrec: embedding-based recommendation, from ratings to recommendations you can trust.

The public API, from a raw ratings file to an evaluated top-10::

    import embrec

    split = embrec.make_split(embrec.load_data("ratings.csv"), "random", seed=42)
    model = embrec.create("embedding", objective="ranking").fit(split.train)
    result = embrec.evaluate(model, split, k=10)   # result.to_markdown(), .to_json(), .summary_frame()

Functions are imported on first use, so ``import embrec`` (and ``embrec --help``) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from embrec._lazy import lazy_exports
from embrec.errors import (
    ConfigError,
    DataError,
    DatasetNotFoundError,
    DownloadError,
    EmbrecError,
    ModelFileError,
    NotFittedError,
    SplitError,
    TrainingError,
    UnknownIdError,
)

if TYPE_CHECKING:
    from embrec.data.load import load_data
    from embrec.data.splits import make_split
    from embrec.evaluation import evaluate, evaluate_lists
    from embrec.models import create, load

__version__ = "0.1.0"

#: Where each public function lives (imported on first use).
_HOMES = {
    "load_data": "embrec.data.load",
    "make_split": "embrec.data.splits",
    "create": "embrec.models",
    "load": "embrec.models",
    "evaluate": "embrec.evaluation",
    "evaluate_lists": "embrec.evaluation",
}

__all__ = [
    "ConfigError",
    "DataError",
    "DatasetNotFoundError",
    "DownloadError",
    "EmbrecError",
    "ModelFileError",
    "NotFittedError",
    "SplitError",
    "TrainingError",
    "UnknownIdError",
    "__version__",
    "create",
    "evaluate",
    "evaluate_lists",
    "load",
    "load_data",
    "make_split",
]

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, globals())

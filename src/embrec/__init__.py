"""embrec: embedding-based recommendation, from ratings to recommendations you can trust."""

from embrec.errors import (
    ConfigError,
    DataError,
    EmbrecError,
    ModelFileError,
    NotFittedError,
    UnknownIdError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "EmbrecError",
    "ModelFileError",
    "NotFittedError",
    "UnknownIdError",
    "__version__",
]

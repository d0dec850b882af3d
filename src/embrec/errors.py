"""The one exception hierarchy of embrec.

Every error a user can cause derives from :class:`EmbrecError`. Messages name the bad
value, what is allowed, and how to fix it; the CLI prints them as one line.
"""

from __future__ import annotations

__all__ = [
    "EmbrecError",
    "MissingExtraError",
    "DataError",
    "DatasetNotFoundError",
    "DownloadError",
    "ChecksumError",
    "SplitError",
    "ConfigError",
    "UnknownIdError",
    "NotFittedError",
    "ModelFileError",
    "TrainingError",
]


class EmbrecError(Exception):
    """Base class of every error embrec raises on bad input or state."""


class DataError(EmbrecError):
    """A ratings or metadata file (or frame) cannot be used as given."""


class DatasetNotFoundError(DataError):
    """A built-in dataset is not on disk and cannot be downloaded."""


class DownloadError(EmbrecError):
    """A download failed; nothing was left behind."""


class ChecksumError(DownloadError):
    """A downloaded file does not have the expected checksum."""


class SplitError(EmbrecError):
    """A split cannot be made with the given options."""


class ConfigError(EmbrecError):
    """A configuration value is out of range or of the wrong kind."""


class UnknownIdError(EmbrecError, KeyError):
    """A user or item id is not in the model's or dataset's vocabulary."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


class NotFittedError(EmbrecError):
    """A model was used before ``fit``."""


class ModelFileError(EmbrecError):
    """A saved run folder is missing, corrupt, or from a newer format."""


class TrainingError(EmbrecError):
    """Training could not go on (for example the loss became NaN)."""


class MissingExtraError(EmbrecError, ImportError):
    """A part of embrec needs an optional extra that is not installed (``pip install 'embrec[serve]'``)."""

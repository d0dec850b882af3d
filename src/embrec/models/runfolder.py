"""The run folder's format, and writing it: a model's weights, settings, vocabulary and history.

Layout (format version 2)::

    run/
      embrec.json          format version, model name, config (the settings asked for), resolved
                           (the settings training used), data fingerprint, rating scale, extra,
                           and the checksums of the other files
      weights.safetensors  learned arrays (never pickle)
      vocab.json           user and item ids in index order
      items.json           item metadata (title, year, genres), when the data had any
      seen.npz             users x items training matrix (CSR arrays, loaded with allow_pickle=False)
      history.json         per-epoch training figures

``checksums`` in ``embrec.json`` maps each other file's name to its sha256 and size,
``{"weights.safetensors": {"sha256": "9f86d0...", "bytes": 5120}, ...}``, so a file damaged or
swapped after saving is refused when the run is opened. Runs saved before checksums were
recorded (format 1, and format 2 by embrec 0.1) have none and still load.

Format 1 had no ``resolved`` and called the L2 strength ``regularization``;
:mod:`embrec.models.io` reads both. The folder is built beside its destination and renamed into
place (:func:`embrec.atomic.folder`), every file written by :mod:`embrec.atomic` so that each
gets the permissions of a plain ``open()`` under the user's umask, and a crash never leaves a
half-written model. This module knows no model class, so
:class:`~embrec.models.base.Recommender` can save through it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from safetensors.numpy import save_file

from embrec import atomic
from embrec.errors import EmbrecError

if TYPE_CHECKING:
    from embrec.models.base import Recommender

__all__ = [
    "CHECKSUMMED_FILES",
    "FORMAT_VERSION",
    "OPTIONAL_FILES",
    "RUN_FILES",
    "file_checksum",
    "ids_to_json",
    "save_run",
]

FORMAT_VERSION = 2
#: The files every run folder has (``items.json`` only when the data had item metadata).
RUN_FILES = ("embrec.json", "weights.safetensors", "vocab.json", "seen.npz", "history.json")
#: The files a run folder has only sometimes.
OPTIONAL_FILES = ("items.json",)
#: The files whose checksums ``embrec.json`` records: all but itself.
CHECKSUMMED_FILES = (*RUN_FILES[1:], *OPTIONAL_FILES)


def ids_to_json(ids: np.ndarray) -> list[Any]:
    return ids.tolist() if ids.dtype.kind in "iu" else [str(x) for x in ids]


def file_checksum(path: Path) -> dict[str, Any]:
    """``{"sha256": hex digest, "bytes": size}`` of a file, as ``embrec.json`` records it."""
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return {"sha256": digest, "bytes": path.stat().st_size}


def _write_seen(model: Recommender, tmp: Path) -> None:
    seen = model.seen_.tocsr()
    with open(tmp, "wb") as handle:  # a handle: given a path, np.savez would append ".npz" to it
        np.savez(handle, indptr=seen.indptr, indices=seen.indices, shape=np.asarray(seen.shape))


def save_run(model: Recommender, path: Path, *, extra: dict[str, Any] | None = None) -> Path:
    """Write the fitted ``model`` to the run folder ``path`` (replacing an earlier run there)."""
    from embrec import __version__

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise EmbrecError(f"cannot save the run to {path}: it is a file; give a folder path.")
    if path.is_dir() and any(path.iterdir()) and not (path / "embrec.json").is_file():
        raise EmbrecError(f"cannot save the run to {path}: the folder holds other files; give an empty or new folder.")
    resolved = getattr(model, "resolved_config_", None) or model.config
    with atomic.folder(path, replace=True) as staging:
        state = {k: np.ascontiguousarray(v) for k, v in model._get_state().items()}
        # through the atomic writer: safetensors itself would leave the file readable by its owner only
        atomic.write_with(staging / "weights.safetensors", lambda tmp: save_file(state, str(tmp)))
        vocab = {"user_ids": ids_to_json(model.user_ids_), "item_ids": ids_to_json(model.item_ids_)}
        atomic.write_text(staging / "vocab.json", json.dumps(vocab))
        meta = model.item_metadata_
        if meta is not None:
            atomic.write_with(staging / "items.json", lambda tmp: meta.to_json(tmp, orient="records"))
        atomic.write_with(staging / "seen.npz", lambda tmp: _write_seen(model, tmp))
        atomic.write_text(staging / "history.json", json.dumps(model.history_, indent=1))
        info = {
            "format_version": FORMAT_VERSION,
            "embrec_version": __version__,
            "model": model.name,
            "config": model.config.to_dict(),
            "resolved": resolved.to_dict(),
            "rating_scale": [float(x) for x in model.rating_scale_] if model.rating_scale_ else None,
            "n_users": int(len(model.user_ids_)),
            "n_items": int(len(model.item_ids_)),
            "data_fingerprint": getattr(model, "data_fingerprint_", None),
            "extra": extra or {},
            "checksums": {
                name: file_checksum(staging / name) for name in CHECKSUMMED_FILES if (staging / name).is_file()
            },
        }
        atomic.write_text(staging / "embrec.json", json.dumps(info, indent=2, default=str))
    return path

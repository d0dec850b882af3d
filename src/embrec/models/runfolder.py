"""The run folder's format, and writing it: a model's weights, settings, vocabulary and history.

Layout (format version 2)::

    run/
      embrec.json          format version, model name, config (the settings asked for), resolved
                           (the settings training used), data fingerprint, rating scale, extra
      weights.safetensors  learned arrays (never pickle)
      vocab.json           user and item ids in index order
      items.json           item metadata (title, year, genres), when the data had any
      seen.npz             users x items training matrix (CSR arrays, loaded with allow_pickle=False)
      history.json         per-epoch training figures

Format 1 had no ``resolved`` and called the L2 strength ``regularization``;
:mod:`embrec.models.io` reads both. The folder is built beside its destination and renamed into
place (:func:`embrec.atomic.folder`), so a crash never leaves a half-written model. This module
knows no model class, so :class:`~embrec.models.base.Recommender` can save through it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from safetensors.numpy import save_file

from embrec import atomic
from embrec.errors import EmbrecError

if TYPE_CHECKING:
    from embrec.models.base import Recommender

__all__ = ["FORMAT_VERSION", "RUN_FILES", "ids_to_json", "save_run"]

FORMAT_VERSION = 2
#: The files every run folder has (``items.json`` only when the data had item metadata).
RUN_FILES = ("embrec.json", "weights.safetensors", "vocab.json", "seen.npz", "history.json")


def ids_to_json(ids: np.ndarray) -> list[Any]:
    return ids.tolist() if ids.dtype.kind in "iu" else [str(x) for x in ids]


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
        save_file(state, str(staging / "weights.safetensors"))
        info = {
            "format_version": FORMAT_VERSION,
            "embrec_version": __version__,
            "model": model.name,
            "config": model.config.to_dict(),
            "resolved": resolved.to_dict(),
            "rating_scale": list(model.rating_scale_) if model.rating_scale_ else None,
            "n_users": int(len(model.user_ids_)),
            "n_items": int(len(model.item_ids_)),
            "data_fingerprint": getattr(model, "data_fingerprint_", None),
            "extra": extra or {},
        }
        (staging / "embrec.json").write_text(json.dumps(info, indent=2, default=str))
        vocab = {"user_ids": ids_to_json(model.user_ids_), "item_ids": ids_to_json(model.item_ids_)}
        (staging / "vocab.json").write_text(json.dumps(vocab))
        if model.item_metadata_ is not None:
            model.item_metadata_.to_json(staging / "items.json", orient="records")
        seen = model.seen_.tocsr()
        np.savez(staging / "seen.npz", indptr=seen.indptr, indices=seen.indices, shape=np.asarray(seen.shape))
        (staging / "history.json").write_text(json.dumps(model.history_, indent=1))
    return path

"""Run folders: a model's weights, config, vocabulary and history, written atomically.

Layout (format version 1)::

    run/
      embrec.json          format version, model name, config, data fingerprint, rating scale, extra
      weights.safetensors  learned arrays (never pickle)
      vocab.json           user and item ids in index order
      items.json           item metadata (title, year, genres), when the data had any
      seen.npz             users x items training matrix (CSR arrays, loaded with allow_pickle=False)
      history.json         per-epoch training figures

The folder is built beside its destination and renamed into place, so a crash never leaves
a half-written model.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from embrec.errors import EmbrecError, ModelFileError

if TYPE_CHECKING:
    from embrec.models.base import Recommender

__all__ = ["FORMAT_VERSION", "load_run", "save_run", "read_run_info"]

FORMAT_VERSION = 1
_FILES = ("embrec.json", "weights.safetensors", "vocab.json", "seen.npz", "history.json")


def _ids_to_json(ids: np.ndarray) -> list[Any]:
    return ids.tolist() if ids.dtype.kind in "iu" else [str(x) for x in ids]


def _ids_from_json(values: list[Any]) -> np.ndarray:
    if all(isinstance(v, int) for v in values):
        return np.asarray(values, dtype=np.int64)
    return np.asarray(values, dtype=object)


def save_run(model: "Recommender", path: Path, *, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to the run folder ``path`` (replacing an earlier run there)."""
    from embrec import __version__

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise EmbrecError(f"cannot save the run to {path}: it is a file; give a folder path.")
    if path.is_dir() and any(path.iterdir()) and not (path / "embrec.json").is_file():
        raise EmbrecError(
            f"cannot save the run to {path}: the folder holds other files; give an empty or new folder."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it 0700; a run folder is an ordinary folder
    try:
        state = {k: np.ascontiguousarray(v) for k, v in model._get_state().items()}
        save_file(state, str(staging / "weights.safetensors"))
        info = {
            "format_version": FORMAT_VERSION,
            "embrec_version": __version__,
            "model": model.name,
            "config": model.config.to_dict(),
            "rating_scale": list(model.rating_scale_) if model.rating_scale_ else None,
            "n_users": int(len(model.user_ids_)),
            "n_items": int(len(model.item_ids_)),
            "data_fingerprint": getattr(model, "data_fingerprint_", None),
            "extra": extra or {},
        }
        (staging / "embrec.json").write_text(json.dumps(info, indent=2, default=str))
        vocab = {"user_ids": _ids_to_json(model.user_ids_), "item_ids": _ids_to_json(model.item_ids_)}
        (staging / "vocab.json").write_text(json.dumps(vocab))
        if model.item_metadata_ is not None:
            model.item_metadata_.to_json(staging / "items.json", orient="records")
        seen = model.seen_.tocsr()
        np.savez(staging / "seen.npz", indptr=seen.indptr, indices=seen.indices, shape=np.asarray(seen.shape))
        (staging / "history.json").write_text(json.dumps(model.history_, indent=1))
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            os.replace(path, old / "run")
            os.replace(staging, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def read_run_info(path: Path) -> dict[str, Any]:
    """The run's ``embrec.json``, checked for a format this version can read."""
    path = Path(path)
    if not path.is_dir():
        raise ModelFileError(f"no run folder at {path}; train one with `embrec train --out {path}`.")
    meta_file = path / "embrec.json"
    try:
        info = json.loads(meta_file.read_text())
    except FileNotFoundError:
        raise ModelFileError(f"{path} is not an embrec run: {meta_file.name} is missing. Train again with `embrec train --out {path}`.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{meta_file} is corrupt ({exc}); train the model again.") from None
    version = info.get("format_version") if isinstance(info, dict) else None
    if not isinstance(version, int):
        raise ModelFileError(f"{meta_file} has no format_version; it was not written by embrec. Train the model again.")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} uses run format {version}, newer than this embrec reads ({FORMAT_VERSION}); upgrade embrec "
            "(pip install -U embrec) or train the model again with this version."
        )
    return info


def load_run(path: Path) -> "Recommender":
    """Load the model saved in ``path``; identical scores to the model that was saved."""
    from embrec.models.registry import get

    path = Path(path)
    info = read_run_info(path)
    for name in _FILES:
        if not (path / name).is_file():
            raise ModelFileError(f"{path} is incomplete: {name} is missing. Train the model again.")
    cls = get(info["model"])
    try:
        config = cls.config_class.from_dict(info["config"])
        state = load_file(str(path / "weights.safetensors"))
        vocab = json.loads((path / "vocab.json").read_text())
        with np.load(path / "seen.npz", allow_pickle=False) as z:
            shape = tuple(int(x) for x in z["shape"])
            indptr, indices = z["indptr"], z["indices"]
        seen = sp.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr), shape=shape)
        history = json.loads((path / "history.json").read_text())
        items_file = path / "items.json"
        meta = pd.read_json(items_file, orient="records") if items_file.is_file() else None
    except (SafetensorError, json.JSONDecodeError, ValueError, KeyError, OSError, EOFError) as exc:
        raise ModelFileError(f"{path} is corrupt ({type(exc).__name__}: {exc}); train the model again.") from None
    user_ids = _ids_from_json(vocab["user_ids"])
    item_ids = _ids_from_json(vocab["item_ids"])
    if seen.shape != (len(user_ids), len(item_ids)):
        raise ModelFileError(f"{path} is corrupt: seen.npz does not match vocab.json; train the model again.")
    model = cls(config)
    scale = tuple(info["rating_scale"]) if info.get("rating_scale") else None
    model._restore_vocabulary(user_ids, item_ids, seen, scale, meta, history)  # type: ignore[arg-type]
    model.data_fingerprint_ = info.get("data_fingerprint")
    try:
        model._set_state(state)
    except (KeyError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"{path} is corrupt: its weights do not fit the model ({exc}); train again.") from None
    model.run_info_ = info
    return model

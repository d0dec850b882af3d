"""Reading run folders back: check the format, map older formats' keys, rebuild the model.

The layout is :mod:`embrec.models.runfolder`'s (which also writes it); the model class comes
from the registry by the name the run recorded. Runs of format 1 still load: their settings
are renamed to today's by the config class's ``renamed_keys`` (``regularization`` became
``weight_decay`` in EASE, ALS and BPR and ``decay_mode`` in the embedding model) and, as format 1 stored the settings already filled in
for the objective, ``resolved`` is worked out from them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from safetensors import SafetensorError
from safetensors.numpy import load_file

from embrec.errors import ConfigError, ModelFileError
from embrec.models.registry import get
from embrec.models.runfolder import FORMAT_VERSION, RUN_FILES, save_run

if TYPE_CHECKING:
    from embrec.models.base import Recommender

__all__ = ["FORMAT_VERSION", "load_run", "read_run_info", "save_run", "upgrade_settings"]


def _ids_from_json(values: list[Any]) -> np.ndarray:
    if all(isinstance(v, int) for v in values):
        return np.asarray(values, dtype=np.int64)
    return np.asarray(values, dtype=object)


def upgrade_settings(config_class: type, settings: dict[str, Any], format_version: int) -> dict[str, Any]:
    """A run's stored settings under today's names (the config class's ``renamed_keys``)."""
    if format_version >= FORMAT_VERSION:
        return dict(settings)
    renamed = getattr(config_class, "renamed_keys", {})
    return {renamed.get(key, key): value for key, value in settings.items()}


def read_run_info(path: Path) -> dict[str, Any]:
    """The run's ``embrec.json``, checked for a format this version can read."""
    path = Path(path)
    if not path.is_dir():
        raise ModelFileError(
            f"no run folder at {path}; give the folder a fitted model was saved to (model.save(path))."
        )
    meta_file = path / "embrec.json"
    try:
        info = json.loads(meta_file.read_text())
    except FileNotFoundError:
        raise ModelFileError(
            f"{path} is not an embrec run: {meta_file.name} is missing; save a fitted model there with model.save(path)."
        ) from None
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


def _settings(cls: type[Recommender], info: dict[str, Any], n_users: int, n_items: int) -> tuple[Any, Any]:
    """(config asked for, config used) of a run, under today's names."""
    version = info["format_version"]
    config = cls.config_class.from_dict(upgrade_settings(cls.config_class, info["config"], version))
    resolved_class = cls.resolved_class or cls.config_class
    if "resolved" in info:
        return config, resolved_class.from_dict(upgrade_settings(resolved_class, info["resolved"], version))
    resolve = getattr(config, "resolve", None)
    if callable(resolve):  # format 1: the device it ran on was not recorded
        return config, resolve(n_users=n_users, n_items=n_items, device=getattr(config, "device", "auto"))
    return config, config


def load_run(path: Path) -> Recommender:
    """Load the model saved in ``path``; identical scores to the model that was saved."""
    path = Path(path)
    info = read_run_info(path)
    for name in RUN_FILES:
        if not (path / name).is_file():
            raise ModelFileError(f"{path} is incomplete: {name} is missing. Train the model again.")
    try:
        cls = get(info["model"])
    except ConfigError as exc:
        raise ModelFileError(f"{path} holds a model this embrec does not know: {exc}") from None
    try:
        state = load_file(str(path / "weights.safetensors"))
        vocab = json.loads((path / "vocab.json").read_text())
        with np.load(path / "seen.npz", allow_pickle=False) as z:
            shape = tuple(int(x) for x in z["shape"])
            indptr, indices = z["indptr"], z["indices"]
        seen = sp.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr), shape=shape)
        history = json.loads((path / "history.json").read_text())
        items_file = path / "items.json"
        meta = pd.read_json(items_file, orient="records") if items_file.is_file() else None
        config, resolved = _settings(cls, info, len(vocab["user_ids"]), len(vocab["item_ids"]))
    except ConfigError as exc:
        raise ModelFileError(
            f"{path}/embrec.json holds settings this embrec cannot use ({exc}); train the model again."
        ) from None
    except (SafetensorError, json.JSONDecodeError, ValueError, KeyError, TypeError, OSError, EOFError) as exc:
        raise ModelFileError(f"{path} is corrupt ({type(exc).__name__}: {exc}); train the model again.") from None
    user_ids = _ids_from_json(vocab["user_ids"])
    item_ids = _ids_from_json(vocab["item_ids"])
    if seen.shape != (len(user_ids), len(item_ids)):
        raise ModelFileError(f"{path} is corrupt: seen.npz does not match vocab.json; train the model again.")
    model = cls(config)
    scale = tuple(info["rating_scale"]) if info.get("rating_scale") else None
    model._restore_vocabulary(user_ids, item_ids, seen, scale, meta, history)
    model.data_fingerprint_ = info.get("data_fingerprint")
    model.resolved_config_ = resolved
    try:
        model._set_state(state)
    except (KeyError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"{path} is corrupt: its weights do not fit the model ({exc}); train again.") from None
    model.run_info_ = info
    return model

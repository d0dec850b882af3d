"""Reading run folders back: check every file, map older formats' keys, rebuild the model.

The layout is :mod:`embrec.models.runfolder`'s (which also writes it); the model class comes
from the registry by the name the run recorded. A run is checked whole when it is opened,
before a model is built from it, so a damaged or hand-edited folder is refused in one place:

* ``embrec.json`` (:func:`read_run_info`): a JSON object with ``format_version`` (a whole number
  from 1 to :data:`FORMAT_VERSION`), ``model`` (a registered name), ``config`` (and ``resolved``)
  as mappings, ``n_users``/``n_items`` (whole numbers of at least 1), ``rating_scale`` (null or
  two finite numbers, lowest first), and ``checksums`` where the run recorded them;
* every other file's size and sha256 against those checksums (runs saved before checksums were
  recorded have none, and are checked by what follows alone);
* ``vocab.json``: ``user_ids`` and ``item_ids``, all whole numbers or all text, none null, none
  twice, as many as ``n_users`` and ``n_items``;
* ``seen.npz``: a readable ``.npz`` of consistent CSR arrays (``indptr`` from 0, never
  decreasing, ``n_users + 1`` long, ending at the number of ``indices``, which lie in
  ``0..n_items-1``);
* ``history.json``: a list of objects of numbers; ``items.json``: one object per item;
* ``weights.safetensors``: readable, finite numbers, and exactly the arrays, of the shapes, that
  the model restored from them gives back.

Every JSON file is measured for nesting depth (:data:`MAX_JSON_DEPTH`) before it is parsed.
Whatever is wrong is a :class:`~embrec.errors.ModelFileError` naming the folder, the file, what
is wrong and the fix; no other exception escapes :func:`load_run` for a damaged folder.

Runs of format 1 still load: their settings are renamed to today's by the config class's
``renamed_keys`` (``regularization`` became ``weight_decay`` in EASE, ALS and BPR and
``decay_mode`` in the embedding model) and, as format 1 stored the settings already filled in
for the objective, ``resolved`` is worked out from them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from safetensors.numpy import load_file

from embrec import atomic
from embrec.errors import ConfigError, ModelFileError
from embrec.models.registry import available, get
from embrec.models.runfolder import (
    CHECKSUMMED_FILES,
    FORMAT_VERSION,
    OPTIONAL_FILES,
    RUN_FILES,
    file_checksum,
    save_run,
)

if TYPE_CHECKING:
    from embrec.models.base import Recommender

__all__ = [
    "FORMAT_VERSION",
    "MAX_JSON_DEPTH",
    "json_depth",
    "load_run",
    "read_run_info",
    "save_run",
    "upgrade_settings",
]

#: Deepest nesting of arrays and objects a run's JSON file may have (embrec writes at most a few
#: levels); deeper files are refused before parsing, which would otherwise exhaust the stack.
MAX_JSON_DEPTH = 64

# a string, or an unterminated one running to the end: every quote's match succeeds without
# backtracking, so a file of many unclosed quotes is still read in linear time
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.|\\\Z)*+(?:"|\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_INT64 = (-(2**63), 2**63 - 1)


def _shown(value: Any, limit: int = 60) -> str:
    """A parsed JSON value as the file spells it (``null``, ``true``, ``"text"``), cut short."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kind(value: Any) -> str:
    """The JSON name of a parsed value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _corrupt(path: Path, name: str, problem: str) -> ModelFileError:
    return ModelFileError(
        f"run folder {path}: {name} is corrupt ({problem}); train the model again, or restore the folder from a copy."
    )


def _incomplete(path: Path, name: str) -> ModelFileError:
    return ModelFileError(f"{path} is incomplete: {name} is missing. Train the model again.")


def _unreadable(path: Path, name: str, exc: OSError) -> ModelFileError:
    return ModelFileError(
        f"run folder {path}: {name} cannot be read ({exc.strerror or exc}); check the folder's permissions, "
        "or train the model again."
    )


# ---------------------------------------------------------------------- JSON files
def json_depth(raw: bytes) -> int:
    """How deeply the arrays and objects of the JSON text ``raw`` nest (brackets inside strings skipped)."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def _read_bytes(path: Path, name: str) -> bytes:
    try:
        return (path / name).read_bytes()
    except FileNotFoundError:
        raise _incomplete(path, name) from None
    except OSError as exc:
        raise _unreadable(path, name, exc) from None


def _read_json(path: Path, name: str) -> Any:
    """The parsed JSON file ``name`` of the run ``path``, refused before parsing when it nests too deeply."""
    raw = _read_bytes(path, name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _corrupt(path, name, f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    depth = json_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise _corrupt(path, name, f"its JSON nests {depth} levels deep; a run file nests at most {MAX_JSON_DEPTH}")
    try:
        value = json.loads(text)
    except RecursionError:  # the depth count above keeps this from happening; never let it escape
        raise _corrupt(path, name, "its JSON nests too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and integers longer than Python converts
        raise _corrupt(path, name, f"not valid JSON: {exc}") from None
    try:  # a lone surrogate (\ud800) parses, but could never be printed or sent as UTF-8
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise _corrupt(path, name, "it holds a lone UTF-16 surrogate escape, which is no character") from None
    return value


# ---------------------------------------------------------------------- embrec.json
def upgrade_settings(config_class: type, settings: dict[str, Any], format_version: int) -> dict[str, Any]:
    """A run's stored settings under today's names (the config class's ``renamed_keys``)."""
    if format_version >= FORMAT_VERSION:
        return dict(settings)
    renamed = getattr(config_class, "renamed_keys", {})
    return {renamed.get(key, key): value for key, value in settings.items()}


def read_run_info(path: Path) -> dict[str, Any]:
    """The run's ``embrec.json``, checked: a format this version reads, every entry of the right kind.

    Raises:
        ModelFileError: ``path`` is no run folder, or its ``embrec.json`` is missing, corrupt,
            of a newer format, or names a model this embrec does not know.
    """
    path = Path(path)
    atomic.recover(path)  # a run replaced by a writer that was killed mid-way comes back whole
    if not path.is_dir():
        raise ModelFileError(
            f"no run folder at {path}; give the folder a fitted model was saved to (model.save(path))."
        )
    if not (path / "embrec.json").is_file():
        raise ModelFileError(
            f"{path} is not an embrec run: embrec.json is missing; save a fitted model there with model.save(path)."
        )
    info = _read_json(path, "embrec.json")
    _check_info(path, info)
    return info


def _check_info(path: Path, info: Any) -> None:
    def bad(problem: str) -> ModelFileError:
        return _corrupt(path, "embrec.json", problem)

    if not isinstance(info, dict):
        raise bad(f"it holds {_kind(info)}, not a JSON object")
    if "format_version" not in info:
        raise ModelFileError(
            f"{path}/embrec.json has no format_version; it was not written by embrec. Train the model again."
        )
    version = info["format_version"]
    if not _is_int(version) or version < 1:
        raise bad(f"format_version is {_shown(version)}; a run format is a whole number from 1 to {FORMAT_VERSION}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} uses run format {version}, newer than this embrec reads ({FORMAT_VERSION}); upgrade embrec "
            "(pip install -U embrec) or train the model again with this version."
        )
    for key in ("model", "config", "n_users", "n_items"):
        if key not in info:
            raise bad(f"it has no {key!r} entry")
    name = info["model"]
    if not isinstance(name, str) or not name:
        raise bad(f"model is {_shown(name)}, not a model name")
    if name not in available():
        try:
            get(name)
        except ConfigError as exc:
            raise ModelFileError(
                f"run folder {path}: embrec.json holds a model this embrec does not know: {exc}"
            ) from None
    for key in ("config", "resolved"):
        if key in info and not isinstance(info[key], dict):
            raise bad(f"{key} is {_kind(info[key])}, not a mapping of settings")
    for key in ("n_users", "n_items"):
        if not _is_int(info[key]) or info[key] < 1:
            raise bad(f"{key} is {_shown(info[key])}, not a whole number of at least 1")
    _check_scale(info.get("rating_scale"), bad)
    for key, kinds, wanted in (
        ("embrec_version", (str,), "a version string"),
        ("data_fingerprint", (str, type(None)), "a sha256 string or null"),
        ("extra", (dict, type(None)), "an object or null"),
    ):
        if key in info and not isinstance(info[key], kinds):
            raise bad(f"{key} is {_shown(info[key])}, not {wanted}")
    if "checksums" in info:
        _check_checksums(info["checksums"], bad)


def _check_scale(scale: Any, bad: Any) -> None:
    if scale is None:
        return
    if not (isinstance(scale, list) and len(scale) == 2 and all(_is_number(x) and math.isfinite(x) for x in scale)):
        raise bad(f"rating_scale is {_shown(scale)}, not null or two finite numbers [lowest, highest]")
    if scale[0] > scale[1]:  # equal ends are a run trained on data with one rating value
        raise bad(f"rating_scale is {_shown(scale)}: its lowest rating is above its highest")


def _check_checksums(checksums: Any, bad: Any) -> None:
    if not isinstance(checksums, dict):
        raise bad(f"checksums is {_kind(checksums)}, not an object of file names")
    for name, entry in checksums.items():
        if name not in CHECKSUMMED_FILES:
            raise bad(f"checksums name {_shown(name)}, which is no file of a run ({', '.join(CHECKSUMMED_FILES)})")
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("sha256"), str)
            and _SHA256.fullmatch(entry["sha256"])
            and _is_int(entry.get("bytes"))
            and entry["bytes"] >= 0
        ):
            raise bad(f"the checksum of {name} is {_shown(entry)}, not {{'sha256': 64 hex digits, 'bytes': a size}}")
    missing = [name for name in RUN_FILES[1:] if name not in checksums]
    if missing:
        raise bad(f"checksums leave out {', '.join(missing)}")


# ---------------------------------------------------------------------- the other files
def _check_files(path: Path, info: dict[str, Any]) -> bool:
    """Every file there and, where the run recorded checksums, as saved; whether to read ``items.json``."""
    for name in RUN_FILES:
        if not (path / name).is_file():
            raise _incomplete(path, name)
    checksums = info.get("checksums")
    has_items = (path / OPTIONAL_FILES[0]).is_file()
    if checksums is None:  # saved before checksums were recorded
        return has_items
    for name, recorded in checksums.items():
        file = path / name
        if not file.is_file():
            raise _incomplete(path, name)
        try:
            actual = file_checksum(file)
        except OSError as exc:
            raise _unreadable(path, name, exc) from None
        if actual["bytes"] != recorded["bytes"]:
            raise _corrupt(
                path,
                name,
                f"it has {actual['bytes']:,} bytes where {recorded['bytes']:,} were saved: truncated or replaced",
            )
        if actual["sha256"] != recorded["sha256"]:
            raise _corrupt(path, name, "its sha256 differs from the one embrec.json recorded: it changed after saving")
    if has_items and OPTIONAL_FILES[0] not in checksums:
        raise _corrupt(path, OPTIONAL_FILES[0], "embrec.json records no checksum of it: it was added after saving")
    return OPTIONAL_FILES[0] in checksums


def _first_repeat(values: list[Any]) -> Any:
    met: set[Any] = set()
    for value in values:
        if value in met:
            return value
        met.add(value)
    return None


def _ids(path: Path, key: str, values: Any) -> np.ndarray:
    if not isinstance(values, list) or not values:
        raise _corrupt(path, "vocab.json", f"{key} is {_shown(values)}, not a list of ids")
    if all(_is_int(v) for v in values):
        out_of_range = next((v for v in values if not _INT64[0] <= v <= _INT64[1]), None)
        if out_of_range is not None:
            raise _corrupt(path, "vocab.json", f"{key} holds {_shown(out_of_range)}, beyond 64-bit whole numbers")
        ids = np.asarray(values, dtype=np.int64)
    elif all(isinstance(v, str) for v in values):
        ids = np.asarray(values, dtype=object)
    else:
        odd = next((v for v in values if not (_is_int(v) or isinstance(v, str))), values[0])
        raise _corrupt(
            path, "vocab.json", f"{key} holds {_shown(odd)}; ids are all whole numbers or all strings, none null"
        )
    if len(set(values)) != len(values):
        twice = _first_repeat(values)
        raise _corrupt(path, "vocab.json", f"{key} holds the id {_shown(twice)} more than once; ids are unique")
    return ids


def _read_vocab(path: Path, info: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    vocab = _read_json(path, "vocab.json")
    if not isinstance(vocab, dict):
        raise _corrupt(path, "vocab.json", f"it holds {_kind(vocab)}, not an object of user_ids and item_ids")
    out = []
    for key, count in (("user_ids", "n_users"), ("item_ids", "n_items")):
        ids = _ids(path, key, vocab.get(key))
        if len(ids) != info[count]:
            raise _corrupt(
                path, "vocab.json", f"it has {len(ids):,} {key} but embrec.json records {count} {info[count]:,}"
            )
        out.append(ids)
    return out[0], out[1]


def _read_seen(path: Path, n_users: int, n_items: int) -> sp.csr_matrix:
    name = "seen.npz"
    try:
        npz = np.load(path / name, allow_pickle=False)
    except OSError as exc:
        raise _unreadable(path, name, exc) from None
    except Exception as exc:  # zip and .npy damage takes many forms: all mean a corrupt file
        raise _corrupt(path, name, f"not a readable .npz file: {type(exc).__name__}: {exc}") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise _corrupt(path, name, "it holds one array, not the .npz archive of indptr, indices and shape")
    arrays = {}
    with npz:
        for key in ("indptr", "indices", "shape"):
            if key not in npz.files:
                raise _corrupt(path, name, f"it has no {key!r} array")
            try:
                arrays[key] = npz[key]
            except Exception as exc:  # as above
                raise _corrupt(path, name, f"its {key!r} array cannot be read: {type(exc).__name__}: {exc}") from None
    for key, array in arrays.items():
        if array.ndim != 1 or array.dtype.kind not in "iu":
            raise _corrupt(path, name, f"{key} is a {array.dtype} array of shape {array.shape}, not a list of integers")
    indptr, indices, shape = arrays["indptr"], arrays["indices"], arrays["shape"]
    if tuple(shape.tolist()) != (n_users, n_items):
        raise _corrupt(path, name, f"its shape is {tuple(shape.tolist())}, the vocabulary is {n_users} x {n_items}")
    if len(indptr) != n_users + 1 or indptr[0] != 0 or (np.diff(indptr) < 0).any() or indptr[-1] != len(indices):
        raise _corrupt(path, name, f"indptr is not {n_users + 1} offsets rising from 0 to the {len(indices):,} indices")
    if len(indices) and (indices.min() < 0 or indices.max() >= n_items):
        bad = indices[(indices < 0) | (indices >= n_items)][0]
        raise _corrupt(path, name, f"it holds item index {bad}, outside 0..{n_items - 1}")
    ones = np.ones(len(indices), dtype=np.float32)
    return sp.csr_matrix((ones, indices, indptr), shape=(n_users, n_items))


def _read_history(path: Path) -> list[dict[str, Any]]:
    history = _read_json(path, "history.json")
    if not isinstance(history, list):
        raise _corrupt(path, "history.json", f"it holds {_kind(history)}, not a list of epochs")
    for epoch, record in enumerate(history, start=1):
        if not isinstance(record, dict):
            raise _corrupt(path, "history.json", f"epoch {epoch} is {_kind(record)}, not an object of figures")
        odd = next((k for k, v in record.items() if v is not None and not _is_number(v)), None)
        if odd is not None:
            raise _corrupt(path, "history.json", f"{odd} of epoch {epoch} is {_shown(record[odd])}, not a number")
    return history


#: Item metadata columns something reads as text or numbers, and what they must be.
_ITEM_COLUMNS: dict[str, tuple[Any, str]] = {
    "title": (lambda v: isinstance(v, str), "a string"),
    "genres": (lambda v: isinstance(v, str), "a string"),
    "year": (_is_number, "a number"),
    "mean_rating": (_is_number, "a number"),
}


def _read_items(path: Path, n_items: int) -> pd.DataFrame:
    name = OPTIONAL_FILES[0]
    records = _read_json(path, name)
    if not isinstance(records, list) or len(records) != n_items:
        shown = f"{len(records):,} entries" if isinstance(records, list) else _kind(records)
        raise _corrupt(path, name, f"it holds {shown}, not one object per item ({n_items:,})")
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise _corrupt(path, name, f"entry {i} is {_kind(record)}, not an object")
        for column, (accepts, wanted) in _ITEM_COLUMNS.items():
            value = record.get(column)
            if value is not None and not accepts(value):
                raise _corrupt(path, name, f"{column} of entry {i} is {_shown(value)}, not {wanted} or null")
    # from the parsed records: pandas' own JSON reader would turn text such as imdbId "0114709" into numbers
    return pd.DataFrame.from_records(records)


def _all_finite(array: np.ndarray, chunk: int = 1 << 22) -> bool:
    # in slices: a whole-array mask of EASE's item x item weights would cost a byte per weight
    flat = array.reshape(-1)
    return all(np.isfinite(flat[start : start + chunk]).all() for start in range(0, flat.size, chunk))


def _read_weights(path: Path) -> dict[str, np.ndarray]:
    name = "weights.safetensors"
    try:
        state = load_file(str(path / name))
    except FileNotFoundError:
        raise _incomplete(path, name) from None
    except Exception as exc:  # SafetensorError, or the dtype errors of a damaged header
        raise _corrupt(path, name, f"not a readable safetensors file: {type(exc).__name__}: {exc}") from None
    for key, array in state.items():
        if array.dtype.kind not in "biuf":
            raise _corrupt(path, name, f"{key} holds {array.dtype} values, not numbers")
        if array.dtype.kind == "f" and not _all_finite(array):
            raise _corrupt(path, name, f"{key} holds NaN or infinite values")
    return state


# ---------------------------------------------------------------------- the model
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


def _model_class(path: Path, info: Mapping[str, Any]) -> type[Recommender]:
    try:
        return get(info["model"])
    except ConfigError as exc:
        raise ModelFileError(f"run folder {path}: embrec.json holds a model this embrec does not know: {exc}") from None


def _restore_state(path: Path, model: Recommender, state: dict[str, np.ndarray]) -> None:
    name = "weights.safetensors"
    try:
        model._set_state(state)
        restored = model._get_state()
    except (KeyError, IndexError, ValueError, TypeError, RuntimeError) as exc:
        raise _corrupt(path, name, f"its arrays do not fit the model: {type(exc).__name__}: {exc}") from None
    # the model gives back what it took: no array left over, none of another shape
    got = {key: tuple(np.shape(value)) for key, value in restored.items()}
    stored = {key: tuple(value.shape) for key, value in state.items()}
    if got != stored:
        odd = sorted(set(got) ^ set(stored)) or sorted(k for k in got if got[k] != stored[k])
        raise _corrupt(
            path, name, f"its arrays do not fit a {model.name} model of this vocabulary (look at {', '.join(odd)})"
        )


def load_run(path: Path) -> Recommender:
    """Load the model saved in ``path``; identical scores to the model that was saved.

    Raises:
        ModelFileError: the folder is missing, incomplete, damaged or of a newer format (see the
            module's docstring for what is checked); the message names the file and what is wrong.
    """
    path = Path(path)
    info = read_run_info(path)
    cls = _model_class(path, info)
    has_items = _check_files(path, info)
    user_ids, item_ids = _read_vocab(path, info)
    seen = _read_seen(path, len(user_ids), len(item_ids))
    history = _read_history(path)
    meta = _read_items(path, len(item_ids)) if has_items else None
    state = _read_weights(path)
    try:
        config, resolved = _settings(cls, info, len(user_ids), len(item_ids))
    except (ConfigError, TypeError, ValueError) as exc:
        raise ModelFileError(
            f"{path}/embrec.json holds settings this embrec cannot use ({exc}); train the model again."
        ) from None
    model = cls(config)
    scale = info.get("rating_scale")
    model._restore_vocabulary(
        user_ids, item_ids, seen, (float(scale[0]), float(scale[1])) if scale else None, meta, history
    )
    model.data_fingerprint_ = info.get("data_fingerprint")
    model.resolved_config_ = resolved
    _restore_state(path, model, state)
    model.run_info_ = info
    return model

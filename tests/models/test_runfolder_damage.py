"""Damaged run folders: every file checked when a run is opened, every failure a ModelFileError.

The hand-made cases are the ones testers met; the property test damages a saved run at random
(truncating a file, flipping bytes, putting random JSON, deeply nested too, in place of any value
of a JSON file) and requires that loading it gives either a model scoring exactly like the one
saved or a ModelFileError, never another exception.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from safetensors.numpy import load_file, save_file

from embrec import models
from embrec.errors import ModelFileError
from embrec.models.io import MAX_JSON_DEPTH, json_depth
from embrec.models.runfolder import CHECKSUMMED_FILES, RUN_FILES
from embrec.testing import tiny_interactions

FORMAT1 = Path(__file__).parent / "data" / "format1"
JSON_FILES = ("embrec.json", "vocab.json", "history.json", "items.json")
ALL_FILES = (*RUN_FILES, "items.json")


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, np.ndarray]:
    """A tiny ranking model saved twice: as written today, and as before checksums (none recorded)."""
    model = models.create("embedding", objective="ranking", embedding_dim=4, epochs=2, seed=1)
    model.fit(tiny_interactions())
    base = tmp_path_factory.mktemp("saved")
    run = model.save(base / "run")
    old = shutil.copytree(run, base / "old")
    _edit_info(old, lambda info: info.pop("checksums"))
    return run, old, model.score(model.user_ids_)


def _copy(run: Path, tmp_path: Path, name: str = "copy") -> Path:
    target = tmp_path / name
    shutil.rmtree(target, ignore_errors=True)
    return Path(shutil.copytree(run, target))


def _edit_json(run: Path, name: str, change: Callable[[Any], Any]) -> None:
    """Change the parsed file ``name`` in place (what ``change`` returns is ignored) and write it back."""
    value = json.loads((run / name).read_text())
    change(value)
    (run / name).write_text(json.dumps(value))


def _edit_info(run: Path, change: Callable[[dict[str, Any]], Any]) -> None:
    _edit_json(run, "embrec.json", change)


def _rechecksum(run: Path, name: str) -> None:
    """Record ``name``'s new checksum, as if the run had been saved so: only the other checks can tell."""
    data = (run / name).read_bytes()
    _edit_info(
        run,
        lambda info: info["checksums"].update({name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}}),
    )


def _edit_weights(run: Path, change: Callable[[dict[str, np.ndarray]], None]) -> None:
    state = load_file(str(run / "weights.safetensors"))
    change(state)
    save_file(state, str(run / "weights.safetensors"))


def _edit_seen(run: Path, change: Callable[[dict[str, np.ndarray]], None]) -> None:
    with np.load(run / "seen.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    with open(run / "seen.npz", "wb") as handle:
        np.savez(handle, **arrays)


def _flip(run: Path, name: str, where: float = 0.5) -> None:
    data = bytearray((run / name).read_bytes())
    data[int(where * (len(data) - 1))] ^= 0x5A
    (run / name).write_bytes(bytes(data))


def _truncate(run: Path, name: str, keep: float = 0.5) -> None:
    data = (run / name).read_bytes()
    (run / name).write_bytes(data[: int(len(data) * keep)])


def _set(key: str, value: Any) -> Callable[[Path], None]:
    return lambda run: _edit_info(run, lambda info: info.__setitem__(key, value))


def _vocab(change: Callable[[dict[str, list[Any]]], None]) -> Callable[[Path], None]:
    return lambda run: _edit_json(run, "vocab.json", change)


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


# --------------------------------------------------------------------------- what testers met
def _seen_one_array(run: Path) -> None:
    with open(run / "seen.npz", "wb") as handle:
        np.save(handle, np.arange(3))


# name: (the file damaged, the damage, words the message holds). Each is applied to a run without
# checksums, so the structural checks alone must catch it, and to one with them, where the
# checksum of a damaged file other than embrec.json notices first.
DAMAGE: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "seen.npz truncated": ("seen.npz", lambda run: _truncate(run, "seen.npz"), "seen.npz is corrupt"),
    "seen.npz bit-flipped": ("seen.npz", lambda run: _flip(run, "seen.npz", 0.6), "seen.npz is corrupt"),
    "seen.npz empty": ("seen.npz", lambda run: (run / "seen.npz").write_bytes(b""), "not a readable .npz"),
    "seen index out of range": (
        "seen.npz",
        lambda run: _edit_seen(run, lambda a: a["indices"].__setitem__(0, 20)),
        "item index 20, outside 0..19",
    ),
    "seen indptr not rising": (
        "seen.npz",
        lambda run: _edit_seen(run, lambda a: a["indptr"].__setitem__(1, 10**6)),
        "indptr is not 31 offsets",
    ),
    "seen one array": ("seen.npz", _seen_one_array, "not the .npz archive"),
    "no model key": ("embrec.json", lambda run: _edit_info(run, lambda info: info.pop("model")), "no 'model' entry"),
    "model of wrong type": ("embrec.json", _set("model", ["embedding"]), 'model is ["embedding"]'),
    "model unknown": ("embrec.json", _set("model", "no-such-model"), "does not know"),
    "config a list": ("embrec.json", _set("config", [1, 2]), "config is a list, not a mapping"),
    "config value of wrong type": (
        "embrec.json",
        lambda run: _edit_info(run, lambda info: info["config"].__setitem__("embedding_dim", "four")),
        "settings this embrec cannot use",
    ),
    "format_version 0": ("embrec.json", _set("format_version", 0), "format_version is 0;"),
    "format_version -1": ("embrec.json", _set("format_version", -1), "format_version is -1;"),
    "format_version true": ("embrec.json", _set("format_version", True), "format_version is true;"),
    "format_version 2.0": ("embrec.json", _set("format_version", 2.0), "format_version is 2.0;"),
    "rating scale reversed": ("embrec.json", _set("rating_scale", [5, 1]), "rating_scale is [5, 1]: its lowest"),
    "rating scale of text": ("embrec.json", _set("rating_scale", ["1", 5]), 'rating_scale is ["1", 5], not null'),
    "rating scale infinite": ("embrec.json", _set("rating_scale", [1, float("inf")]), "not null or two finite"),
    "n_users a string": ("embrec.json", _set("n_users", "30"), 'n_users is "30"'),
    "n_items not the vocabulary's": ("embrec.json", _set("n_items", 19), "embrec.json records n_items 19"),
    "extra a list": ("embrec.json", _set("extra", []), "extra is [], not an object"),
    "embrec.json a list": (
        "embrec.json",
        lambda run: (run / "embrec.json").write_text("[]"),
        "it holds a list, not a JSON object",
    ),
    "embrec.json deeply nested": (
        "embrec.json",
        lambda run: (run / "embrec.json").write_text('{"format_version": 2, "extra": ' + _deep(50_000) + "}"),
        f"nests 50001 levels deep; a run file nests at most {MAX_JSON_DEPTH}",
    ),
    "embrec.json not UTF-8": (
        "embrec.json",
        lambda run: (run / "embrec.json").write_bytes(b'{"a": "\xff"}'),
        "not UTF-8",
    ),
    "vocab duplicate id": (
        "vocab.json",
        _vocab(lambda v: v["user_ids"].__setitem__(1, v["user_ids"][0])),
        "user_ids holds the id 100 more than once",
    ),
    "vocab null id": ("vocab.json", _vocab(lambda v: v["item_ids"].__setitem__(3, None)), "item_ids holds null"),
    "vocab bool id": ("vocab.json", _vocab(lambda v: v["item_ids"].__setitem__(3, True)), "item_ids holds true"),
    "vocab float id": ("vocab.json", _vocab(lambda v: v["item_ids"].__setitem__(3, 1.5)), "item_ids holds 1.5"),
    "vocab huge id": ("vocab.json", _vocab(lambda v: v["item_ids"].__setitem__(3, 2**70)), "beyond 64-bit"),
    "vocab one user short": (
        "vocab.json",
        _vocab(lambda v: v["user_ids"].pop()),
        "29 user_ids but embrec.json records n_users 30",
    ),
    "vocab not an object": (
        "vocab.json",
        lambda run: (run / "vocab.json").write_text("[1, 2]"),
        "not an object of user_ids",
    ),
    "vocab lone surrogate": (
        "vocab.json",
        lambda run: (run / "vocab.json").write_text('{"user_ids": ["\\ud800"], "item_ids": [1]}'),
        "lone UTF-16 surrogate",
    ),
    "vocab deeply nested": (
        "vocab.json",
        lambda run: (run / "vocab.json").write_text(_deep(5000)),
        "nests 5000 levels deep",
    ),
    "weights one row short": (
        "weights.safetensors",
        lambda run: _edit_weights(run, lambda s: s.__setitem__("user_embedding", s["user_embedding"][:-1])),
        "(its arrays do not fit the model",
    ),
    "weights bias one row short": (
        "weights.safetensors",
        lambda run: _edit_weights(run, lambda s: s.__setitem__("item_bias", s["item_bias"][:-1])),
        "(its arrays do not fit the model",
    ),
    "weights global bias empty": (
        "weights.safetensors",
        lambda run: _edit_weights(run, lambda s: s.__setitem__("global_bias", s["global_bias"][:0])),
        "(its arrays do not fit the model",
    ),
    "weights an extra array": (
        "weights.safetensors",
        lambda run: _edit_weights(run, lambda s: s.__setitem__("spare", np.zeros(2, dtype=np.float32))),
        "(look at spare)",
    ),
    "weights NaN": (
        "weights.safetensors",
        lambda run: _edit_weights(run, lambda s: s["item_embedding"].__setitem__((0, 0), np.nan)),
        "item_embedding holds NaN",
    ),
    "weights empty": (
        "weights.safetensors",
        lambda run: (run / "weights.safetensors").write_bytes(b""),
        "not a readable safetensors file",
    ),
    "weights truncated": (
        "weights.safetensors",
        lambda run: _truncate(run, "weights.safetensors"),
        "not a readable safetensors file",
    ),
    "history not a list": ("history.json", lambda run: (run / "history.json").write_text("{}"), "not a list of epochs"),
    "history figure of text": (
        "history.json",
        lambda run: (run / "history.json").write_text('[{"epoch": 1, "train_loss": "low"}]'),
        'train_loss of epoch 1 is "low"',
    ),
    "items one short": ("items.json", lambda run: _edit_json(run, "items.json", lambda r: r.pop()), "19 entries"),
    "items year of text": (
        "items.json",
        lambda run: _edit_json(run, "items.json", lambda r: r[0].__setitem__("year", "MCMXC")),
        'year of entry 0 is "MCMXC"',
    ),
    "file missing": (
        "history.json",
        lambda run: (run / "history.json").unlink(),
        "incomplete: history.json is missing",
    ),
}


@pytest.mark.parametrize("checksums", [False, True], ids=["without checksums", "with checksums"])
@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_each_damage_is_a_model_file_error_naming_file_and_fix(
    saved: tuple[Path, Path, np.ndarray], tmp_path: Path, case: str, checksums: bool
) -> None:
    run, old, _ = saved
    name, damage, words = DAMAGE[case]
    copy = _copy(run if checksums else old, tmp_path)
    damage(copy)
    with pytest.raises(ModelFileError) as caught:
        models.load(copy)
    message = str(caught.value)
    assert str(copy) in message and name in message, message
    if checksums and name != "embrec.json" and (copy / name).exists():
        assert f"{name} is corrupt (it has" in message or f"{name} is corrupt (its sha256 differs" in message, message
    else:
        assert words in message, message
    assert any(fix in message.lower() for fix in ("train the model again", "embrec.models.register")), message


@pytest.mark.parametrize("name", CHECKSUMMED_FILES)
def test_a_file_changed_after_saving_is_refused_by_its_checksum(
    saved: tuple[Path, Path, np.ndarray], tmp_path: Path, name: str
) -> None:
    run, _, _ = saved
    for damage, words in (
        (lambda copy: _flip(copy, name, 0.9), "its sha256 differs from the one embrec.json recorded"),
        (lambda copy: _truncate(copy, name, 0.99), "were saved: truncated or replaced"),
    ):
        copy = _copy(run, tmp_path)
        damage(copy)
        with pytest.raises(ModelFileError, match=rf"{copy}: {name} is corrupt \(.*{words}.*train the model again"):
            models.load(copy)


def test_checksums_are_recorded_for_every_file_but_embrec_json(saved: tuple[Path, Path, np.ndarray]) -> None:
    run, _, _ = saved
    checksums = json.loads((run / "embrec.json").read_text())["checksums"]
    assert set(checksums) == {p.name for p in run.iterdir()} - {"embrec.json"} == set(CHECKSUMMED_FILES)
    for name, entry in checksums.items():
        data = (run / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda c: c.__setitem__("vocab.json", {"sha256": "0" * 64}), "the checksum of vocab.json is"),
        (lambda c: c.pop("seen.npz"), "checksums leave out seen.npz"),
        (lambda c: c.__setitem__("../../etc/passwd", c["vocab.json"]), "which is no file of a run"),
    ],
)
def test_broken_checksums_are_refused(
    saved: tuple[Path, Path, np.ndarray], tmp_path: Path, change: Callable[[dict[str, Any]], Any], words: str
) -> None:
    copy = _copy(saved[0], tmp_path)
    _edit_info(copy, lambda info: change(info["checksums"]))
    with pytest.raises(ModelFileError, match=words):
        models.load(copy)


def test_an_items_file_added_after_saving_is_refused(tiny_run_without_items: Path) -> None:
    (tiny_run_without_items / "items.json").write_text("[]")
    with pytest.raises(ModelFileError, match="items.json is corrupt .*added after saving"):
        models.load(tiny_run_without_items)


@pytest.fixture
def tiny_run_without_items(tmp_path: Path) -> Path:
    bare = dataclasses.replace(tiny_interactions(), item_metadata=None)
    return models.create("popularity").fit(bare).save(tmp_path / "run")


def test_a_rechecksummed_mismatch_is_still_caught_by_the_structure(
    saved: tuple[Path, Path, np.ndarray], tmp_path: Path
) -> None:
    # vocab and weights of different sizes, the checksums made to agree: the shapes tell
    copy = _copy(saved[0], tmp_path)
    _edit_weights(copy, lambda s: s.__setitem__("item_embedding", s["item_embedding"][:-1]))
    _rechecksum(copy, "weights.safetensors")
    with pytest.raises(ModelFileError, match="weights.safetensors is corrupt .*do not fit"):
        models.load(copy)


def test_old_runs_without_checksums_still_load(saved: tuple[Path, Path, np.ndarray], tmp_path: Path) -> None:
    _, old, scores = saved
    np.testing.assert_array_equal(models.load(old).score(models.load(old).user_ids_), scores)
    for folder in sorted(p for p in FORMAT1.iterdir() if p.is_dir()):
        copy = _copy(folder, tmp_path, folder.name)
        assert "checksums" not in json.loads((copy / "embrec.json").read_text())
        models.load(copy)


def test_json_depth_skips_brackets_inside_strings() -> None:
    assert json_depth(b"[]") == 1 and json_depth(b'{"a": [[1], {"b": []}]}') == 4 and json_depth(b"7") == 0
    assert json_depth(b'["[[[[", "\\"[[[", {"]]]": 1}]') == 2
    assert json_depth(b'["\\\\", [[]]]') == 3  # an escaped backslash does not escape the quote after it
    assert json_depth(b'[["unclosed [[[[') == 2 and json_depth(b'["\\') == 1  # brackets after an open quote are text
    assert json_depth(b'{"a": ' + b"[" * 5000) == 5001


# --------------------------------------------------------------------------- permissions
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_every_file_of_a_run_gets_ordinary_permissions(tmp_path: Path, umask: int) -> None:
    model = models.create("popularity").fit(tiny_interactions())
    before = os.umask(umask)
    try:
        run = model.save(tmp_path / "run")
    finally:
        os.umask(before)
    modes = {p.name: p.stat().st_mode & 0o777 for p in run.iterdir()}
    assert set(modes) == set(ALL_FILES)
    assert modes == dict.fromkeys(modes, 0o666 & ~umask)
    assert run.stat().st_mode & 0o777 == 0o777 & ~umask


# --------------------------------------------------------------------------- damage at random
_SENTINEL = "\x00embrec-replaced\x00"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["embedding", "popularity", "\ud800", "ranking", "rating"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
# JSON text in place of a value: a random value, or arrays nested far too deep to parse recursively
replacements = json_values.map(json.dumps) | st.integers(1, 20_000).map(_deep)


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The paths of every value inside a parsed JSON document, the document itself first."""
    out = [path]
    if isinstance(value, dict):
        for key, inner in value.items():
            out += _nodes(inner, (*path, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            out += _nodes(inner, (*path, i))
    return out


@st.composite
def damages(draw: st.DrawFn) -> tuple[str, str, Any]:
    kind = draw(st.sampled_from(["truncate", "flip", "replace"]))
    if kind == "replace":
        # embrec.json twice as often: it is the one file a checksum cannot guard
        name = draw(st.sampled_from(("embrec.json", *JSON_FILES)))
        return kind, name, (draw(st.integers(0, 10**6)), draw(replacements))
    name = draw(st.sampled_from(ALL_FILES))
    if kind == "truncate":
        return kind, name, draw(st.floats(0, 1, exclude_max=True))
    flips = st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255))
    return kind, name, draw(st.lists(flips, min_size=1, max_size=4))


def _damage(run: Path, kind: str, name: str, how: Any) -> None:
    file = run / name
    data = file.read_bytes()
    if kind == "truncate":
        file.write_bytes(data[: int(how * len(data))])
    elif kind == "flip":
        flipped = bytearray(data)
        for where, mask in how:
            flipped[int(where * len(flipped))] ^= mask
        file.write_bytes(bytes(flipped))
    else:
        which, text = how
        document = json.loads(data)
        nodes = _nodes(document)
        path = nodes[which % len(nodes)]
        if not path:
            file.write_text(text)
            return
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = _SENTINEL
        file.write_text(json.dumps(document).replace(json.dumps(_SENTINEL), text, 1))


# a tiny model loads in milliseconds, but a slow shared machine can stall any example: no deadline
_RANDOM = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@_RANDOM
@given(damage=damages())
def test_a_damaged_run_loads_as_saved_or_is_a_model_file_error(
    saved: tuple[Path, Path, np.ndarray], tmp_path_factory: pytest.TempPathFactory, damage: tuple[str, str, Any]
) -> None:
    run, _, scores = saved
    copy = _copy(run, tmp_path_factory.getbasetemp(), "random-damage")
    _damage(copy, *damage)
    try:
        model = models.load(copy)
    except ModelFileError as exc:
        event(f"{damage[0]} {damage[1]}: refused")
        assert str(copy) in str(exc)
        return
    event(f"{damage[0]} {damage[1]}: loaded")
    # only embrec.json can change undetected (flips that undo each other change nothing), and
    # nothing in it moves a score
    assert damage[1] == "embrec.json" or (copy / damage[1]).read_bytes() == (run / damage[1]).read_bytes()
    np.testing.assert_array_equal(model.score(model.user_ids_), scores)


@_RANDOM
@given(damage=damages())
def test_a_damaged_run_without_checksums_loads_or_is_a_model_file_error(
    saved: tuple[Path, Path, np.ndarray], tmp_path_factory: pytest.TempPathFactory, damage: tuple[str, str, Any]
) -> None:
    _, old, _ = saved
    copy = _copy(old, tmp_path_factory.getbasetemp(), "random-damage-old")
    _damage(copy, *damage)
    try:
        model = models.load(copy)
    except ModelFileError as exc:
        event(f"{damage[0]} {damage[1]}: refused")
        assert str(copy) in str(exc)
        return
    event(f"{damage[0]} {damage[1]}: loaded")
    # without checksums a changed number can load; what loads must still work
    assert model.score(model.user_ids_[:3]).shape == (min(3, len(model.user_ids_)), len(model.item_ids_))
    model.recommend(model.user_ids_[0], n=3)
    model.similar_items(model.item_ids_[0], n=2)

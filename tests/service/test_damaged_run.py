"""A damaged run folder never makes the service answer 500: it fails to start with a ModelFileError,
or what it loaded answers every endpoint as a working service does."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from safetensors.numpy import load_file, save_file

from embrec.errors import ModelFileError
from embrec.service import create_app
from service.helpers import TestClient


def _without_checksums(run: Path) -> None:
    info = json.loads((run / "embrec.json").read_text())
    info.pop("checksums")
    (run / "embrec.json").write_text(json.dumps(info))


def _rechecksum(run: Path, name: str) -> None:
    info = json.loads((run / "embrec.json").read_text())
    data = (run / name).read_bytes()
    info["checksums"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (run / "embrec.json").write_text(json.dumps(info))


def _edit_json(run: Path, name: str, change: Callable[[Any], None]) -> None:
    value = json.loads((run / name).read_text())
    change(value)
    (run / name).write_text(json.dumps(value))


def _seen_out_of_range(run: Path) -> None:
    with np.load(run / "seen.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["indices"][0] = 10_000
    with open(run / "seen.npz", "wb") as handle:
        np.savez(handle, **arrays)
    _rechecksum(run, "seen.npz")


def _weights_row_short(run: Path) -> None:
    state = load_file(str(run / "weights.safetensors"))
    state["item_embedding"] = state["item_embedding"][:-1]
    save_file(state, str(run / "weights.safetensors"))
    _rechecksum(run, "weights.safetensors")


def _items_with_numbers_for_text(run: Path) -> None:
    _edit_json(run, "items.json", lambda items: items[0].update(title=7, genres=None, year="soon"))
    _rechecksum(run, "items.json")


def _truncated(name: str) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        data = (run / name).read_bytes()
        (run / name).write_bytes(data[: len(data) // 2])

    return damage


DAMAGE: dict[str, Callable[[Path], None]] = {
    "seen.npz truncated": _truncated("seen.npz"),
    "weights truncated": _truncated("weights.safetensors"),
    "vocab truncated": _truncated("vocab.json"),
    "seen index out of range": _seen_out_of_range,
    "weights a row short": _weights_row_short,
    "items of the wrong kinds": _items_with_numbers_for_text,
    "no model key": lambda run: _edit_json(run, "embrec.json", lambda info: info.pop("model")),
    "reversed rating scale": lambda run: _edit_json(run, "embrec.json", lambda info: info.update(rating_scale=[5, 1])),
    "deeply nested history": lambda run: (run / "history.json").write_text("[" * 100_000 + "]" * 100_000),
    "vocab with a null id": lambda run: _edit_json(run, "vocab.json", lambda v: v["item_ids"].__setitem__(0, None)),
}


def _every_answer(client: TestClient) -> dict[str, int]:
    """The status of each endpoint, asked for with ids the loaded model knows."""
    catalog = client.app.state.service.catalog  # type: ignore[attr-defined]
    item, other, user = catalog.item_ids[0], catalog.item_ids[-1], catalog.user_ids[0]
    statuses = {
        path: client.get(path).status_code
        for path in (
            "/",
            "/api/health",
            "/api/films?q=a",
            f"/api/films/{item}",
            f"/api/films/{item}/similar?n=3",
            "/api/map",
            f"/api/users/{user}/recommendations?n=3&lambda=0.5",
            f"/api/users/{user}/predictions/{item}",
        )
    }
    created = client.post("/api/new-users")
    statuses["POST /api/new-users"] = created.status_code
    uid = created.json().get("user_id")
    if uid:
        rated = client.post(f"/api/new-users/{uid}/ratings", json={"ratings": [{"item": item, "rating": 4}]})
        statuses["POST ratings"] = rated.status_code
        for path in (f"/api/new-users/{uid}/recommendations?n=3", f"/api/new-users/{uid}/predictions/{other}"):
            statuses[path] = client.get(path).status_code
    return statuses


def _serve(run: Path, db: Path) -> dict[str, int] | None:
    """Every endpoint's status, or ``None`` when the service refused to start with a ModelFileError."""
    try:
        with TestClient(create_app(run, db_url=f"sqlite:///{db}"), raise_server_exceptions=False) as client:
            return _every_answer(client)
    except ModelFileError as exc:
        assert str(run) in str(exc)
        return None


@pytest.mark.parametrize("objective", ["ranking", "rating"])
@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_damaged_run_does_not_start(runs: dict[str, Path], tmp_path: Path, case: str, objective: str) -> None:
    run = Path(shutil.copytree(runs[objective], tmp_path / "run"))
    DAMAGE[case](run)
    app = create_app(run, db_url=f"sqlite:///{tmp_path / 'users.sqlite'}")
    with pytest.raises(ModelFileError, match=re.escape(str(run))), TestClient(app):
        pass  # pragma: no cover - it must not start


def test_the_undamaged_copy_answers_everything(runs: dict[str, Path], tmp_path: Path) -> None:
    run = Path(shutil.copytree(runs["rating"], tmp_path / "run"))
    _without_checksums(run)  # runs saved before checksums serve as before
    statuses = _serve(run, tmp_path / "users.sqlite")
    assert statuses is not None and set(statuses.values()) == {200, 201}, statuses


@st.composite
def flips(draw: st.DrawFn) -> tuple[str, list[tuple[float, int]]]:
    name = draw(st.sampled_from(["vocab.json", "items.json", "history.json", "embrec.json", "seen.npz"]))
    return name, draw(
        st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=3)
    )


# each example starts a service (its catalog, a SQLite file): fewer examples than the loading test's
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damage=flips())
def test_a_run_damaged_at_random_never_answers_500(
    runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, damage: tuple[str, list[tuple[float, int]]]
) -> None:
    # no checksums, so that damage the structure allows gets as far as the endpoints
    base = tmp_path_factory.mktemp("random")
    run = Path(shutil.copytree(runs["rating"], base / "run"))
    _without_checksums(run)
    name, where = damage
    data = bytearray((run / name).read_bytes())
    for at, mask in where:
        data[int(at * len(data))] ^= mask
    (run / name).write_bytes(bytes(data))
    statuses = _serve(run, base / "users.sqlite")
    event(f"flip {name}: {'refused' if statuses is None else 'served'}")
    assert statuses is None or max(statuses.values()) < 500, statuses

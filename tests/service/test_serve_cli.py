"""``embrec serve``: loads and checks the run and the database, then hands them to uvicorn on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from embrec.cli import serve_cmd
from embrec.service.state import ServiceState


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("noop")(lambda: None)  # two commands, so `serve` stays a subcommand as in embrec
    serve_cmd.register(app)
    return app


def test_serve_hands_the_run_to_uvicorn(
    cli: typer.Typer, runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("embrec.service.app.run_server", lambda run, **kw: calls.append({"run": run, **kw}))
    result = CliRunner().invoke(cli, ["serve", str(runs["ranking"]), "--port", "8123"])
    assert result.exit_code == 0, result.output
    # the run is loaded and the database opened before the server starts, and handed over whole
    service = calls[0].pop("service") if calls else None
    assert isinstance(service, ServiceState) and service.catalog.model.name == "embedding"
    service.storage.close()
    assert calls == [
        {"run": runs["ranking"], "host": "127.0.0.1", "port": 8123, "db_url": None, "threads": 1, "log_level": "info"}
    ]
    assert "http://127.0.0.1:8123/" in result.output and "ranking.service.sqlite" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["serve", "{missing}"], "no run folder"),
        (["serve", "{run}", "--db", "mysql://u@h/db"], "not supported"),
        (["serve", "{run}", "--db", "sqlite://"], "in-memory"),
    ],
)
def test_serve_reports_bad_input_in_one_line(
    cli: typer.Typer,
    runs: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.setattr("embrec.service.app.run_server", lambda *a, **k: pytest.fail("must not start"))
    filled = [a.format(missing=tmp_path / "nope", run=runs["ranking"]) for a in args]
    result = CliRunner().invoke(cli, filled)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_port_out_of_range(cli: typer.Typer, runs: dict[str, Path]) -> None:
    assert CliRunner().invoke(cli, ["serve", str(runs["ranking"]), "--port", "70000"]).exit_code == 2


# --------------------------------------------------------------------------- broken input, before uvicorn
def _broken_weights(run: Path) -> None:
    (run / "weights.safetensors").write_bytes(b"")


def _garbled_weights(run: Path) -> None:
    data = bytearray((run / "weights.safetensors").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (run / "weights.safetensors").write_bytes(bytes(data))


def _one_item_short(run: Path) -> None:
    # vocab and weights of different sizes, with embrec.json and the checksums agreeing: only the
    # weights' shapes can tell
    import hashlib
    import json

    info = json.loads((run / "embrec.json").read_text())
    vocab = json.loads((run / "vocab.json").read_text())
    vocab["item_ids"] = vocab["item_ids"][:-1]
    (run / "vocab.json").write_text(json.dumps(vocab))
    info["n_items"] -= 1
    data = (run / "vocab.json").read_bytes()
    info["checksums"]["vocab.json"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (run / "embrec.json").write_text(json.dumps(info))


@pytest.mark.parametrize(
    "damage, message",
    [
        (_broken_weights, "weights.safetensors is corrupt"),
        (_garbled_weights, "weights.safetensors is corrupt (its sha256 differs"),
        (_one_item_short, "is corrupt (its shape is (60, 24), the vocabulary is 60 x 23)"),
    ],
)
def test_a_broken_run_is_one_line_before_uvicorn_starts(
    cli: typer.Typer, runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: Any, message: str
) -> None:
    import shutil

    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("uvicorn must not start"))
    run = shutil.copytree(runs["ranking"], tmp_path / "run")
    damage(run)
    result = CliRunner().invoke(cli, ["serve", str(run), "--db", f"sqlite:///{tmp_path / 'users.sqlite'}"])
    assert result.exit_code == 2, result.output
    assert message in result.output and "train the model again" in result.output
    assert "Traceback" not in result.output and "serving" not in result.output
    assert len(result.output.strip().splitlines()) == 1  # one red line


def test_an_unreachable_database_is_one_line_before_uvicorn_starts(
    cli: typer.Typer, runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("uvicorn must not start"))
    url = "postgresql+psycopg://nobody@127.0.0.1:1/x"
    result = CliRunner().invoke(cli, ["serve", str(runs["ranking"]), "--db", url])
    assert result.exit_code == 2, result.output
    assert "cannot open the database postgresql+psycopg://nobody@127.0.0.1:1/x" in result.output
    assert "Traceback" not in result.output and "serving" not in result.output
    assert result.output.startswith("error: cannot open the database")


def test_a_good_run_reaches_uvicorn_with_the_prepared_app(
    cli: typer.Typer, runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Any] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: started.append((app, kw)))
    result = CliRunner().invoke(
        cli, ["serve", str(runs["popularity"]), "--db", f"sqlite:///{tmp_path / 'users.sqlite'}", "--port", "8124"]
    )
    assert result.exit_code == 0, result.output
    ((app, kw),) = started
    assert kw["host"] == "127.0.0.1" and kw["port"] == 8124
    assert (tmp_path / "users.sqlite").is_file()  # the database was opened (its tables made) before the server

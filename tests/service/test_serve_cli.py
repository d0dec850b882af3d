"""``embrec serve``: checks its input in one line, then hands the run to uvicorn on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from embrec.cli import serve_cmd


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

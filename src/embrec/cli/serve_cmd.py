"""``embrec serve``: the web service and page for a saved run."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from embrec.cli._common import cli_errors, err_console


class LogLevel(str, Enum):
    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"


@cli_errors
def serve(
    run: Annotated[Path, typer.Argument(help="Run folder written by `embrec train --out`.")],
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; the default keeps the service on this machine.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database of new users: sqlite:///file.sqlite or postgresql://user:pw@host/db "
            "(default: RUN.service.sqlite beside the run folder).",
        ),
    ] = None,
    threads: Annotated[
        int, typer.Option("--threads", min=1, help="torch CPU threads (1 serves many small requests best).")
    ] = 1,
    log_level: Annotated[LogLevel, typer.Option("--log-level", help="uvicorn's log level.")] = LogLevel.info,
) -> None:
    """Serve a run: JSON API (recommendations, similar films, new users) and a page at http://HOST:PORT/."""
    from embrec.extras import require

    require("serve", "embrec serve")
    from embrec.service.app import limit_threads, open_service, run_server

    limit_threads(threads)
    # the run loaded, its catalog built and the database reached before uvicorn starts: a broken
    # folder or an unreachable database is one line here, not a traceback from the server's startup
    service = open_service(run, db_url=db)
    err_console.print(
        f"serving [bold]{run}[/] at http://{host}:{port}/ (API docs at /docs); new users in "
        f"{service.storage.describe()}",
        highlight=False,
    )
    run_server(run, host=host, port=port, db_url=db, threads=threads, log_level=log_level.value, service=service)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``embrec`` app."""
    app.command("serve")(serve)

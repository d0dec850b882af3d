"""The web service: a saved run behind a small JSON API, and the page that uses it.

:func:`create_app` builds the FastAPI app; the model is loaded in the app's lifespan (never at
import), or before it by :func:`open_service`, into a :class:`~embrec.service.catalog.Catalog`,
which precomputes what the hot paths need and is the one place the service talks to the model.
The endpoints are in :mod:`embrec.service.routes`, their bodies in :mod:`embrec.service.schemas`,
how errors answer in :mod:`embrec.service.middleware`, and the interactive API docs (``/docs``,
``/redoc``, served offline) in :mod:`embrec.service.docs`. :func:`run_server` serves it with
uvicorn (``embrec serve``), having loaded everything first.

Every id in a path or body is the dataset's own id. Unknown ids answer 404, ratings off the
model's scale and malformed bodies 422, things the loaded model cannot do 409, and a failing
database 503, always as ``{"detail": "..."}`` naming what was wrong.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from embrec.errors import EmbrecError
from embrec.service import middleware
from embrec.service.catalog import Catalog, ServiceConflict
from embrec.service.docs import add_docs
from embrec.service.routes import MAX_N, add_routes
from embrec.service.state import ServiceState
from embrec.service.storage import Storage, default_db_url, normalise_url

if TYPE_CHECKING:
    from embrec.data.options import DataOptions
    from embrec.runs import Run

# Catalog, ServiceConflict and MAX_N live in catalog.py and routes.py; they stay importable from here
__all__ = ["MAX_N", "Catalog", "ServiceConflict", "create_app", "run_server"]

log = logging.getLogger(__name__)


def open_service(run_path: str | Path, *, db_url: str | None = None) -> ServiceState:
    """Everything the service needs, loaded and checked: the run's model, its :class:`Catalog`, the database.

    ``embrec serve`` calls this before uvicorn starts, so a broken run folder or a database that
    cannot be reached is one error, not a failed startup; the app's lifespan calls it when it
    was given nothing prepared.

    Raises:
        ModelFileError: the run folder is missing or broken.
        ConfigError: ``db_url`` is not a SQLite file or PostgreSQL URL.
        StorageError: the database cannot be reached or its tables cannot be created.
    """
    from embrec.runs import Run

    url = db_url or default_db_url(run_path)
    normalise_url(url)  # a URL that cannot be used fails before the run is loaded
    run = Run.open(run_path)
    catalog = Catalog(run.model, data=_recorded_data(run))
    return ServiceState(catalog, Storage(url))


def _recorded_data(run: Run) -> DataOptions | None:
    """The data options the run recorded; a broken record only costs the page its words for the items."""
    try:
        return run.data_options
    except EmbrecError as exc:
        log.warning("cannot tell what data run %s was trained on, so its items are called items: %s", run.path, exc)
        return None


def create_app(run_path: str | Path, *, db_url: str | None = None, service: ServiceState | None = None) -> FastAPI:
    """The FastAPI app serving the run in ``run_path``.

    Nothing is read until the app starts: its lifespan loads the model, precomputes the
    :class:`Catalog` and opens the database (``db_url``; default a SQLite file beside the run,
    see :func:`~embrec.service.storage.default_db_url`), all with :func:`open_service`, unless
    ``service`` brings them prepared. The app closes the database when it stops.
    """
    run_path = Path(run_path)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = service if service is not None else open_service(run_path, db_url=db_url)
        app.state.service = state
        app.state.index_html = (resources.files("embrec.service") / "static" / "index.html").read_text(encoding="utf-8")
        log.info(
            "serving %s (%s, %d items) with new users in %s",
            run_path,
            state.catalog.model.name,
            len(state.catalog.item_ids),
            state.storage.describe(),
        )
        try:
            yield
        finally:
            state.storage.close()

    app = FastAPI(
        title="embrec",
        summary="Recommendations, similar films, and new users rating their way in.",
        version=_version(),
        lifespan=lifespan,
        # FastAPI's own docs pages load Swagger UI and ReDoc from a CDN: add_docs serves them from here
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,  # the API has no OAuth sign-in to return to
    )
    middleware.install(app)
    add_docs(app)
    app.mount("/static", StaticFiles(packages=[("embrec.service", "static")]), name="static")
    add_routes(app)
    return app


def _version() -> str:
    from embrec import __version__

    return str(__version__)


def limit_threads(threads: int) -> None:
    """Cap torch's and numpy's CPU threads at ``threads``.

    One request's small matrix products gain nothing from more, and requests served side by
    side would fight over the cores.
    """
    torch.set_num_threads(threads)
    try:  # numpy's BLAS too: its idle threads spinning for cores other work holds cost whole milliseconds
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


def run_server(
    run_path: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    db_url: str | None = None,
    threads: int = 1,
    log_level: str = "info",
    access_log: bool = True,
    service: ServiceState | None = None,
) -> None:
    """Serve ``run_path`` with uvicorn until interrupted (what ``embrec serve`` runs).

    The run is loaded and the database opened (:func:`open_service`) before uvicorn starts,
    unless ``service`` brings them prepared; ``threads`` caps the CPU threads (:func:`limit_threads`).
    """
    import uvicorn

    limit_threads(threads)
    state = service if service is not None else open_service(run_path, db_url=db_url)
    try:
        uvicorn.run(
            create_app(run_path, db_url=db_url, service=state),
            host=host,
            port=port,
            log_level=log_level,
            access_log=access_log,
            server_header=False,
        )
    finally:  # the lifespan closes it too, but uvicorn may stop before the app ever starts
        state.storage.close()

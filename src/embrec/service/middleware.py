"""How the service answers over HTTP: security headers (:func:`policy`), and which error is which status.

Unknown ids answer 404, malformed bodies 422, things the loaded model cannot do 409, a failing
database 503 and any other library error 400, always as ``{"detail": "..."}``.
:func:`install` puts the middleware and the handlers on an app; :func:`answers` declares those
answers in the OpenAPI schema of the routes that give them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from embrec.errors import EmbrecError, UnknownIdError
from embrec.service import schemas as s
from embrec.service.catalog import ServiceConflict
from embrec.service.storage import StorageError

__all__ = ["answers", "install", "policy"]

# Starlette picks the handler of the nearest class in an error's MRO: EmbrecError gets the rest
_STATUS_OF: tuple[tuple[type[Exception], int], ...] = (
    (UnknownIdError, 404),
    (ServiceConflict, 409),
    (StorageError, 503),
    (EmbrecError, 400),
)
_DESCRIPTIONS = {
    404: "An id is unknown.",
    409: "The loaded model cannot do this.",
    503: "The database failed.",
}


def policy(*, script_hashes: Sequence[str] = (), inline_styles: bool = False, blob_workers: bool = False) -> str:
    """A Content-Security-Policy: everything from the app itself only, and no plug-ins, frames or base changes.

    The service's page gets it as it is. A page that needs more says so in its own
    ``content-security-policy`` header (the middleware keeps a header a route set), widening it
    only by what that page needs: its inline scripts by hash (``"sha256-..."``), inline styles,
    web workers made from ``blob:`` URLs.
    """
    scripts = " ".join(["'self'", *(f"'{h}'" for h in script_hashes)])
    styles = "'self' 'unsafe-inline'" if inline_styles else "'self'"
    workers = "; worker-src 'self' blob:" if blob_workers else ""
    return (
        f"default-src 'self'; script-src {scripts}; style-src {styles}; img-src 'self' data:; connect-src 'self'"
        f"{workers}; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


_CSP = policy()


def answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a route that can answer with these error statuses (404, 409, 503)."""
    return {status: {"model": s.ErrorMessage, "description": _DESCRIPTIONS[status]} for status in statuses}


def install(app: FastAPI) -> None:
    """Add the security headers and the error handlers to ``app``."""
    app.add_middleware(_SecurityHeaders)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for error, status in _STATUS_OF:
        app.add_exception_handler(error, _message(status))


class _SecurityHeaders:
    """Headers that keep the page's data from ever running as code (CSP) or being sniffed as HTML."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", _CSP)
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("referrer-policy", "no-referrer")
                headers.setdefault("x-frame-options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # a NaN sent as a rating comes back as "nan", not as invalid JSON
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": _json_safe(jsonable_encoder(errors))}, status_code=422)


def _message(status: int) -> Any:
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return handler

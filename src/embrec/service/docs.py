"""The interactive API docs, Swagger UI at ``/docs`` and ReDoc at ``/redoc``, served by the app itself.

FastAPI's own docs pages load Swagger UI and ReDoc from a CDN, so offline they are blank. Here
the pages are FastAPI's (:func:`~fastapi.openapi.docs.get_swagger_ui_html`,
:func:`~fastapi.openapi.docs.get_redoc_html`) pointing at the dist files that the
``fastapi-offline`` package ships, mounted under :data:`ASSETS_URL`. Each page carries its own
Content-Security-Policy (:func:`embrec.service.middleware.policy`): Swagger UI's one inline start-up
script is allowed by its hash, and inline styles, which both UIs set as they draw, on these
pages only; the service's page keeps the strict policy.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import re

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from embrec.errors import ConfigError
from embrec.service.middleware import policy

__all__ = ["ASSETS_PACKAGE", "ASSETS_URL", "add_docs"]

#: The package whose ``static`` folder holds swagger-ui-bundle.js, swagger-ui.css and redoc.standalone.js.
ASSETS_PACKAGE = "fastapi_offline"
#: Where the app serves those files.
ASSETS_URL = "/docs-assets"

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def add_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` and ReDoc at ``/redoc`` from local files, for ``app``'s schema.

    ``app`` must be made with ``docs_url=None, redoc_url=None`` so that FastAPI's CDN pages are not there.

    Raises:
        ConfigError: the ``fastapi-offline`` package with the assets is not installed.
    """
    if importlib.util.find_spec(ASSETS_PACKAGE) is None:
        raise ConfigError(
            f"the API docs need the {ASSETS_PACKAGE.replace('_', '-')} package (Swagger UI and ReDoc files to serve "
            "offline), which is not installed; install it with pip install fastapi-offline, or install "
            "embrec with its serve extra (pip install 'embrec[serve]')."
        )
    app.mount(ASSETS_URL, StaticFiles(packages=[(ASSETS_PACKAGE, "static")]), name="docs-assets")

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API docs",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}/static/favicon.svg",
            # no badge asking validator.swagger.io about the schema: nothing leaves this machine
            swagger_ui_parameters={"validatorUrl": None},
        )
        return _with_policy(page, inline_styles=False, blob_workers=False)

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API reference",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}/static/favicon.svg",
            with_google_fonts=False,
        )
        return _with_policy(page, inline_styles=True, blob_workers=True)

    app.add_api_route("/docs", swagger_ui, include_in_schema=False)
    app.add_api_route("/redoc", redoc, include_in_schema=False)


def _with_policy(page: HTMLResponse, *, inline_styles: bool, blob_workers: bool) -> HTMLResponse:
    """``page`` with the service's policy widened by its own inline scripts (by hash) and, where asked,
    inline styles and ``blob:`` workers."""
    html = bytes(page.body).decode("utf-8")
    hashes = [_sha256(script) for script in _INLINE_SCRIPT.findall(html)]
    page.headers["content-security-policy"] = policy(
        script_hashes=hashes, inline_styles=inline_styles, blob_workers=blob_workers
    )
    return page


def _sha256(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")

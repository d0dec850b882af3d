"""The interactive API docs (/docs, /redoc) are served by the app itself: no CDN, a policy of their own.

What they look like in a browser, offline, is in test_page.py.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from embrec.errors import ConfigError
from service.helpers import TestClient

# what each kind of asset must be served as
_CONTENT_TYPES = {
    ".js": "javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
}


class _Links(HTMLParser):
    """Every URL a page loads (script src, link href, ReDoc's spec-url) and its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href", "spec-url"):
            if values.get(name):
                self.urls.append(str(values[name]))
        self._in_script = tag == "script" and "src" not in values

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_scripts.append(data)


def _links(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    # Swagger UI's start-up script names the schema it loads
    parser.urls += re.findall(r"url: '([^']+)'", " ".join(parser.inline_scripts))
    return parser


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_load_only_what_the_app_serves(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    links = _links(page.text)
    scripts = [u for u in links.urls if u.endswith(".js")]
    assert scripts and [u for u in links.urls if u.endswith(".json")] == ["/openapi.json"]
    for url in links.urls:
        assert url.startswith("/") and not url.startswith("//"), f"{path} loads {url} from another host"
        answer = client.get(url)
        assert answer.status_code == 200, f"{path} loads {url}, which answers {answer.status_code}"
        expected = _CONTENT_TYPES[Path(url).suffix]
        assert expected in answer.headers["content-type"], f"{url} is served as {answer.headers['content-type']}"
    assert "cdn" not in page.text.lower() and "fonts.googleapis" not in page.text


def test_swagger_ui_is_the_real_bundle(client: TestClient) -> None:
    links = _links(client.get("/docs").text)
    (bundle,) = (u for u in links.urls if u.endswith("swagger-ui-bundle.js"))
    js = client.get(bundle).text
    assert "SwaggerUIBundle" in js and len(js) > 500_000  # the dist file, not a stub
    assert ".swagger-ui" in client.get(next(u for u in links.urls if u.endswith(".css"))).text


def _directives(header: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


def test_docs_run_their_own_start_up_script_and_nothing_inline_else(client: TestClient) -> None:
    page = client.get("/docs")
    policy = _directives(page.headers["content-security-policy"])
    (script,) = _links(page.text).inline_scripts
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert policy["script-src"] == ["'self'", f"'sha256-{digest}'"]
    assert policy["style-src"] == ["'self'"] and policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert page.headers["x-content-type-options"] == "nosniff"
    # ReDoc draws with inline styles and searches in a blob: worker; no script runs inline there
    redoc = _directives(client.get("/redoc").headers["content-security-policy"])
    assert redoc["script-src"] == ["'self'"] and redoc["style-src"] == ["'self'", "'unsafe-inline'"]
    assert redoc["worker-src"] == ["'self'", "blob:"]
    # and the service's own page keeps the strict policy
    site = _directives(client.get("/").headers["content-security-policy"])
    assert site["script-src"] == ["'self'"] and site["style-src"] == ["'self'"] and "worker-src" not in site


def test_docs_follow_a_root_path(runs: dict[str, Path], tmp_path: Path) -> None:
    from embrec.service import create_app

    with TestClient(create_app(runs["ranking"], db_url=f"sqlite:///{tmp_path / 's.sqlite'}"), root_path="/embrec") as c:
        urls = _links(c.get("/docs").text).urls
    assert urls and all(u.startswith("/embrec/") for u in urls)


def test_without_the_assets_the_app_says_what_to_install(
    runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from embrec.service import create_app, docs

    monkeypatch.setattr(docs, "ASSETS_PACKAGE", "no_such_docs_assets_package")
    with pytest.raises(ConfigError, match="pip install fastapi-offline"):
        create_app(runs["ranking"], db_url=f"sqlite:///{tmp_path / 's.sqlite'}")


def test_the_schema_is_not_where_the_docs_were(client: TestClient) -> None:
    # FastAPI's CDN pages are gone rather than shadowed, and the API has no OAuth page to return to
    paths: Any = client.get("/openapi.json").json()["paths"]
    assert not any(p.startswith(("/docs", "/redoc")) for p in paths)
    assert client.get("/docs/oauth2-redirect").status_code == 404

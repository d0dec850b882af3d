"""Downloading, checking and unpacking built-in datasets, against a local HTTP server.

The server runs on 127.0.0.1 on an ephemeral port and serves small zips built here; the
registry entries are patched to those zips' real checksums. Nothing touches the network.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from embrec.data import datasets
from embrec.data.datasets import download_dataset, find_dataset
from embrec.data.download import parse_md5_file
from embrec.errors import ChecksumError, DatasetNotFoundError, DownloadError

U_DATA = b"1\t10\t5\t881250949\n2\t10\t3\t881250950\n2\t20\t4\t881250951\n"


def make_zip(folder: str, files: dict[str, bytes], *, extra: dict[str, bytes] | None = None) -> bytes:
    """A zip laid out like GroupLens's: a folder entry, then the files inside it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{folder}/", b"")
        for name, data in files.items():
            archive.writestr(f"{folder}/{name}", data)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.server.hits.append(self.path)
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
            return
        body, truncate = route
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if truncate:
            # Promise more than is sent, then hang up: a connection dropped mid-file.
            self.send_header("Content-Length", str(len(body) + 1000))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass


class _Server(HTTPServer):
    routes: dict[str, tuple[bytes, bool]]
    hits: list[str]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def serve(self, path: str, body: bytes, *, truncate: bool = False) -> None:
        self.routes[path] = (body, truncate)


@pytest.fixture
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.routes = {}
    httpd.hits = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No real cache, data folder or mirror leaks in from the machine running the tests."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("EMBREC_DATA_DIR", raising=False)
    monkeypatch.delenv("EMBREC_DOWNLOAD_URL", raising=False)


def patch_entry(monkeypatch: pytest.MonkeyPatch, name: str, **changes: Any) -> None:
    info = datasets.dataset_info(name)
    monkeypatch.setitem(datasets._REGISTRY, name, dataclasses.replace(info, **changes))


def serve_ml100k(server: _Server, monkeypatch: pytest.MonkeyPatch, *, truncate: bool = False) -> bytes:
    body = make_zip("ml-100k", {"u.data": U_DATA, "README": b"fake ml-100k\n"}, extra={"__MACOSX/._u.data": b"junk"})
    server.serve("/ml-100k.zip", body, truncate=truncate)
    patch_entry(
        monkeypatch,
        "ml-100k",
        sha256=hashlib.sha256(body).hexdigest(),
        md5=hashlib.md5(body).hexdigest(),
        zip_size=len(body),
    )
    return body


def contents(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_good_checksum_extracts_then_finds_without_downloading(
    server: _Server,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    body = serve_ml100k(server, monkeypatch)
    calls: list[tuple[int, int | None]] = []
    data_dir = tmp_path / "data"

    path = find_dataset("ml-100k", data_dir, base_url=server.base_url, progress=lambda d, t: calls.append((d, t)))

    assert path == data_dir / "ml-100k"
    assert (path / "u.data").read_bytes() == U_DATA
    assert contents(data_dir) == ["ml-100k"]  # no temporary zip or staging folder left
    assert not (data_dir / "__MACOSX").exists()
    assert calls[0] == (0, len(body)) and calls[-1] == (len(body), len(body))
    assert server.hits == ["/ml-100k.zip"]

    again = find_dataset("ml-100k", data_dir, base_url=server.base_url)
    assert again == path
    assert server.hits == ["/ml-100k.zip"]  # found on disk, not downloaded again


def test_download_goes_to_the_cache_through_the_mirror_env(
    server: _Server,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    serve_ml100k(server, monkeypatch)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("EMBREC_DOWNLOAD_URL", server.base_url + "/")

    path = find_dataset("ml-100k")

    assert path == tmp_path / "xdg" / "embrec" / "ml-100k"
    assert (path / "u.data").read_bytes() == U_DATA


def test_bad_checksum_leaves_nothing(server: _Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    serve_ml100k(server, monkeypatch)
    patch_entry(monkeypatch, "ml-100k", sha256="0" * 64)
    data_dir = tmp_path / "data"

    with pytest.raises(ChecksumError, match="sha256") as caught:
        find_dataset("ml-100k", data_dir, base_url=server.base_url)

    assert not data_dir.exists()  # created for the download, removed again
    assert str(data_dir / "ml-100k" / "u.data") in str(caught.value)


def test_bad_checksum_in_an_existing_folder_leaves_it_as_it_was(
    server: _Server,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    serve_ml100k(server, monkeypatch)
    patch_entry(monkeypatch, "ml-100k", md5="0" * 32)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "mine.txt").write_text("keep me")

    with pytest.raises(ChecksumError, match="md5"):
        find_dataset("ml-100k", data_dir, base_url=server.base_url)

    assert contents(data_dir) == ["mine.txt"]


def test_md5_alone_is_checked_and_the_zip_folder_name_is_kept(
    server: _Server,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    body = make_zip("ml-10M100K", {"ratings.dat": b"1::122::5::838985046\n"})
    server.serve("/ml-10m.zip", body)
    patch_entry(monkeypatch, "ml-10m", md5=hashlib.md5(body).hexdigest())

    path = find_dataset("ml-10m", tmp_path, base_url=server.base_url)

    assert path == tmp_path / "ml-10M100K"
    assert (path / "ratings.dat").is_file()

    patch_entry(monkeypatch, "ml-10m", md5="f" * 32)
    with pytest.raises(ChecksumError):
        download_dataset("ml-10m", tmp_path, force=True, base_url=server.base_url)
    assert (path / "ratings.dat").is_file()  # the good copy survives a failed replacement
    assert contents(tmp_path) == ["ml-10M100K"]


@pytest.mark.parametrize(
    "md5_text",
    ["MD5 (ml-32m.zip) = {md5}\n", "{md5}  ml-32m.zip\n", "{md5}"],
    ids=["bsd", "gnu", "bare"],
)
def test_published_md5_is_fetched_and_checked(server: _Server, tmp_path: Path, md5_text: str) -> None:
    body = make_zip("ml-32m", {"ratings.csv": b"userId,movieId,rating,timestamp\n1,17,4.0,944249077\n"})
    server.serve("/ml-32m.zip", body)
    server.serve("/ml-32m.zip.md5", md5_text.format(md5=hashlib.md5(body).hexdigest()).encode())

    path = find_dataset("ml-32m", tmp_path, base_url=server.base_url)

    assert (path / "ratings.csv").is_file()
    assert server.hits == ["/ml-32m.zip.md5", "/ml-32m.zip"]


def test_published_md5_mismatch_and_absence(server: _Server, tmp_path: Path) -> None:
    body = make_zip("ml-32m", {"ratings.csv": b"userId,movieId,rating,timestamp\n"})
    server.serve("/ml-32m.zip", body)

    with pytest.raises(DownloadError, match="404"):
        find_dataset("ml-32m", tmp_path / "a", base_url=server.base_url)
    assert not (tmp_path / "a").exists()

    server.serve("/ml-32m.zip.md5", b"MD5 (ml-32m.zip) = " + b"a" * 32 + b"\n")
    with pytest.raises(ChecksumError):
        find_dataset("ml-32m", tmp_path / "b", base_url=server.base_url)
    assert not (tmp_path / "b").exists()


def test_connection_dropped_mid_file_leaves_nothing(
    server: _Server,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    serve_ml100k(server, monkeypatch, truncate=True)
    data_dir = tmp_path / "data"

    with pytest.raises(DownloadError, match="ended after") as caught:
        find_dataset("ml-100k", data_dir, base_url=server.base_url)

    assert not isinstance(caught.value, ChecksumError)
    assert not data_dir.exists()


def test_server_down_names_where_to_put_the_folder(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / "data"

    with pytest.raises(DownloadError) as caught:
        find_dataset("ml-100k", data_dir, base_url=base)

    message = str(caught.value)
    assert f"{base}/ml-100k.zip" in message
    assert str(data_dir / "ml-100k" / "u.data") in message
    assert str(tmp_path / "home" / ".cache" / "embrec" / "ml-100k") in message  # the other searched place
    assert "\n" not in message
    assert not data_dir.exists()


def test_http_error_is_a_download_error(server: _Server, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="HTTP 404"):
        find_dataset("ml-1m", tmp_path / "data", base_url=server.base_url)
    assert not (tmp_path / "data").exists()


def test_corrupt_zip_leaves_nothing(server: _Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    body = b"PK\x03\x04 this is not really a zip" * 10
    server.serve("/ml-100k.zip", body)
    patch_entry(monkeypatch, "ml-100k", sha256=hashlib.sha256(body).hexdigest(), md5=None)

    with pytest.raises(DownloadError, match="not a readable zip"):
        find_dataset("ml-100k", tmp_path / "data", base_url=server.base_url)
    assert not (tmp_path / "data").exists()


def test_zip_without_the_expected_folder_is_refused(
    server: _Server,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    body = make_zip("something-else", {"u.data": U_DATA})
    server.serve("/ml-100k.zip", body)
    patch_entry(monkeypatch, "ml-100k", sha256=hashlib.sha256(body).hexdigest(), md5=None)

    with pytest.raises(DownloadError, match="ml-100k/u.data"):
        find_dataset("ml-100k", tmp_path / "data", base_url=server.base_url)
    assert not (tmp_path / "data").exists()


def test_zip_with_unsafe_paths_is_refused(server: _Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    body = make_zip("ml-100k", {"u.data": U_DATA, "../../escaped.txt": b"gotcha"})
    server.serve("/ml-100k.zip", body)
    patch_entry(monkeypatch, "ml-100k", sha256=hashlib.sha256(body).hexdigest(), md5=None)

    with pytest.raises(DownloadError, match="unsafe"):
        find_dataset("ml-100k", tmp_path / "a" / "data", base_url=server.base_url)
    assert not (tmp_path / "a").exists()
    assert not list(tmp_path.rglob("escaped.txt"))


def test_ctrl_c_mid_download_leaves_nothing(server: _Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    serve_ml100k(server, monkeypatch)
    data_dir = tmp_path / "data"
    data_dir.mkdir()

    def interrupt(done: int, total: int | None) -> None:
        if done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        find_dataset("ml-100k", data_dir, base_url=server.base_url, progress=interrupt)
    assert contents(data_dir) == []


def test_force_replaces_and_no_force_keeps(server: _Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    serve_ml100k(server, monkeypatch)
    old = tmp_path / "ml-100k"
    old.mkdir()
    (old / "u.data").write_bytes(b"old\n")
    (old / "stale.txt").write_text("from before")

    assert download_dataset("ml-100k", tmp_path, base_url=server.base_url) == old
    assert server.hits == []

    path = download_dataset("ml-100k", tmp_path, force=True, base_url=server.base_url)

    assert path == old
    assert (path / "u.data").read_bytes() == U_DATA
    assert not (path / "stale.txt").exists()
    assert contents(tmp_path) == ["ml-100k"]


def test_incomplete_folder_is_not_overwritten(server: _Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    serve_ml100k(server, monkeypatch)
    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "notes.txt").write_text("mine")

    with pytest.raises(DatasetNotFoundError, match=r"download_dataset\('ml-100k', force=True\)"):
        find_dataset("ml-100k", tmp_path, base_url=server.base_url)
    assert contents(tmp_path / "ml-100k") == ["notes.txt"]
    assert server.hits == []


def test_unsupported_scheme_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="scheme 'ftp'"):
        find_dataset("ml-100k", tmp_path / "data", base_url="ftp://127.0.0.1/movielens")
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MD5 (ml-32m.zip) = 0123456789ABCDEF0123456789abcdef\n", "0123456789abcdef0123456789abcdef"),
        ("0123456789abcdef0123456789abcdef  ml-32m.zip\n", "0123456789abcdef0123456789abcdef"),
    ],
)
def test_parse_md5_file(text: str, expected: str) -> None:
    assert parse_md5_file(text, source="x.md5") == expected


@pytest.mark.parametrize("text", ["", "<html>Not Found</html>", "a" * 32 + " " + "b" * 32])
def test_parse_md5_file_refuses_anything_but_one_digest(text: str) -> None:
    with pytest.raises(DownloadError, match="x.md5"):
        parse_md5_file(text, source="x.md5")

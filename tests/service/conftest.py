"""Fixtures of the service tests: tiny trained runs, a real PostgreSQL, the app under a client, Chromium."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from embrec.data.options import DataOptions, SplitOptions
from embrec.models.baselines.popularity import PopularityRecommender
from embrec.models.embedding import EmbeddingRecommender
from embrec.runs import Run
from service.helpers import TestClient, free_port, synthetic_data


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Run folders of a ranking model, a rating model, and a popularity baseline (no vectors, no fold-in)."""
    data = synthetic_data()
    base = tmp_path_factory.mktemp("runs")
    out = {}
    for objective in ("ranking", "rating"):
        model = EmbeddingRecommender(
            objective=objective, embedding_dim=8, epochs=40, early_stopping=False, learning_rate=0.05, seed=3
        ).fit(data)
        out[objective] = model.save(base / objective)
    out["popularity"] = PopularityRecommender().fit(data).save(base / "popularity")
    return out


@pytest.fixture(scope="session")
def movielens_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ranking run that records MovieLens data (dataset ml-100k) and has a film titled Star Wars.

    The data itself is the two-taste dataset: the service reads what the run recorded and never loads it.
    """
    model = EmbeddingRecommender(
        objective="ranking", embedding_dim=8, epochs=40, early_stopping=False, learning_rate=0.05, seed=3
    ).fit(synthetic_data({0: "Star Wars (1977)"}))
    extra = Run.record(DataOptions(dataset="ml-100k"), SplitOptions())
    return model.save(tmp_path_factory.mktemp("movielens") / "run", extra=extra)


@pytest.fixture
def client_for(tmp_path: Path) -> Iterator[Any]:
    """Opens a started TestClient for a run (and a database URL); all closed after the test."""
    from embrec.service import create_app

    clients: list[TestClient] = []

    def open_client(run: Path, db_url: str | None = None) -> TestClient:
        url = db_url or f"sqlite:///{tmp_path / 'service.sqlite'}"
        client = TestClient(create_app(run, db_url=url))
        client.__enter__()
        clients.append(client)
        return client

    yield open_client
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def client(runs: dict[str, Path], client_for: Any) -> TestClient:
    """The ranking run served with a SQLite file in tmp_path."""
    return client_for(runs["ranking"])


# --------------------------------------------------------------------------- PostgreSQL
def _pg_bindir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name, reverse=True)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free port of 127.0.0.1; yields its server URL (no database)."""
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL binaries (initdb, pg_ctl) not found: install the Debian package postgresql, as .ci/run does"
        )
    prefix: list[str] = []
    owner = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip(
                "running as root and there is no 'postgres' user to run PostgreSQL as (the Debian package creates it)"
            )
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root without runuser (util-linux) to start PostgreSQL as the 'postgres' user")
        prefix = [runuser, "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="embrec-pg-"))
    if owner is not None:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data, log = base / "data", base / "server.log"

    def run(args: list[str]) -> None:
        done = subprocess.run(prefix + args, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr}{done.stdout}\n{server_log}")

    port = free_port()
    run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
    options = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off"
    )
    run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start"])
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        try:
            run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_url(postgres_server: str) -> str:
    """A fresh, empty database on the test cluster."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{postgres_server.replace('+psycopg', '')}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{postgres_server}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on a SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'service.sqlite'}"
    return str(request.getfixturevalue("pg_url"))

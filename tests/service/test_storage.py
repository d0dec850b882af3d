"""New users and their ratings in SQLite and in a real PostgreSQL (every test runs on both)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from embrec.errors import ConfigError, UnknownIdError
from embrec.service.storage import Storage, StorageError, default_db_url, normalise_url


@pytest.fixture
def store(db_url: str) -> Iterator[Storage]:
    storage = Storage(db_url)
    yield storage
    storage.close()


def test_ratings_are_stored_newest_first_and_rating_again_replaces(store: Storage) -> None:
    user = store.create_user()
    assert user.ratings == () and len(user.id) == 32
    store.add_ratings(user.id, [("10", 4.0), ("11", 2.5)])
    after = store.add_ratings(user.id, [("12", 5.0), ("10", 1.0)])
    assert {r.item: r.rating for r in after.ratings} == {"10": 1.0, "11": 2.5, "12": 5.0}
    assert after.ratings[-1].item == "11"  # the oldest
    assert store.get_user(user.id) == after
    assert after.created_at.tzinfo is not None


def test_unknown_user_is_named(store: Storage) -> None:
    with pytest.raises(UnknownIdError, match="'nobody'"):
        store.get_user("nobody")
    with pytest.raises(UnknownIdError, match="'nobody'"):
        store.add_ratings("nobody", [("10", 3.0)])


def test_a_failing_batch_stores_nothing(store: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    user = store.create_user()
    store.add_ratings(user.id, [("10", 4.0)])
    with pytest.raises(ConfigError, match="'11' is rated twice"):
        store.add_ratings(user.id, [("11", 4.0), ("11", 3.0)])

    def database_fails(*_: object) -> None:
        raise OperationalError("SELECT ...", {}, RuntimeError("the disk went away"))

    # the ratings are written, then the transaction fails before it ends: none may stay
    monkeypatch.setattr(store, "_ratings", database_fails)
    with pytest.raises(StorageError, match="OperationalError"):
        store.add_ratings(user.id, [("12", 3.0), ("10", 1.0)])
    monkeypatch.undo()
    assert [(r.item, r.rating) for r in store.get_user(user.id).ratings] == [("10", 4.0)]


def test_delete_rating(store: Storage) -> None:
    user = store.create_user()
    store.add_ratings(user.id, [("10", 4.0), ("11", 2.0)])
    assert [r.item for r in store.delete_rating(user.id, "10").ratings] == ["11"]
    with pytest.raises(UnknownIdError, match="has not rated item '10'"):
        store.delete_rating(user.id, "10")


def test_reopening_the_database_loses_nothing(db_url: str) -> None:
    first = Storage(db_url)
    user = first.create_user()
    first.add_ratings(user.id, [("10", 4.5)])
    first.close()
    second = Storage(db_url)
    try:
        again = second.get_user(user.id)
        assert [(r.item, r.rating) for r in again.ratings] == [("10", 4.5)]
        assert second.count_users() == 1
    finally:
        second.close()


def test_concurrent_writes_to_one_user(store: Storage) -> None:
    user = store.create_user()
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(k: int) -> None:
        try:
            start.wait()
            for j in range(6):
                # every thread writes its own films and also re-rates one film they all share
                store.add_ratings(user.id, [(f"{k}-{j}", 1.0 + (j % 4)), ("shared", float(k % 5) + 0.5)])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stored = {r.item: r.rating for r in store.get_user(user.id).ratings}
    assert len(stored) == 8 * 6 + 1
    assert stored["shared"] in {float(k % 5) + 0.5 for k in range(8)}
    assert all(stored[f"{k}-{j}"] == 1.0 + (j % 4) for k in range(8) for j in range(6))


def test_database_urls() -> None:
    assert normalise_url("postgres://u:secret@db:5432/x").drivername == "postgresql+psycopg"
    assert normalise_url("postgresql://u@db/x").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///a/b.sqlite").database == "a/b.sqlite"
    for bad, message in [
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("mysql://u@h/db", "'mysql'.*not supported"),
        ("not a url", "cannot be parsed"),
    ]:
        with pytest.raises(ConfigError, match=message):
            normalise_url(bad)


def test_default_database_sits_beside_the_run(tmp_path: Path) -> None:
    # beside, not inside: saving the model again replaces the whole run folder
    assert default_db_url(tmp_path / "runs" / "mine") == f"sqlite:///{tmp_path / 'runs' / 'mine.service.sqlite'}"


def test_password_never_shown() -> None:
    with pytest.raises(StorageError) as info:
        Storage("postgresql://user:hunter2@127.0.0.1:1/nowhere")
    assert "hunter2" not in str(info.value) and "***" in str(info.value)

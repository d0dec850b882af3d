"""Where the service keeps new users and their ratings: SQLite by default, PostgreSQL by URL.

Two tables, created when missing::

    embrec_new_users   id (text, primary key), created_at
    embrec_ratings     user_id -> embrec_new_users.id, item (the film's external id as text),
                       rating, rated_at; primary key (user_id, item)

Every statement goes through SQLAlchemy Core with bound parameters. Each change runs in one
transaction that first locks the user (``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN
IMMEDIATE`` on SQLite), so concurrent writes to one user are applied one after the other and
a failed request leaves nothing half-written. Re-rating a film replaces the earlier rating.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Float,
    ForeignKey,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from embrec.errors import ConfigError, EmbrecError, UnknownIdError

__all__ = ["NewUser", "Rating", "Storage", "StorageError", "default_db_url", "normalise_url"]

log = logging.getLogger(__name__)

#: Longest external item id stored (ids are checked against the model before they get here).
MAX_ITEM_ID_LENGTH = 200

metadata = MetaData()

new_users = Table(
    "embrec_new_users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

ratings_table = Table(
    "embrec_ratings",
    metadata,
    Column("user_id", String(32), ForeignKey("embrec_new_users.id", ondelete="CASCADE"), primary_key=True),
    Column("item", String(MAX_ITEM_ID_LENGTH), primary_key=True),
    Column("rating", Float, nullable=False),
    Column("rated_at", DateTime(timezone=True), nullable=False),
)


class StorageError(EmbrecError):
    """The database cannot be reached or used."""


@dataclass(frozen=True)
class Rating:
    """One stored rating: the film's external id as text, the stars, and when."""

    item: str
    rating: float
    rated_at: datetime


@dataclass(frozen=True)
class NewUser:
    """A user created through the service, with their ratings (newest first)."""

    id: str
    created_at: datetime
    ratings: tuple[Rating, ...]


def default_db_url(run_path: str | Path) -> str:
    """SQLite file beside the run folder: ``runs/mine`` -> ``runs/mine.service.sqlite``.

    Beside, not inside: saving a model again replaces the run folder as a whole, which would
    take the service's users with it.
    """
    run = Path(run_path).resolve()
    return f"sqlite:///{run.parent / (run.name + '.service.sqlite')}"


def normalise_url(db_url: str) -> URL:
    """Parse a database URL; ``postgresql://`` and ``postgres://`` get the ``psycopg`` driver.

    Raises :class:`ConfigError` for anything other than a SQLite file or a PostgreSQL URL.
    """
    try:
        url = make_url(
            db_url.replace("postgres://", "postgresql://", 1) if db_url.startswith("postgres://") else db_url
        )
    except ArgumentError:
        raise ConfigError(
            f"database URL {db_url!r} cannot be parsed; give sqlite:///path/to/file.sqlite or "
            "postgresql://user:password@host:5432/dbname."
        ) from None
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "postgresql":
        # psycopg (3) is the driver embrec installs; a bare or other driver name would pick another
        return url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:") or "mode=memory" in str(url.query):
            raise ConfigError(
                f"database URL {shown!r} is an in-memory SQLite database, which would lose every new user when "
                "the service stops; give a file, e.g. sqlite:///service.sqlite."
            )
        return url
    raise ConfigError(
        f"database {url.get_backend_name()!r} (from {shown!r}) is not supported; use SQLite "
        "(sqlite:///path/to/file.sqlite) or PostgreSQL (postgresql://user:password@host:5432/dbname)."
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    # SQLite gives back naive datetimes; everything stored is UTC
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class Storage:
    """New users and their ratings in a SQL database (SQLite file or PostgreSQL).

    Args:
        db_url: a SQLAlchemy URL (``sqlite:///path`` or ``postgresql://...``).
        create: create the tables when they are missing.
    """

    def __init__(self, db_url: str, *, create: bool = True) -> None:
        self.url = normalise_url(db_url)
        self.dialect = self.url.get_backend_name()
        try:
            self.engine = self._make_engine()
            if create:
                metadata.create_all(self.engine)
        except NoSuchModuleError as exc:
            raise ConfigError(f"database driver for {self.describe()} is not installed ({exc}).") from None
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]  # the driver's first line
            raise StorageError(
                f"cannot open the database {self.describe()}: {type(exc).__name__}: {reason}; check the address and "
                "that the server is running."
            ) from None

    def describe(self) -> str:
        """The URL with its password hidden."""
        return self.url.render_as_string(hide_password=True)

    def _make_engine(self) -> Engine:
        if self.dialect == "postgresql":
            return create_engine(self.url, pool_pre_ping=True, pool_size=8, max_overflow=8)
        if self.url.database and not self.url.database.startswith("file:"):
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(self.url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # SQLAlchemy, not the sqlite3 module, emits BEGIN (see _on_begin)
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            # readers never wait for the writer; NORMAL sync is durable across a crash of the service
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # a writer takes the write lock up front, so two writers queue instead of deadlocking
            write = conn.get_execution_options().get("embrec_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                if write:
                    conn = conn.execution_options(embrec_write=True)
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            log.exception("database error")
            raise StorageError(f"the database {self.describe()} failed: {type(exc).__name__}") from None

    def _lock_user(self, conn: Connection, user_id: str) -> datetime:
        query = select(new_users.c.created_at).where(new_users.c.id == user_id)
        if self.dialect == "postgresql":
            query = query.with_for_update()
        created = conn.execute(query).scalar_one_or_none()
        if created is None:
            raise _unknown_user(user_id)
        return _aware(created)

    def _ratings(self, conn: Connection, user_id: str) -> tuple[Rating, ...]:
        rows = conn.execute(
            select(ratings_table.c.item, ratings_table.c.rating, ratings_table.c.rated_at)
            .where(ratings_table.c.user_id == user_id)
            .order_by(ratings_table.c.rated_at.desc(), ratings_table.c.item)
        ).all()
        return tuple(Rating(item, float(rating), _aware(at)) for item, rating, at in rows)

    def _upsert(self) -> Any:
        stmt = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(ratings_table)
        return stmt.on_conflict_do_update(
            index_elements=[ratings_table.c.user_id, ratings_table.c.item],
            set_={"rating": stmt.excluded.rating, "rated_at": stmt.excluded.rated_at},
        )

    # ------------------------------------------------------------------ operations
    def create_user(self) -> NewUser:
        """A new user with no ratings and a fresh random id."""
        user = NewUser(id=uuid.uuid4().hex, created_at=_now(), ratings=())
        with self._transaction(write=True) as conn:
            conn.execute(insert(new_users).values(id=user.id, created_at=user.created_at))
        return user

    def get_user(self, user_id: str) -> NewUser:
        """The user and their ratings; :class:`UnknownIdError` when there is no such user."""
        with self._transaction(write=False) as conn:
            created = self._lock_user(conn, user_id)
            return NewUser(user_id, created, self._ratings(conn, user_id))

    def add_ratings(self, user_id: str, pairs: Sequence[tuple[str, float]]) -> NewUser:
        """Store (item id, rating) pairs for a user, all or none; a film rated again keeps the new rating.

        Returns the user with every stored rating, read in the same transaction.
        """
        if not pairs:
            raise ConfigError("no ratings given; send at least one (item, rating) pair.")
        items = [item for item, _ in pairs]
        if len(set(items)) != len(items):
            twice = next(i for i in items if items.count(i) > 1)
            raise ConfigError(f"item {twice!r} is rated twice in one request; send each film once.")
        now = _now()
        rows = [{"user_id": user_id, "item": item, "rating": float(r), "rated_at": now} for item, r in pairs]
        with self._transaction(write=True) as conn:
            created = self._lock_user(conn, user_id)
            conn.execute(self._upsert(), rows)
            return NewUser(user_id, created, self._ratings(conn, user_id))

    def delete_rating(self, user_id: str, item: str) -> NewUser:
        """Forget one rating of a user; :class:`UnknownIdError` when the user never rated ``item``."""
        with self._transaction(write=True) as conn:
            created = self._lock_user(conn, user_id)
            gone = conn.execute(
                delete(ratings_table).where(ratings_table.c.user_id == user_id, ratings_table.c.item == item)
            ).rowcount
            if not gone:
                raise UnknownIdError(f"new user {user_id!r} has not rated item {item!r}; nothing to remove.")
            return NewUser(user_id, created, self._ratings(conn, user_id))

    def count_users(self) -> int:
        """How many new users the database holds."""
        with self._transaction(write=False) as conn:
            return int(conn.execute(select(func.count()).select_from(new_users)).scalar_one())


def _unknown_user(user_id: str) -> UnknownIdError:
    return UnknownIdError(
        f"unknown new user id {user_id!r}: no user with that id was created on this service; "
        "create one with POST /api/new-users."
    )

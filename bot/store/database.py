"""Opening the database: SQLite by default (WAL), any SQLAlchemy URL through ``DATABASE_URL``.

On SQLite every transaction begins ``IMMEDIATE``: it takes the write lock at once, so two turns
never read the same state and both write (one turn of one conversation at a time, across threads
and processes). ``secure_delete`` overwrites erased rows in the file instead of leaving them in
free pages, so erasure really erases.

Every engine opened here has its ``writer.Writer`` (``writer_of``), through which every write goes:
``write_transaction`` and ``cursor_transaction`` below are its two kinds of transaction, and its
``turn`` is how the web app runs a turn from the event loop.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from bot.store.journal import JournalShredder, shred_journal
from bot.store.schema import prepare
from bot.store.sqlite_writer import SqliteWriter
from bot.store.writer import Writer, writer_of

__all__ = [
    "READ_ONLY", "SQLITE_PRAGMAS", "JournalShredder", "close_writer", "cursor_transaction", "insert_ignoring_conflict",
    "open_database", "read_connection", "shred_journal", "write_transaction", "writer_of",
]

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",  # durable at checkpoints; with WAL, a crash loses at most the last turns
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA secure_delete=ON",
    # SQLite's temporary files (statement journals, the tables of an IN (SELECT ...)) in memory,
    # not in /var/tmp: they would hold pages of the database outside its directory, where no
    # erasure reaches, and under load they cost an open, an unlink and a close many times a second.
    "PRAGMA temp_store=MEMORY",
    # Checkpoint every 4,000 pages (~16 MB of log) rather than SQLite's 1,000: a turn rewrites a
    # few scattered pages (its conversation row, the receipts index), and a checkpoint copies each
    # page once however often it was rewritten, so fewer, larger checkpoints copy fewer pages per
    # turn; much larger ones stall the turns behind each checkpoint too long (bench/NOTES.md).
    # After an erasure the journal shredder checkpoints and empties the log within a second anyway.
    "PRAGMA wal_autocheckpoint=4000",
)


def open_database(url: str, *, check_schema: bool = True) -> Engine:
    """An engine for ``url``, with its writer: a database with no tables gets the current
    schema; one at an older schema revision raises ``schema.SchemaBehind`` (run ``safeharbor db
    upgrade``). ``check_schema=False`` is for that upgrade itself."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            path = Path(parsed.database)
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Only the service's user may read it (SQLite gives -wal and -shm the same mode).
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        engine = create_engine(url, connect_args={"check_same_thread": False})
        _sqlite_setup(engine)
        engine.safeharbor_writer = SqliteWriter(engine)
    else:
        # pool_pre_ping: a connection the server dropped (a restart, a failover) is replaced, not
        # used; a short connect timeout: a webhook answers with the fallback rather than hang.
        engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 3} if parsed.get_backend_name() == "postgresql" else {})
        engine.safeharbor_writer = Writer(engine)
    if check_schema:
        prepare(engine)
    return engine


READ_ONLY = "safeharbor_read_only"


def read_connection(engine: Engine) -> Connection:
    """A connection for reading only (``with read_connection(engine) as connection:``). On
    SQLite its transaction does not take the write lock, so the console's listings and the
    worker's checks never make a person's turn wait."""
    return engine.connect().execution_options(**{READ_ONLY: True})


def write_transaction(engine: Engine) -> AbstractContextManager[Connection]:
    """A SQLAlchemy transaction that writes (``Writer.transaction``): on SQLite the writers of
    this process queue on one lock first."""
    return writer_of(engine).transaction()


def cursor_transaction(engine: Engine) -> AbstractContextManager[Iterator]:
    """A write transaction on a bare DB-API cursor (``Writer.cursor``), for the statements of a
    turn (``prepared.Prepared``): commits on success, rolls back on error."""
    return writer_of(engine).cursor()


def close_writer(engine: Engine) -> None:
    """Give back what the engine's writer holds (before ``engine.dispose()``)."""
    writer_of(engine).close()


def insert_ignoring_conflict(bind, table):
    """``INSERT ... ON CONFLICT DO NOTHING`` for the dialect of ``bind`` (an engine, a
    connection, or a dialect)."""
    dialect = getattr(bind, "dialect", bind)
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table).on_conflict_do_nothing()


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        # Writers take the write lock at once; a connection from read_connection() only reads,
        # and in WAL mode a plain BEGIN lets it read beside a writer instead of waiting for one.
        connection.exec_driver_sql("BEGIN" if connection.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

"""How a database is written: one ``Writer`` per opened engine (``database.open_database`` gives
each engine its own, ``writer_of`` finds it), the only way in for a write.

    with writer.transaction() as connection:  # SQLAlchemy, commits on success
    with writer.cursor() as cursor:           # a bare DB-API cursor (the statements of a turn)
    result = await writer.turn(function, *args)  # from the event loop: ``function``'s writes, committed

``Writer`` serves a database over a network (PostgreSQL): every transaction takes a pooled
connection, and ``turn`` runs its function in a worker thread, since a wait there would stall
every other request on the loop. ``sqlite_writer.SqliteWriter`` serves a local SQLite file: one
lock and one connection for the process's writers, and turns on the loop grouped into one commit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine

T = TypeVar("T")


@dataclass
class Counters:
    """What a writer's turns did, for tests and benchmarks (only ever counted up). On a database
    that does not group turns every figure stays 0."""

    groups: int = 0  # groups of turns committed
    grouped_turns: int = 0  # turns those groups committed (``grouped_turns / groups``: turns per commit)
    failed_groups: int = 0  # groups whose commit failed: every turn of them raised in ``turn``
    rolled_back_turns: int = 0  # turns rolled back alone inside a group (an error, a redelivery)
    early_commits: int = 0  # groups committed before their time, by a write of the loop's own thread


class Writer:
    """Writes to a database over a network: each transaction on a connection from the pool."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.counters = Counters()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A SQLAlchemy transaction that writes: commits on success, rolls back on error."""
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def cursor(self) -> Iterator:
        """``transaction`` on a bare DB-API cursor: a pooled connection, on which the driver
        begins the transaction at the first statement."""
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                yield cursor
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
        finally:
            connection.close()  # back to the pool

    async def turn(self, function: Callable[..., T], *args) -> T:
        """``function(*args)`` (whose transactions commit as they end) from the event loop, in a
        worker thread: a wait on the network there would stall every other request. The threads
        are those, and as many as, starlette's ``run_in_threadpool`` uses."""
        return await anyio.to_thread.run_sync(functools.partial(function, *args))

    def after_commit(self, callback: Callable[[], None]) -> None:
        """``callback()`` once what this thread wrote is committed: here, now."""
        callback()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """No other writer of this process meanwhile (SQLite's checkpoints); nothing to hold here."""
        yield

    def commit_open(self) -> None:
        """Commit what this thread has open: nothing is kept open here."""

    def close(self) -> None:
        """Before ``engine.dispose()``: nothing is held here."""


def writer_of(engine: Engine) -> Writer:
    """The writer ``open_database`` gave ``engine``; an engine opened otherwise (not SQLite) gets
    a pooled one."""
    writer = getattr(engine, "safeharbor_writer", None)
    if writer is None:
        if engine.dialect.name == "sqlite":
            raise LookupError("open SQLite with bot.store.database.open_database: its writes need the process's one writer")
        writer = engine.safeharbor_writer = Writer(engine)
    return writer

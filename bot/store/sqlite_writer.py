"""Writing a local SQLite file: the process's writers queue on one lock, write on one connection,
and the turns the event loop runs within two passes share one commit.

The lock: SQLite lets one writer in at a time and makes the others sleep and retry with growing
sleeps (``busy_timeout``), which under load turns a 1 ms turn into a 500 ms wait; queued on a lock
in the process, they go in one after the other. Other processes still meet at ``BEGIN IMMEDIATE``.

The group commit (``SqliteWriter.turn``): under load several requests are ready at once. The first
turn begins a transaction and the writer commits it two loop passes later, once the requests
already waiting and those the next poll reads have run theirs, each turn inside its own savepoint
(a turn that fails or is a redelivery rolls back alone). One commit then writes the pages the
turns share once (the receipts' table and index pages, the log's header) and pays SQLite's fixed
cost of a commit once. Two passes, not one: the requests the next poll reads join the group too,
at the cost of one more poll before the first turns of a group are answered (the figures, and
what a third pass gave, are in bench/NOTES.md). A turn returns only once its group has
committed, and raises what the commit raised: its answer must not go out otherwise. Outside
``turn`` (threads, the worker, the command line) every transaction commits by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection, Engine

from bot.store.writer import Writer

log = logging.getLogger("safeharbor.store")

T = TypeVar("T")


class _Group:
    """The transaction the turns of two loop passes share; the writer's lock is held for it."""

    def __init__(self, record, loop: asyncio.AbstractEventLoop):
        self.record = record  # the pool's record of the writing connection the group began on
        self.thread = threading.get_ident()  # the loop's, which holds the lock for the group
        self.done: asyncio.Future = loop.create_future()  # result: None, or the commit's failure
        self.after: list[Callable[[], None]] = []
        self.broken: BaseException | None = None  # a savepoint could not be rolled back
        self.depth = 0  # turns of the group running now (a write transaction then is refused)
        self.turns = 0  # turns released into the group


class SqliteWriter(Writer):
    """The writes of one process on a SQLite file: its lock, its one writing connection, and the
    group of turns open now (at most one: the event loop's)."""

    def __init__(self, engine: Engine):
        super().__init__(engine)
        self._lock = threading.Lock()
        self._holder: int | None = None  # the thread inside ``exclusive`` (not a group's)
        # This process's connection for writes, kept checked out of the pool: used only under the
        # lock, so one is all the writers of a process can use at a time anyway, and each write
        # is spared a pool checkout and return (with its rollback).
        self._record = None
        self._group: _Group | None = None
        self._turns: dict[int, list[_Group]] = {}  # a thread inside ``turn`` -> the groups it joined

    # -- the ways in --------------------------------------------------------------------------------

    async def turn(self, function: Callable[..., T], *args) -> T:
        """``function(*args)`` on the event loop, its turns in the group open now (one is begun if
        there is none); returns once every group it wrote in has committed, and raises what a
        commit raised. A turn holds the CPU for well under a millisecond and its writes queue on
        one lock anyway: a hop to a worker thread, and two threads handing the GIL back and forth
        at every SQLite call, would cost more than the turn."""
        thread = threading.get_ident()
        if thread in self._turns:
            raise RuntimeError("a turn inside a turn would wait for its own commit")
        joined = self._turns[thread] = []
        try:
            result = function(*args)
        finally:
            del self._turns[thread]
        for group in joined:
            failure = await asyncio.shield(group.done)
            if failure is not None:
                raise failure
        return result

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.exclusive(), self.engine.begin() as connection:  # BEGIN IMMEDIATE (database.py)
            yield connection

    @contextmanager
    def cursor(self) -> Iterator:
        """A bare DB-API cursor in ``BEGIN IMMEDIATE`` on the writing connection; inside ``turn``,
        a savepoint of the group instead."""
        joined = self._turns.get(threading.get_ident())
        group = self._group
        if joined is not None and (group is None or group.thread == threading.get_ident()):
            with self._grouped(group, joined) as cursor:
                yield cursor
            return
        with self.exclusive():
            record = self._writer()
            try:
                cursor = record.dbapi_connection.cursor()
                cursor.execute("BEGIN IMMEDIATE")
                try:
                    yield cursor
                except BaseException:
                    record.dbapi_connection.rollback()
                    raise
                record.dbapi_connection.commit()
            except BaseException as exc:
                if not isinstance(exc, Exception) or _broken(record.dbapi_connection):
                    self._discard()
                raise

    def after_commit(self, callback: Callable[[], None]) -> None:
        """``callback()`` once what this thread wrote is committed: now, or when its open group
        commits (e.g. waking the worker for a queued reply)."""
        group = self._own_group()
        if group is not None:
            group.after.append(callback)
        else:
            callback()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the lock; a group this thread has open is committed first, since it holds the
        lock until it commits."""
        group = self._own_group()
        if group is not None:
            if group.depth:
                raise RuntimeError("a write transaction inside a grouped turn would commit half of it")
            self.counters.early_commits += 1
            self._commit(group)
        with self._lock:
            self._holder = threading.get_ident()
            try:
                yield
            finally:
                self._holder = None

    def close(self) -> None:
        """Give the writing connection back (before ``engine.dispose()``), once this thread's
        open group is committed (a loop closed before the group's passes leaves it open) and no
        other thread is writing."""
        with self.exclusive():
            record, self._record = self._record, None
            if record is not None:
                with contextlib.suppress(Exception):
                    record.close()

    def commit_open(self) -> None:
        """Commit the group this thread has open, if any (before shutting down)."""
        group = self._own_group()
        if group is not None:
            self._commit(group)

    def writing_connection(self):
        """The DB-API connection turns write on (opened now if there is none)."""
        with self.exclusive():
            return self._writer().dbapi_connection

    # -- the group ----------------------------------------------------------------------------------

    @contextmanager
    def _grouped(self, group: _Group | None, joined: list[_Group]) -> Iterator:
        """One turn inside this thread's open ``group`` (beginning one if None), in a savepoint."""
        if self._holder == threading.get_ident():
            raise RuntimeError("a grouped turn inside a write transaction of the same thread would wait for itself")
        group = group or self._begin_group()
        if group not in joined:
            joined.append(group)
        connection = group.record.dbapi_connection
        if group.broken is not None or not connection.in_transaction:
            # SQLite rolled the whole transaction back by itself (a full disk, an I/O error): a
            # savepoint now would begin and commit a transaction of its own, outside the group.
            group.broken = group.broken or RuntimeError("the group's transaction was rolled back")
            raise group.broken
        cursor = connection.cursor()
        cursor.execute("SAVEPOINT turn")
        group.depth += 1
        try:
            yield cursor
        except BaseException as exc:
            self.counters.rolled_back_turns += 1
            try:
                cursor.execute("ROLLBACK TO turn")
                cursor.execute("RELEASE turn")
                if not connection.in_transaction:
                    raise RuntimeError("the group's transaction was rolled back")
            except Exception as rollback_failed:  # noqa: BLE001 - then the whole group must fail
                group.broken = rollback_failed
            raise exc
        finally:
            group.depth -= 1
        try:
            cursor.execute("RELEASE turn")
        except Exception as release_failed:  # noqa: BLE001
            group.broken = release_failed
            raise
        group.turns += 1

    def _begin_group(self) -> _Group:
        """Take the lock and begin the group's transaction; its commit is scheduled two loop passes
        from now, after the requests already waiting and those the next poll reads."""
        self._lock.acquire()
        record = None
        try:
            record = self._writer()
            record.dbapi_connection.execute("BEGIN IMMEDIATE")
        except BaseException:
            try:
                if record is not None and _broken(record.dbapi_connection):
                    self._discard()  # under the lock: no one else has it
            finally:
                self._lock.release()
            raise
        loop = asyncio.get_running_loop()
        group = self._group = _Group(record, loop)
        # A loop closed before those passes leaves the group open: ``commit_open`` on this thread
        # commits it (``SessionStore.close`` does, first thing).
        loop.call_soon(loop.call_soon, self._commit, group)
        return group

    def _commit(self, group: _Group) -> None:
        """Commit ``group`` and release the lock it held; every turn of it gets the outcome."""
        if self._group is not group:
            return  # committed already (by a write of this thread that could not wait)
        self._group = None
        connection = group.record.dbapi_connection
        try:
            if group.broken is not None:
                raise group.broken
            connection.commit()
        except BaseException as exc:  # noqa: BLE001 - every turn of the group gets the failure
            with contextlib.suppress(Exception):
                connection.rollback()
            if _broken(connection):
                self._discard()
            log.error("a group of turns could not be committed: %s", type(exc).__name__)
            self.counters.failed_groups += 1
            group.done.set_result(exc)
        else:
            self.counters.groups += 1
            self.counters.grouped_turns += group.turns
            group.done.set_result(None)
            for callback in group.after:
                try:
                    callback()
                except Exception as exc:  # noqa: BLE001 - a wake-up call must not break the others
                    log.error("after a commit: %s", type(exc).__name__)
        finally:
            self._lock.release()

    def _own_group(self) -> _Group | None:
        group = self._group
        return group if group is not None and group.thread == threading.get_ident() else None

    # -- the writing connection (used under the lock) -----------------------------------------------

    def _writer(self):
        if self._record is None:
            self._record = self.engine.raw_connection()
        return self._record

    def _discard(self) -> None:
        """Throw the writing connection away (it cannot be trusted); the next write opens a fresh
        one."""
        record, self._record = self._record, None
        if record is not None:
            with contextlib.suppress(Exception):
                record.invalidate()
                record.close()


def _broken(dbapi_connection) -> bool:
    """Whether the writing connection can no longer be trusted (left inside a transaction, or not
    answering at all)."""
    try:
        return dbapi_connection.in_transaction
    except Exception:  # noqa: BLE001 - closed or unusable
        return True

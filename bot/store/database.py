"""Opening the database: SQLite by default (WAL), any SQLAlchemy URL through ``DATABASE_URL``.

On SQLite every transaction begins ``IMMEDIATE``: it takes the write lock at once, so two turns
never read the same state and both write (one turn of one conversation at a time, across threads
and processes). ``secure_delete`` overwrites erased rows in the file instead of leaving them in
free pages, so erasure really erases.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from bot.store.schema import prepare

log = logging.getLogger("safeharbor.store")

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
    # turn (bench/webhook.py: 1,000 -> 4,000 gave 25 -> 28 % of the bare endpoint; 10,000 no more
    # throughput but a p99 of 32 ms, each checkpoint stalling the turns behind it). After an
    # erasure the journal shredder checkpoints and empties the log within a second anyway.
    "PRAGMA wal_autocheckpoint=4000",
)


def open_database(url: str, *, check_schema: bool = True) -> Engine:
    """An engine for ``url``: a database with no tables gets the current schema; one at an
    older schema revision raises ``schema.SchemaBehind`` (run ``safeharbor db upgrade``).
    ``check_schema=False`` is for that upgrade itself."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            path = Path(parsed.database)
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Only the service's user may read it (SQLite gives -wal and -shm the same mode).
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        engine = create_engine(url, connect_args={"check_same_thread": False})
        _sqlite_setup(engine)
    else:
        # pool_pre_ping: a connection the server dropped (a restart, a failover) is replaced, not
        # used; a short connect timeout: a webhook answers with the fallback rather than hang.
        engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 3} if parsed.get_backend_name() == "postgresql" else {})
    if check_schema:
        prepare(engine)
    return engine


_WRITE_LOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _write_lock(engine: Engine) -> threading.Lock:
    """This process's queue for SQLite's one writer (see ``write_transaction``)."""
    return _WRITE_LOCKS.setdefault(engine, threading.Lock())


_HOLDING = threading.local()  # how many _writing blocks this thread is inside


@contextmanager
def _writing(engine: Engine) -> Iterator[None]:
    """Hold ``_write_lock``; a group of turns this thread still has open (``grouped_turns``) is
    committed first, since it holds that lock until it commits."""
    group = _own_group(engine)
    if group is not None:
        if group.depth:
            raise RuntimeError("a write transaction inside a grouped turn would commit half of it")
        group.commit()
    with _write_lock(engine):
        _HOLDING.engines = getattr(_HOLDING, "engines", 0) + 1
        try:
            yield
        finally:
            _HOLDING.engines -= 1


def commit_own_group(engine: Engine) -> None:
    """Commit the group of turns this thread has open, if any (before shutting the store down)."""
    group = _own_group(engine)
    if group is not None:
        group.commit()


def _own_group(engine: Engine):
    group = _GROUPS.get(engine)
    return group if group is not None and group.thread == threading.get_ident() else None


READ_ONLY = "safeharbor_read_only"


def read_connection(engine: Engine) -> Connection:
    """A connection for reading only (``with read_connection(engine) as connection:``). On
    SQLite its transaction does not take the write lock, so the console's listings and the
    worker's checks never make a person's turn wait."""
    return engine.connect().execution_options(**{READ_ONLY: True})


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that writes. On SQLite, the writers of this process queue on a lock first:
    SQLite lets one writer in at a time and makes the others sleep and retry with growing sleeps
    (busy_timeout), which under load turns a 1 ms turn into a 500 ms wait. Other processes still
    meet at BEGIN IMMEDIATE."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as connection:
            yield connection
        return
    with _writing(engine), engine.begin() as connection:
        yield connection


@contextmanager
def cursor_transaction(engine: Engine) -> Iterator:
    """``write_transaction`` on a bare DB-API cursor, for the statements of a turn
    (``prepared.Prepared``): commits on success, rolls back on error. On SQLite it queues on the
    same in-process lock, begins ``IMMEDIATE`` like ``write_transaction`` and runs on this
    process's one writing connection (``_writer``); on PostgreSQL it takes a pooled connection
    and the driver begins the transaction at the first statement."""
    if engine.dialect.name != "sqlite":
        connection = engine.raw_connection()
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
        return
    if _GROUPED.get() and _running_loop() is not None and (engine not in _GROUPS or _own_group(engine) is not None):
        with _grouped_turn(engine) as cursor:
            yield cursor
        return
    with _writing(engine):
        writer = _writer(engine)
        try:
            cursor = writer.dbapi_connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                writer.dbapi_connection.rollback()
                raise
            writer.dbapi_connection.commit()
        except BaseException as exc:
            if not isinstance(exc, Exception) or _broken(writer.dbapi_connection):
                _discard_writer(engine)
            raise


_WRITERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _writer(engine: Engine):
    """This process's connection for SQLite turns, kept checked out of the pool: used only under
    ``_write_lock``, so one is all the writers of a process can use at a time anyway, and a pool
    checkout and return (with its rollback) cost a twentieth of a webhook's time."""
    writer = _WRITERS.get(engine)
    if writer is None:
        writer = _WRITERS[engine] = engine.raw_connection()
    return writer


def _broken(dbapi_connection) -> bool:
    """Whether the writing connection can no longer be trusted (left inside a transaction, or
    not answering at all)."""
    try:
        return dbapi_connection.in_transaction
    except Exception:  # noqa: BLE001 - closed or unusable
        return True


def close_writer(engine: Engine) -> None:
    """Give the writing connection back (before ``engine.dispose()``), once this thread's open
    group of turns is committed and no other thread is writing."""
    with _writing(engine):
        writer = _WRITERS.pop(engine, None)
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()


def _discard_writer(engine: Engine) -> None:
    """Throw the writing connection away (it cannot be trusted); the next turn opens a fresh
    one. Call it holding ``_write_lock``."""
    writer = _WRITERS.pop(engine, None)
    if writer is not None:
        with contextlib.suppress(Exception):
            writer.invalidate()
            writer.close()


# -- group commit: the SQLite turns of two event-loop passes share a transaction --------------------

_GROUPED: ContextVar[bool] = ContextVar("safeharbor_grouped_turns", default=False)
_GROUPS: dict = {}  # engine -> its open _TurnGroup (at most one: the event loop's)


@contextmanager
def grouped_turns() -> Iterator[None]:
    """Turns run inside this, on the event loop thread, on SQLite, join one transaction.

    The web app runs SQLite turns on its event loop (``web.webhooks``). Under load several
    requests are ready at once; the first turn begins a transaction and asks the loop to commit
    it two passes later, once the requests already waiting and those the next poll reads have
    run theirs, each turn inside its own savepoint (a turn that fails or is a redelivery
    rolls back alone). One commit then writes the pages the turns share once (the receipts' table
    and index pages, the log's header) and pays SQLite's fixed cost of a commit once: 10 % of a
    webhook's CPU at four turns a group. Waiting one pass more grew the benchmark's groups from
    4.7 to 8 turns (16 connections) and its throughput by 5 %, at the cost of one more poll
    before the first turns of a group are answered; a third pass added nothing.

    A turn's answer may only go out once its group has committed: await ``settled(engine)``
    after leaving this. Outside it (threads, the worker, PostgreSQL) every transaction commits
    by itself as before.
    """
    token = _GROUPED.set(True)
    try:
        yield
    finally:
        _GROUPED.reset(token)


async def settled(engine: Engine) -> None:
    """Wait until the turns this task ran have committed; raise what the commit raised (the turns
    are then rolled back: their answers must not go out)."""
    group = _own_group(engine)
    if group is None:
        return
    failure = await asyncio.shield(group.done)
    if failure is not None:
        raise failure


def after_commit(engine: Engine, callback: Callable[[], None]) -> None:
    """Call ``callback`` once what this thread wrote is committed: now, or when its open group
    commits (e.g. waking the worker for a queued Telegram reply)."""
    group = _own_group(engine)
    if group is not None:
        group.after.append(callback)
    else:
        callback()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _TurnGroup:
    """The transaction the turns of two event-loop passes share, holding ``_write_lock`` (taken by
    the loop's thread) until ``commit`` runs, scheduled on the loop when it began."""

    def __init__(self, engine: Engine, writer, loop: asyncio.AbstractEventLoop):
        self.engine = engine
        self.writer = writer  # the pool's record of the writing connection the group began on
        self.thread = threading.get_ident()
        self.done: asyncio.Future = loop.create_future()  # result: None, or the commit's failure
        self.after: list[Callable[[], None]] = []
        self.broken: BaseException | None = None  # a savepoint could not be rolled back
        self.depth = 0  # turns of the group running now (a turn inside a turn is refused)

    def commit(self) -> None:
        if _GROUPS.get(self.engine) is not self:
            return  # committed already (by a write of this thread that could not wait)
        del _GROUPS[self.engine]
        connection = self.writer.dbapi_connection
        try:
            if self.broken is not None:
                raise self.broken
            connection.commit()
        except BaseException as exc:  # noqa: BLE001 - every turn of the group gets the failure
            with contextlib.suppress(Exception):
                connection.rollback()
            if _broken(connection):
                _discard_writer(self.engine)
            log.error("a group of turns could not be committed: %s", type(exc).__name__)
            self.done.set_result(exc)
        else:
            self.done.set_result(None)
            for callback in self.after:
                try:
                    callback()
                except Exception as exc:  # noqa: BLE001 - a wake-up call must not break the others
                    log.error("after a commit: %s", type(exc).__name__)
        finally:
            _write_lock(self.engine).release()


@contextmanager
def _grouped_turn(engine: Engine) -> Iterator:
    """One turn inside the loop's open group (beginning one if there is none), in a savepoint."""
    if getattr(_HOLDING, "engines", 0):
        raise RuntimeError("a grouped turn inside a write transaction of the same thread would wait for itself")
    group = _GROUPS.get(engine)
    if group is None:
        lock = _write_lock(engine)
        lock.acquire()
        writer = None
        try:
            writer = _writer(engine)
            writer.dbapi_connection.execute("BEGIN IMMEDIATE")
        except BaseException:
            try:
                if writer is not None and _broken(writer.dbapi_connection):
                    _discard_writer(engine)  # under the lock: no one else has it
            finally:
                lock.release()
            raise
        loop = asyncio.get_running_loop()
        group = _GROUPS[engine] = _TurnGroup(engine, writer, loop)
        # Committed two loop passes from now, after the requests already waiting and those the
        # next poll reads (see ``grouped_turns``). A loop closed before those passes leaves the
        # group open: commit it with ``commit_own_group`` on this thread (``SessionStore.close``
        # does, first thing).
        loop.call_soon(loop.call_soon, group.commit)
    connection = group.writer.dbapi_connection
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


def insert_ignoring_conflict(bind, table):
    """``INSERT ... ON CONFLICT DO NOTHING`` for the dialect of ``bind`` (an engine, a
    connection, or a dialect)."""
    dialect = getattr(bind, "dialect", bind)
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table).on_conflict_do_nothing()


def shred_journal(engine: Engine) -> None:
    """After an erasure on SQLite: copy the write-ahead log into the database and empty it.

    ``secure_delete`` zeroes erased rows in the database file, but the WAL still holds the page
    images written before (pseudonym, wrapped key, sealed state) until a checkpoint. TRUNCATE
    checkpoints and cuts the WAL to zero bytes. If a reader holds it back, a second attempt runs;
    what remains is then overwritten by later turns or the next checkpoint.
    """
    if engine.dialect.name != "sqlite":
        return
    connection = engine.raw_connection()  # autocommit: a checkpoint cannot run inside a transaction
    try:
        cursor = connection.cursor()
        for _ in range(2):
            busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if not busy:
                break
        cursor.close()
    finally:
        connection.close()


class JournalShredder:
    """Runs ``shred_journal`` soon after erasures, one checkpoint for all erasures of a moment.

    A checkpoint writes the WAL into the database file and syncs it: 2-3 ms, during which SQLite
    lets no one write. Run after every quick exit and every restart (a greeting erases the last
    conversation), it took a quarter of the webhook's time under load; the erasure itself (the
    data key deleted, so nothing sealed under it opens) is committed before any of this. So
    ``request()`` returns at once and a daemon thread checkpoints within ``delay`` seconds (1 by
    default), taking the in-process write lock so this process's turns queue behind it rather
    than in SQLite's busy handler. ``close()`` stops it and does what is pending (at shutdown).
    Every checkpoint still stalls the turns behind it: at 0.25 s the webhook benchmark lost about
    15 % of its throughput to them, at 1 s about 3 %.
    """

    def __init__(self, engine: Engine, delay: float = 1.0):
        self._engine = engine
        self._delay = delay
        self._pending = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()

    def request(self) -> None:
        self._pending.set()
        if self._thread is None:
            with self._guard:
                if self._thread is None and not self._closed.is_set():
                    self._thread = threading.Thread(target=self._run, name="journal-shredder", daemon=True)
                    self._thread.start()

    def flush(self) -> None:
        if self._pending.is_set():
            self._pending.clear()
            self._shred()

    def close(self) -> None:
        """Stop the thread and do what is pending now: after this the engine may be disposed
        (a checkpoint after that would open the database again)."""
        with self._guard:
            self._closed.set()
            thread = self._thread
        commit_own_group(self._engine)  # the thread may be waiting for the lock this group holds
        if thread is not None:
            thread.join(timeout=self._delay + 30)
        self.flush()

    def _run(self) -> None:
        while not self._closed.is_set():
            self._pending.wait(timeout=1.0)
            if not self._pending.is_set():
                continue
            if self._closed.wait(self._delay):  # erasures in the next moments share this checkpoint
                return  # close() shreds what is pending
            self._pending.clear()
            try:
                self._shred()
            except Exception as exc:  # noqa: BLE001 - the next erasure or checkpoint tries again
                log.error("could not checkpoint the write-ahead log: %s", type(exc).__name__)

    def _shred(self) -> None:
        with _writing(self._engine):
            shred_journal(self._engine)


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

"""Erasure in SQLite's write-ahead log: after an erasure, the log is copied into the database
and emptied, so the page images written before it (pseudonym, wrapped key, sealed state) go too.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from bot.store.writer import writer_of

log = logging.getLogger("safeharbor.store")


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

    A checkpoint writes the WAL into the database file and syncs it (a few milliseconds), during
    which SQLite lets no one write, so it must not follow every quick exit and every restart (a
    greeting erases the last conversation); the erasure itself (the data key deleted, so nothing
    sealed under it opens) is committed before any of this. So ``request()`` returns at once and a
    daemon thread checkpoints within ``delay`` seconds (1 by default), holding the writer's lock
    so this process's turns queue behind it rather than in SQLite's busy handler. Every checkpoint
    still stalls the turns behind it: a shorter delay costs throughput (bench/NOTES.md).
    ``close()`` stops it and does what is pending (at shutdown).
    """

    def __init__(self, engine: Engine, delay: float = 1.0):
        self._engine = engine
        self._writer = writer_of(engine)
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
        self._writer.commit_open()  # the thread may be waiting for the lock this thread's group holds
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
        with self._writer.exclusive():
            shred_journal(self._engine)

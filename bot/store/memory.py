"""An in-memory session store with the same contract as ``SessionStore``, for tests and benchmarks
that are about the conversation rather than the database. It keeps sessions as the engine gave
them (nothing is encrypted: never use it for real people)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

import anyio.to_thread

from bot.engine.session import Session
from bot.store.rollover import Rolled

T = TypeVar("T")


class _Held:
    def __init__(self, store: MemorySessionStore, pseudonym: str, now: datetime):
        self._store, self._pseudonym = store, pseudonym
        entry = store.rows.get(pseudonym)
        self.session = replace(entry[0]) if entry else None
        self.channel_state: dict = {}

    def save(self, session: Session, expires_at: datetime, keep_until: datetime | None = None) -> None:
        self._store.rows[self._pseudonym] = (replace(session), expires_at)

    def erase(self) -> None:
        self._store.rows.pop(self._pseudonym, None)
        self.session = None


class MemorySessionStore:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[Session, datetime]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def conversation(self, pseudonym: str, now: datetime) -> Iterator[_Held]:
        with self._guard:
            lock = self._locks.setdefault(pseudonym, threading.Lock())
        with lock:
            yield _Held(self, pseudonym, now)

    async def turn(self, function: Callable[..., T], *args) -> T:
        """``function(*args)`` from the event loop, in a worker thread (its locks are threads' locks);
        done when it returns, as every turn here."""
        return await anyio.to_thread.run_sync(functools.partial(function, *args))

    def after_commit(self, callback: Callable[[], None]) -> None:
        callback()

    roll_every = 60.0

    def roll_keys(self, progress=None, grace=None) -> Rolled:
        """Nothing is encrypted here, so there are no keys to move forward."""
        return Rolled()

    def purge_expired(self, now: datetime) -> int:
        expired = [p for p, (_, expires_at) in self.rows.items() if expires_at < now]
        for pseudonym in expired:
            del self.rows[pseudonym]
        return len(expired)

    def count(self) -> int:
        return len(self.rows)

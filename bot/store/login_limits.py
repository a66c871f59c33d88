"""Login attempts, counted before a password is checked, and a cap on the argon2 work at once.

    throttle = Throttle(engine)
    wait = throttle.wait({account: ACCOUNT, address: ADDRESS}, now)     # a read: None or how long
    with write_transaction(engine) as connection:
        wait = throttle.reserve(connection, {account: ACCOUNT, address: ADDRESS}, now)
    ...                                                                  # verify only if wait is None
    with GATE.admitted():                                                # or raises HashingBusy
        ok = GATE.verify(hasher, password_hash, password)

- A ``Rule`` is a backoff: ``free`` attempts in a ``window``, then each one more waits twice as
  long as the one before (``base``, 2 x ``base``, ... up to ``cap``) before it is evaluated. It
  delays; it never locks for good, and a success clears it.
- ``reserve`` records the attempt in the same transaction that checks the wait, before any
  password is verified: on SQLite the transaction holds the write lock, on PostgreSQL the
  subjects' rows are locked (``FOR UPDATE``), so concurrent guesses in any number of processes
  are counted one after another and no more than the rule allows are ever evaluated.
- ``wait`` is the read-only check done first, so that a flood of refused guesses never takes a
  write lock (on SQLite, the one a person's turn needs).
- ``HashingGate`` bounds the argon2 verifications of a process: ``running`` at once (each takes
  64 MiB and ~0.1 s of CPU with argon2-cffi's defaults), ``waiting`` more queued; past that a
  login is refused at once (``HashingBusy``, HTTP 503) instead of queuing without bound.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, and_, delete, or_, select, update

from bot.store.database import insert_ignoring_conflict, read_connection, write_transaction
from bot.store.tables import aware, login_throttle


@dataclass(frozen=True)
class Rule:
    """``free`` attempts per ``window`` (counted from the window's first attempt), then waits of
    ``base`` doubling up to ``cap`` between evaluated attempts."""

    free: int
    window: timedelta
    base: timedelta
    cap: timedelta

    def delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th attempt of a window: 0 until ``free``, then doubling."""
        if attempts < self.free:
            return timedelta(0)
        return min(self.cap, self.base * 2 ** min(attempts - self.free, 32))


# Per submitted email, known or not, from anywhere: 5 free, then 1 s, 2 s, 4 s ... 15 min.
ACCOUNT = Rule(free=5, window=timedelta(hours=24), base=timedelta(seconds=1), cap=timedelta(minutes=15))
# Per client address (an IPv6 one by its /64), whatever email it tries: password spraying.
ADDRESS = Rule(free=30, window=timedelta(hours=1), base=timedelta(seconds=1), cap=timedelta(minutes=15))
# Per email, the attempts that get past the two above with a fresh authenticator code (``Accounts.login``).
SECOND_FACTOR = Rule(free=3, window=timedelta(hours=24), base=timedelta(seconds=30), cap=timedelta(minutes=5))
FORGET_AFTER = max(ACCOUNT.window, ADDRESS.window, SECOND_FACTOR.window)


def address_key(client: str) -> str:
    """What the per-address rule counts: the address itself, but an IPv6 address by its /64
    (one subscriber's allocation: anyone holding one has 2**64 addresses to rotate through), and
    an IPv4-mapped IPv6 address as the IPv4 address."""
    try:
        ip = ipaddress.ip_address(client.split("%", 1)[0])
    except ValueError:
        return client
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class Throttle:
    """The ``login_throttle`` table: per subject (a keyed hash), the attempts of its current
    window, when that window began, and the earliest time the next attempt is evaluated."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def wait(self, subjects: Mapping[str, Rule], now: datetime) -> timedelta | None:
        """How long until an attempt on all of ``subjects`` would be evaluated (None: now). Reads only."""
        with read_connection(self.engine) as connection:
            rows = connection.execute(select(login_throttle).where(login_throttle.c.subject.in_(list(subjects)))).all()
        return _longest(rows, now)

    def lock(self, connection: Connection, subjects: Iterable[str], now: datetime) -> list:
        """Inside a write transaction: the rows of ``subjects`` (made if missing), locked until it
        ends (on PostgreSQL; SQLite's write lock covers everything). A transaction that will touch
        several subjects locks them all first, in one call: rows are always locked in the same
        order, so two transactions never wait for each other."""
        ordered = sorted(set(subjects))
        for subject in ordered:
            connection.execute(insert_ignoring_conflict(connection, login_throttle).values(subject=subject, attempts=0, window_start=now, next_at=None))
        return connection.execute(
            select(login_throttle).where(login_throttle.c.subject.in_(ordered)).order_by(login_throttle.c.subject).with_for_update()
        ).all()

    def reserve(self, connection: Connection, subjects: Mapping[str, Rule], now: datetime, record: bool = True) -> timedelta | None:
        """Inside a write transaction: None when an attempt on ``subjects`` may be evaluated now,
        and then (with ``record``) counted in each, before it is; else how long to wait (nothing
        recorded). ``record=False`` asks only, with the rows locked until the transaction ends."""
        rows = self.lock(connection, subjects, now)
        wait = _longest(rows, now)
        if wait is not None or not record:
            return wait
        for row in rows:
            rule = subjects[row.subject]
            fresh = now - aware(row.window_start) >= rule.window
            attempts = 1 if fresh else row.attempts + 1
            delay = rule.delay(attempts)
            connection.execute(
                update(login_throttle).where(login_throttle.c.subject == row.subject).values(
                    attempts=attempts, window_start=now if fresh else row.window_start, next_at=now + delay if delay else None,
                )
            )
        return None

    def clear(self, connection: Connection, *subjects: str) -> None:
        """After a success: these subjects start over."""
        connection.execute(delete(login_throttle).where(login_throttle.c.subject.in_(subjects)))

    def refund(self, connection: Connection, subject: str) -> None:
        """After a success: its attempt no longer counts against ``subject`` (a shared address
        whose people log in all day must not drift into backoff)."""
        connection.execute(
            update(login_throttle).where(login_throttle.c.subject == subject, login_throttle.c.attempts > 0)
            .values(attempts=login_throttle.c.attempts - 1)
        )

    def purge(self, now: datetime) -> None:
        """Forget subjects whose window is long over and that make no one wait."""
        with write_transaction(self.engine) as connection:
            connection.execute(delete(login_throttle).where(and_(
                login_throttle.c.window_start < now - FORGET_AFTER,
                or_(login_throttle.c.next_at.is_(None), login_throttle.c.next_at <= now),
            )))


def _longest(rows, now: datetime) -> timedelta | None:
    waits = [aware(row.next_at) - now for row in rows if row.next_at is not None and aware(row.next_at) > now]
    return max(waits) if waits else None


class HashingBusy(Exception):
    """This process is verifying as many passwords as it may, with as many more waiting."""


class HashingGate:
    """At most ``running`` argon2 verifications at once in this process, ``waiting`` more queued."""

    def __init__(self, running: int = 2, waiting: int = 8):
        self.running, self.waiting = running, waiting
        self._admitted = threading.BoundedSemaphore(running + waiting)
        self._running = threading.BoundedSemaphore(running)

    @contextmanager
    def admitted(self) -> Iterator[None]:
        """A place in the queue, or ``HashingBusy`` at once (never a wait for one)."""
        if not self._admitted.acquire(blocking=False):
            raise HashingBusy()
        try:
            yield
        finally:
            self._admitted.release()

    def verify(self, hasher: PasswordHasher, password_hash: str, password: str) -> bool:
        """Whether ``password`` matches; call inside ``admitted()`` (which bounds this wait)."""
        with self._running:
            try:
                return hasher.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False


# One per process: every Accounts of the process shares it (the web app's, the CLI's).
GATE = HashingGate()

"""Counters that hold across every process sharing the database: limits per clock minute, and
the pace of sends to a provider.

    windows = Windows(engine.dialect)
    if windows.take(cursor, "new_conversations", 30, now):   # inside the turn's transaction
        ...                                                  # admitted: one of this minute's 30

    pace = SendPace(engine)
    first = pace.reserve("telegram", 5, 1 / 30, time.time())  # slots first, first + 1/30, ...

``Windows.take`` is one statement, ``INSERT ... ON CONFLICT DO UPDATE SET count = count + 1 WHERE
count < limit RETURNING count``, run in the caller's transaction, so it commits or rolls back with
the turn (a redelivery, rolled back, does not count twice). On PostgreSQL the row of the minute is
locked from that statement to the commit, and a concurrent ``take`` waits, then sees the committed
count (READ COMMITTED re-checks the ``WHERE`` on the new row version): exact across processes.
Only an admitted ``take`` locks: once the minute is full the statement changes nothing, so a flood
beyond the limit does not queue on the row; at most ``limit`` turns a minute wait on each other,
each for the rest of its turn (measured in ``bench/limits.py``). On SQLite the writer's lock
already serializes every turn.

The rows hold a name and a count per minute, nothing about anyone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, bindparam, case, delete, select
from sqlalchemy.engine import Dialect

from bot.store.database import read_connection, write_transaction
from bot.store.prepared import Prepared
from bot.store.tables import limit_windows, send_pace

WINDOW_SECONDS = 60
KEPT_WINDOWS = 2  # the current minute and the one before (for a report); older rows are purged


def window_start(now: datetime, seconds: int = WINDOW_SECONDS) -> int:
    """The start (unix seconds) of the fixed window holding ``now``.

    >>> from datetime import timezone
    >>> window_start(datetime(2026, 11, 26, 12, 0, 59, tzinfo=timezone.utc))
    1795694400
    """
    moment = int(now.timestamp())
    return moment - moment % seconds


def _upsert(dialect: Dialect, table):
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


class Windows:
    """Counts per clock minute, taken inside the caller's transaction (a DB-API cursor)."""

    def __init__(self, dialect: Dialect):
        w = limit_windows.c
        statement = _upsert(dialect, limit_windows).values(
            name=bindparam("name"), window_start=bindparam("window_start"), count=1,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[w.name, w.window_start], set_={"count": w.count + 1}, where=w.count < bindparam("limit"),
        ).returning(w.count)
        self._take = Prepared(statement, dialect)

    def take(self, cursor, name: str, limit: int, now: datetime) -> bool:
        """One more ``name`` in ``now``'s minute if fewer than ``limit`` were taken; whether it was."""
        return self._take.first(cursor, name=name, window_start=window_start(now), limit=limit) is not None


def purge_windows(engine: Engine, now: datetime) -> int:
    """Forget the counts of minutes past (the worker, once a minute)."""
    oldest = window_start(now) - (KEPT_WINDOWS - 1) * WINDOW_SECONDS
    with write_transaction(engine) as connection:
        return connection.execute(delete(limit_windows).where(limit_windows.c.window_start < oldest)).rowcount or 0


class SendPace:
    """The slots of sends to one provider, shared by every worker process (one row per provider).

    Slots are ``interval`` apart on the wall clock (``time.time()``: the same on every process
    of a machine; across machines, NTP keeps it within milliseconds). A worker reserves slots
    for the messages it took, in one short transaction, and sends each at its slot, so all
    workers together stay under the provider's rate without dropping anything: a flood only
    pushes the slots later. ``pause`` records a provider's "wait N seconds" for everyone."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def reserve(self, name: str, count: int, interval: float, now: float) -> float:
        """Reserve ``count`` slots; returns the first (unix seconds, never before ``now``): the
        others follow ``interval`` apart."""
        p = send_pace.c
        span = count * interval
        statement = _upsert(self.engine.dialect, send_pace).values(name=name, next_at=now + span)
        statement = statement.on_conflict_do_update(
            index_elements=[p.name], set_={"next_at": case((p.next_at > now, p.next_at), else_=now) + span},
        ).returning(p.next_at)
        with write_transaction(self.engine) as connection:
            after = connection.execute(statement).scalar_one()
        return after - span

    def pause(self, name: str, until: float) -> None:
        """No sends to ``name`` before ``until`` (the service's clock, unix seconds)."""
        p = send_pace.c
        statement = _upsert(self.engine.dialect, send_pace).values(name=name, next_at=0.0, paused_until=until)
        statement = statement.on_conflict_do_update(
            index_elements=[p.name],
            set_={"paused_until": case((p.paused_until > until, p.paused_until), else_=until)},
        )
        with write_transaction(self.engine) as connection:
            connection.execute(statement)

    def paused(self, name: str, now: float) -> bool:
        """Whether a provider's "wait" for ``name`` still holds at ``now`` (the service's clock)."""
        with read_connection(self.engine) as connection:
            until = connection.execute(select(send_pace.c.paused_until).where(send_pace.c.name == name)).scalar()
        return until is not None and until > now

"""What the console reads of the handoffs: the queues, one handoff, the audit trail, and the
fingerprint its live updates poll. Reads only (``get`` and ``listing`` each one bare read)."""

from __future__ import annotations

from sqlalchemy import Engine, select

from bot.store.database import read_connection
from bot.store.tables import audit_log, handoffs, users
from bot.handoff.lifecycle import Status, UnknownListing
from bot.handoff.rows import Handoff, aware, iso
from bot.handoff.statements import Statements


def select_handoffs():
    """The console's columns of a handoff, with its holder's email."""
    h = handoffs.c
    return select(
        h.id, h.label, h.channel, h.language, h.status, h.urgent, h.waiting_since, h.holder_id, users.c.email.label("holder"),
        h.claimed_at, h.ended_at, h.conversation_id, h.may_write,
    ).join(users, users.c.id == h.holder_id, isouter=True)


def handoff_of(row) -> Handoff:
    """A row of ``select_handoffs`` as the console's ``Handoff``."""
    return Handoff(
        row.id, row.label, row.channel, row.language, Status(row.status), bool(row.urgent), aware(row.waiting_since),
        row.holder_id, row.holder, aware(row.claimed_at), aware(row.ended_at), row.conversation_id, bool(row.may_write),
    )


class Listings:
    """``HandoffRecords``' reads for the console."""

    engine: Engine
    _sql: Statements

    def listing(self, status: str, user_id: int | None = None) -> list[Handoff]:
        """``waiting``: unclaimed, urgent first then longest waiting; ``mine``: held by ``user_id``
        (and chats of theirs the person left); ``open``: every held chat."""
        h = handoffs.c
        query = select_handoffs()
        if status == "waiting":
            query = query.where(h.status == Status.WAITING.value).order_by(h.urgent.desc(), h.waiting_since)
        elif status == "mine":
            query = query.where(h.holder_id == user_id, h.status.in_((Status.HELD.value, Status.LEFT.value))).order_by(h.urgent.desc(), h.waiting_since)
        elif status == "open":
            query = query.where(h.status == Status.HELD.value).order_by(h.urgent.desc(), h.waiting_since)
        else:
            raise UnknownListing("status must be waiting, mine or open")
        with read_connection(self.engine) as connection:
            return [handoff_of(row) for row in connection.execute(query)]

    def get(self, handoff_id: str) -> Handoff | None:
        with read_connection(self.engine) as connection:
            row = connection.execute(select_handoffs().where(handoffs.c.id == handoff_id)).first()
        return handoff_of(row) if row else None

    def changes(self) -> tuple:
        """A cheap fingerprint of the queue and transcripts, for the console's live updates
        (every open console asks a few times a second). A bare read: on SQLite a SQLAlchemy
        transaction would begin IMMEDIATE and take the write lock for it."""
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(self._sql.changes.sql)
            return tuple(cursor.fetchone())
        finally:
            connection.close()

    def audit_trail(self, limit: int = 500) -> list[dict]:
        a = audit_log.c
        with read_connection(self.engine) as connection:
            rows = connection.execute(select(a.at, a.actor, a.action, a.label).order_by(a.id.desc()).limit(limit)).all()
        return [{"at": iso(aware(r.at)), "actor": r.actor, "action": r.action, "label": r.label} for r in rows]

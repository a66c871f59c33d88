"""The handoffs' statements that run on a caller's DB-API cursor, compiled once per dialect.

The person's turn (``records.PersonSide``) and a release or close inside the conversation's
transaction (``AdvocateSide.finish``) run on the cursor that holds the person's lock, so their
SQL is prepared here (``bot.store.prepared``) rather than built per call.
"""

from __future__ import annotations

from sqlalchemy import Dialect, and_, bindparam, delete, func, insert, literal, select, update

from bot.store.prepared import Prepared
from bot.store.tables import audit_log, handoff_messages, handoffs
from bot.handoff.lifecycle import Status, allowed, is_active, target

h, m = handoffs.c, handoff_messages.c


class Statements:
    """One attribute per statement, grouped as the lifecycle uses them."""

    def __init__(self, dialect: Dialect):
        self.dialect = dialect
        self._opening()
        self._transcript()
        self._ending()
        self._leaving()
        self.audit = self._prepare(
            insert(audit_log).values(at=bindparam("now"), actor=bindparam("actor"), action=bindparam("action"), label=bindparam("label"))
        )
        self.changes = self._prepare(select(func.count(h.id), func.max(h.updated_at)))

    def _prepare(self, statement) -> Prepared:
        return Prepared(statement, self.dialect)

    def _opening(self) -> None:
        """Finding the active handoff, opening one, the queue's counts and the group's notices."""
        postgresql = self.dialect.name == "postgresql"
        active_row = select(h.id, h.status, h.label, h.wrapped_key, h.may_write, h.person_lines, h.person_bytes, h.truncated).where(
            h.conversation_id == bindparam("conversation_id"), is_active(h.status)
        )
        # On PostgreSQL the row is locked for the turn, so an advocate's release or claim waits
        # for it (and the other way round); SQLite's write lock already serializes both.
        self.active = self._prepare(active_row.with_for_update() if postgresql else active_row)
        self.open = self._prepare(
            insert(handoffs).values(
                id=bindparam("id"), conversation_id=bindparam("conversation_id"), label=bindparam("label"),
                channel=bindparam("channel"), language=bindparam("language"), status=Status.WAITING.value,
                urgent=bindparam("urgent"), may_write=bindparam("may_write"), wrapped_key=bindparam("wrapped_key"),
                address=bindparam("address"), noticed=bindparam("noticed"),
                waiting_since=bindparam("now"), updated_at=bindparam("now"),
            )
        )
        # Requests waiting, urgent or not; on PostgreSQL counted under a lock held to the commit,
        # so two processes opening at once cannot both take the last place (openings are rare).
        self.waiting = self._prepare(select(func.count(h.id)).where(h.status == Status.WAITING.value, h.urgent == bindparam("urgent")))
        self.opening_lock = self._prepare(select(func.pg_advisory_xact_lock(bindparam("key")))) if postgresql else None
        self.unnoticed = self._prepare(
            update(handoffs).where(h.status == Status.WAITING.value, h.noticed == 0).values(noticed=1).returning(h.label, h.urgent)
        )
        self.urgent = self._prepare(update(handoffs).where(h.id == bindparam("b_id")).values(urgent=1, updated_at=bindparam("now")))

    def _transcript(self) -> None:
        """Adding lines, counting the person's against the caps, and the lines waiting for them."""
        self.record = self._prepare(
            insert(handoff_messages).values(
                handoff_id=bindparam("handoff_id"), sender=bindparam("sender"), body=bindparam("body"),
                pending=bindparam("pending"), created_at=bindparam("now"),
            )
        )
        # Lines waiting for the person, of every handoff of the conversation still holding its key
        # (a released one's too: its hand-back note waits), oldest first.
        self.pending = self._prepare(
            select(m.id, m.handoff_id, m.sender, m.body, h.wrapped_key).join(handoffs, h.id == m.handoff_id).where(
                h.conversation_id == bindparam("conversation_id"), m.pending == 1, h.wrapped_key.is_not(None)
            ).order_by(m.id)
        )
        self.delivered = self._prepare(update(handoff_messages).where(m.id == bindparam("b_id")).values(pending=0))
        self.touch = self._prepare(
            update(handoffs).where(h.id == bindparam("b_id")).values(
                updated_at=bindparam("now"), person_lines=h.person_lines + bindparam("lines"),
                person_bytes=h.person_bytes + bindparam("size"),
            )
        )
        self.truncated = self._prepare(update(handoffs).where(h.id == bindparam("b_id")).values(truncated=1))

    def _ending(self) -> None:
        """Release and close, by anyone or only by the holder ``by``; the ended handoff's label."""
        ending = {"ended_at": bindparam("now"), "updated_at": bindparam("now"), "delete_after": bindparam("delete_after")}

        def move(name: str, *holder) -> Prepared:
            return self._prepare(
                update(handoffs).where(h.id == bindparam("b_id"), allowed(h.status, name), *holder).values(status=target(name).value, **ending)
            )

        self.release, self.close = move("release"), move("close")
        self.release_by = move("release", h.holder_id == bindparam("by"))
        self.close_by = move("close", h.holder_id == bindparam("by"))
        self.label = self._prepare(select(h.label).where(h.id == bindparam("b_id")))

    def _leaving(self) -> None:
        """The person left: the handoffs of their conversation lose their transcript; an active
        one stays as a bare row saying that the person left (no key, no address, no link), which
        is all its advocate learns; an ended one goes whole."""
        leaving = and_(h.conversation_id == bindparam("id"), allowed(h.status, "person_left"))
        self.audit_left = self._prepare(
            insert(audit_log).from_select(
                ["at", "actor", "action", "label"],
                select(bindparam("now", type_=audit_log.c.at.type), literal("person"), literal("left"), h.label).where(leaving),
            )
        )
        self.delete_transcripts = self._prepare(
            delete(handoff_messages).where(handoff_messages.c.handoff_id.in_(select(h.id).where(h.conversation_id == bindparam("id"))))
        )
        self.left = self._prepare(
            update(handoffs).where(leaving).values(
                status=target("person_left").value, wrapped_key=None, address=None, conversation_id=None,
                ended_at=bindparam("now"), updated_at=bindparam("now"), delete_after=bindparam("tombstone_until"),
            )
        )
        self.delete_handoffs = self._prepare(delete(handoffs).where(h.conversation_id == bindparam("id")))

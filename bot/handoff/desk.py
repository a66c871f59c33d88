"""The advocates' side of a handoff: claiming, reading and answering, moving and ending a chat,
and the worker's timed work (reminders, abandonment, shredding). Each call is its own
transaction, except ``finish``, which runs in the conversation's (its caller's cursor)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select, update

from bot.store.crypto import DecryptError, KeyRing, open_sealed
from bot.store.database import read_connection, write_transaction
from bot.store.tables import audit_log, handoff_messages, handoffs, outbox, users
from bot.handoff.lifecycle import HandoffGone, NoSuchHandoff, NotYours, Status, WrongStatus, allowed, is_active, target
from bot.handoff.listing import handoff_of, select_handoffs
from bot.handoff.rows import Handoff, aware, iso, seal_line
from bot.handoff.statements import Statements


class AdvocateSide:
    """``HandoffRecords``' methods for the console and the worker."""

    engine: Engine
    keys: KeyRing
    retention: timedelta
    _sql: Statements

    def claim(self, handoff_id: str, user_id: int, actor: str, now: datetime) -> tuple[Handoff, bool]:
        """Take a waiting chat (or one already yours). One statement decides: two advocates
        claiming at once, one gets it and the other a 409. Returns the handoff and whether the person is to
        be told someone is here: only by the first claim of this handoff (a chat put back in the
        queue and claimed again, or claimed twice, tells them nothing more)."""
        h = handoffs.c
        with write_transaction(self.engine) as connection:
            taken = connection.execute(
                update(handoffs).where(h.id == handoff_id, allowed(h.status, "claim"))
                .values(status=target("claim").value, holder_id=user_id, claimed_at=now, updated_at=now)
            ).rowcount
            first = taken and connection.execute(
                update(handoffs).where(h.id == handoff_id, h.joined_at.is_(None)).values(joined_at=now)
            ).rowcount
            row = connection.execute(select_handoffs().where(h.id == handoff_id)).first()
            if row is None:
                raise NoSuchHandoff("no such conversation")
            if not taken and not (row.status == Status.HELD and row.holder_id == user_id):
                if row.status == Status.HELD:
                    raise NotYours("another advocate holds this conversation")
                raise WrongStatus(f"this conversation is {row.status}")
            if taken:
                audit_with(connection, now, actor, "claimed", row.label)
        return handoff_of(row), bool(first)

    def transcript(self, handoff: Handoff, actor: str, now: datetime) -> list[dict]:
        """The lines since escalation, oldest first, opened; audited as ``viewed``."""
        m = handoff_messages.c
        with write_transaction(self.engine) as connection:
            wrapped = connection.execute(select(handoffs.c.wrapped_key).where(handoffs.c.id == handoff.id)).scalar()
            rows = connection.execute(
                select(m.id, m.sender, m.author_id, m.body, m.created_at, m.pending, users.c.email)
                .join(users, users.c.id == m.author_id, isouter=True)
                .where(m.handoff_id == handoff.id).order_by(m.id)
            ).all()
            audit_with(connection, now, actor, "viewed", handoff.label)
        if wrapped is None:
            return []
        key = self.keys.unwrap(wrapped, handoff.id)
        lines = []
        for row in rows:
            try:
                text = open_sealed(key, f"{handoff.id}:{row.sender}", row.body).decode()
            except DecryptError:
                continue
            lines.append({
                "id": row.id, "sender": row.sender, "author": row.email, "text": text, "at": iso(aware(row.created_at)),
                "pending": bool(row.pending),  # waits for the person to write again
            })
        return lines

    def add(
        self, handoff_id: str, sender: str, text: str, user_id: int | None, actor: str, now: datetime,
        send: dict | None = None, *, status: Status = Status.HELD, holder: int | None = None, pending: bool = False,
    ) -> None:
        """Add a line to the transcript: an advocate's answer or a system line (sent to the person
        through the outbox when ``send`` gives the outbox row, or kept ``pending`` for their next
        message), or a note (never sent).

        Checked again inside this transaction, the row locked on PostgreSQL: the handoff must
        still be ``status`` (and held by ``holder`` when given) with its key. So an answer racing
        a release, a close or the person's quick exit is refused, never sent after it."""
        h = handoffs.c
        with write_transaction(self.engine) as connection:
            query = select(h.wrapped_key, h.status, h.holder_id, h.label, h.conversation_id).where(h.id == handoff_id)
            if self.engine.dialect.name == "postgresql":
                query = query.with_for_update()
            row = connection.execute(query).first()
            if row is None:
                raise NoSuchHandoff("no such conversation")
            if row.wrapped_key is None or row.status == Status.LEFT:
                raise HandoffGone("the person has left")
            if sender != "note" and row.status != status:
                raise WrongStatus(f"this conversation is {row.status}")
            if sender != "note" and holder is not None and row.holder_id != holder:
                raise NotYours(f"this conversation is {row.status} by someone else")
            key = self.keys.unwrap(bytes(row.wrapped_key), handoff_id)
            connection.execute(insert(handoff_messages).values(
                handoff_id=handoff_id, sender=sender, author_id=user_id,
                body=seal_line(key, handoff_id, sender, text), pending=int(pending and send is None), created_at=now,
            ))
            connection.execute(update(handoffs).where(h.id == handoff_id).values(updated_at=now))
            if send is not None:
                connection.execute(insert(outbox).values(**send))
            if sender in ("advocate", "note"):
                audit_with(connection, now, actor, "answered" if sender == "advocate" else "noted", row.label)

    def address(self, handoff_id: str) -> str | None:
        """The person's address, unsealed, for the one message being sent (never returned by the API)."""
        with read_connection(self.engine) as connection:
            row = connection.execute(
                select(handoffs.c.wrapped_key, handoffs.c.address).where(handoffs.c.id == handoff_id)
            ).first()
        if row is None or row.wrapped_key is None or row.address is None:
            return None
        key = self.keys.unwrap(bytes(row.wrapped_key), handoff_id)
        return open_sealed(key, f"{handoff_id}:address", row.address).decode()

    def transfer(self, handoff: Handoff, to_user: int | None, actor: str, now: datetime, by: int | None) -> Handoff:
        """To another advocate (it stays held), or back to the queue (``to_user`` None; the wait
        counts anew). ``by``: the holder making the move, None for an admin."""
        h = handoffs.c
        move = "transfer" if to_user else "requeue"
        if to_user:
            values = {"holder_id": to_user, "status": target(move).value}
        else:
            values = {"holder_id": None, "status": target(move).value, "claimed_at": None, "waiting_since": now}
            # reminded_at stays: one timed message per handoff at most, however often it is queued
        condition = [h.id == handoff.id, allowed(h.status, move)] + ([h.holder_id == by] if by is not None else [])
        with write_transaction(self.engine) as connection:
            if not connection.execute(update(handoffs).where(*condition).values(updated_at=now, **values)).rowcount:
                raise NotYours("this conversation is no longer held by you")
            audit_with(connection, now, actor, "transferred", handoff.label)
            row = connection.execute(select_handoffs().where(h.id == handoff.id)).first()
        return handoff_of(row)

    def finish(self, cursor, handoff_id: str, how: str, actor: str, now: datetime, by: int | None = None) -> str | None:
        """Release (the bot answers again) or close, inside the conversation's transaction (a
        DB-API cursor) so the person's next turn sees it. ``by``: the holder doing it (the row
        must still be theirs), None for an admin or the system. Either way the transcript is
        shredded ``retention`` later. Returns the label, or None when there was nothing to end."""
        sql = self._sql
        statement = sql.release if how == "release" else sql.close
        values = {"b_id": handoff_id, "now": now, "delete_after": now + self.retention}
        if by is not None:
            statement = sql.release_by if how == "release" else sql.close_by
            values["by"] = by
        if not statement.run(cursor, **values):
            return None
        label = sql.label.first(cursor, b_id=handoff_id)[0]
        sql.audit.run(cursor, now=now, actor=actor, action="released" if how == "release" else "closed", label=label)
        return label

    def due_reminders(self, wait: timedelta, now: datetime) -> list[tuple[str, str | None]]:
        """Waiting handoffs unclaimed for ``wait``, not yet reminded, whose person chose to be
        written to (nobody else gets a timed message): marked reminded now; returns their
        (id, conversation id) for the service to tell the person."""
        h = handoffs.c
        with write_transaction(self.engine) as connection:
            rows = connection.execute(
                select(h.id, h.conversation_id).where(
                    h.status == Status.WAITING.value, h.may_write == 1, h.reminded_at.is_(None), h.waiting_since <= now - wait
                )
            ).all()
            for row in rows:
                connection.execute(update(handoffs).where(h.id == row.id).values(reminded_at=now))
        return [(row.id, row.conversation_id) for row in rows]

    def abandoned(self, idle: timedelta, now: datetime) -> list[tuple[str, str | None]]:
        """Active handoffs with nothing new for ``idle`` (a person who walked away while
        waiting, a chat its advocate left): returns (id, conversation id) for the service to
        close. Nothing is sent to the person: after that long, the phone may be in other hands."""
        h = handoffs.c
        with read_connection(self.engine) as connection:
            rows = connection.execute(
                select(h.id, h.conversation_id).where(is_active(h.status), h.updated_at < now - idle)
            ).all()
        return [(row.id, row.conversation_id) for row in rows]

    def purge(self, now: datetime) -> int:
        """Shred handoffs past ``delete_after``: the key, the transcript, the row."""
        h = handoffs.c
        with write_transaction(self.engine) as connection:
            gone = select(h.id).where(h.delete_after.is_not(None), h.delete_after < now)
            connection.execute(delete(handoff_messages).where(handoff_messages.c.handoff_id.in_(gone)))
            return connection.execute(delete(handoffs).where(h.delete_after.is_not(None), h.delete_after < now)).rowcount or 0

    def audit(self, actor: str, action: str, label: str | None, now: datetime) -> None:
        with write_transaction(self.engine) as connection:
            audit_with(connection, now, actor, action, label)


def audit_with(connection, now: datetime, actor: str, action: str, label: str | None) -> None:
    """One line of the audit trail, in ``connection``'s transaction."""
    connection.execute(insert(audit_log).values(at=now, actor=actor, action=action, label=label))

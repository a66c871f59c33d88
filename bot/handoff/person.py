"""The person's side of a handoff, inside the turn's transaction (a DB-API cursor holding that
person's lock, see ``store.sessions``), and the handoffs' part of a conversation's erasure."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, exists, select

from bot.store.crypto import DecryptError, KeyRing, open_sealed, seal
from bot.store.database import read_connection
from bot.store.tables import conversations, handoff_messages, handoffs
from bot.handoff.lifecycle import Status, is_active
from bot.handoff.rows import Active, seal_line, utf8
from bot.handoff.statements import Statements

OPENING_LOCK = 0x5AFE0FE7  # PostgreSQL's advisory lock key while a request counts the queue
# How long the console still shows "the person left" for a chat that was waiting or held.
LEFT_SHOWN_FOR = timedelta(hours=24)


class PersonSide:
    """``HandoffRecords``' methods for the person's turn (``active``, ``open``, ``record``,
    ``mark_urgent``, ...) and for the store's erasure and purge (``person_left``, ``expired``)."""

    engine: Engine
    keys: KeyRing
    _sql: Statements

    def active(self, cursor, conversation_id: str | None) -> Active | None:
        if conversation_id is None:
            return None
        row = self._sql.active.first(cursor, conversation_id=conversation_id)
        if row is None or row[3] is None:
            return None
        try:
            key = self.keys.unwrap(bytes(row[3]), row[0])
        except DecryptError:
            return None
        return Active(row[0], Status(row[1]), row[2], key, bool(row[4]), row[5], row[6], bool(row[7]))

    def open(
        self, cursor, conversation_id: str, channel: str, language: str, address: str, urgent: bool, now: datetime, label: str,
        may_write: bool = False, noticed: bool = True,
    ) -> Active:
        """A new waiting handoff for this conversation; the address sealed for the replies.
        ``may_write``: the person chose to be written to; otherwise every line for them waits
        for their next message (``take_pending``). ``noticed`` False: the advocates' group is
        still to be told of it (``take_unnoticed``)."""
        handoff_id = secrets.token_hex(16)
        key, wrapped = self.keys.new_data_key(handoff_id)
        self._sql.open.run(
            cursor, id=handoff_id, conversation_id=conversation_id, label=label, channel=channel, language=language,
            urgent=int(urgent), may_write=int(may_write), wrapped_key=wrapped,
            address=seal(key, f"{handoff_id}:address", address.encode()), now=now, noticed=int(noticed),
        )
        self._sql.audit.run(cursor, now=now, actor="person", action="requested", label=label)
        return Active(handoff_id, Status.WAITING, label, key, may_write)

    def record(self, cursor, handoff: Active, sender: str, text: str, now: datetime, *, pending: bool = False) -> None:
        """Add a line to the transcript, sealed, and let the console know something changed.
        ``pending``: a line for the person that waits for their next message."""
        self.record_lines(cursor, handoff, [(sender, text)], now, pending=pending)

    def record_lines(self, cursor, handoff: Active, lines: list[tuple[str, str]], now: datetime, *, pending: bool = False) -> None:
        """``record`` for several (sender, text) lines of one moment: one change for the console.
        The person's lines are counted against the transcript's caps (``Active.fits``)."""
        person = [utf8(text) for sender, text in lines if sender == "person"]
        for sender, text in lines:
            self._sql.record.run(
                cursor, handoff_id=handoff.id, sender=sender, body=seal_line(handoff.key, handoff.id, sender, text),
                pending=int(pending), now=now,
            )
        if lines:
            self._sql.touch.run(cursor, b_id=handoff.id, now=now, lines=len(person), size=sum(map(len, person)))

    def mark_truncated(self, cursor, handoff: Active, now: datetime) -> None:
        """A line of the person's did not fit: the advocate is told so, once per handoff."""
        if handoff.truncated:
            return
        self.record(cursor, handoff, "system", "The person wrote more, but this chat is full: their later messages are not kept.", now)
        self._sql.truncated.run(cursor, b_id=handoff.id)

    def may_open(self, cursor, urgent: bool, cap: int) -> bool:
        """Whether fewer than ``cap`` requests of this urgency wait now (urgent ones are counted
        apart, so a queue full of ordinary requests never turns an urgent one away)."""
        if self._sql.opening_lock is not None:
            self._sql.opening_lock.first(cursor, key=OPENING_LOCK)
        return self._sql.waiting.first(cursor, urgent=int(urgent))[0] < cap

    def any_unnoticed(self) -> bool:
        """Whether a waiting chat is still to be named to the advocates' group (a bare read)."""
        h = handoffs.c
        with read_connection(self.engine) as connection:
            return connection.execute(select(h.id).where(h.status == Status.WAITING.value, h.noticed == 0).limit(1)).first() is not None

    def take_unnoticed(self, cursor) -> list[tuple[str, bool]]:
        """The waiting chats the advocates' group was not told of yet, as (label, urgent),
        marked told (in the caller's transaction: rolled back with it)."""
        cursor.execute(self._sql.unnoticed.sql, self._sql.unnoticed.parameters({}))
        return sorted((label, bool(urgent)) for label, urgent in cursor.fetchall())

    def take_pending(self, cursor, conversation_id: str | None) -> list[str]:
        """The lines waiting for this person (an advocate's replies they chose to get when they
        write again, "someone is here now", the hand-back note), oldest first, opened and marked
        delivered: the caller sends them in the reply to the message being answered."""
        if conversation_id is None:
            return []
        cursor.execute(self._sql.pending.sql, self._sql.pending.parameters({"conversation_id": conversation_id}))
        rows = cursor.fetchall()
        texts = []
        keys: dict[str, bytes | None] = {}
        for message_id, handoff_id, sender, body, wrapped in rows:
            if handoff_id not in keys:
                try:
                    keys[handoff_id] = self.keys.unwrap(bytes(wrapped), handoff_id)
                except DecryptError:
                    keys[handoff_id] = None
            key = keys[handoff_id]
            self._sql.delivered.run(cursor, b_id=message_id)
            if key is None:
                continue
            try:
                texts.append(open_sealed(key, f"{handoff_id}:{sender}", bytes(body)).decode())
            except DecryptError:
                continue
        return texts

    def mark_urgent(self, cursor, handoff: Active, now: datetime) -> None:
        self._sql.urgent.run(cursor, b_id=handoff.id, now=now)

    # -- the conversation's erasure (called by the store, in its transaction) -------------------------

    def person_left(self, cursor, conversation_id: str, now: datetime) -> None:
        """The ``person_left`` move, for a conversation being erased (inside the erasing
        transaction, on its DB-API cursor): every transcript of it goes; an active handoff
        becomes a bare ``left`` row, audited, shown for ``LEFT_SHOWN_FOR``; an ended one goes."""
        self._sql.audit_left.run(cursor, id=conversation_id, now=now)
        self._sql.delete_transcripts.run(cursor, id=conversation_id)
        self._sql.left.run(cursor, id=conversation_id, now=now, tombstone_until=now + LEFT_SHOWN_FOR)
        self._sql.delete_handoffs.run(cursor, id=conversation_id)

    @staticmethod
    def keeps_conversation():
        """The SQL condition, correlated on ``conversations.id``, that a handoff still needs the
        conversation: a person waiting for, or talking with, an advocate is not idle."""
        h = handoffs.c
        return exists().where(h.conversation_id == conversations.c.id, is_active(h.status))

    @staticmethod
    def expired(connection, gone) -> None:
        """The handoffs of the conversations ``gone`` (a select of their ids) are purged with
        them, in the purge's transaction (a SQLAlchemy connection): transcripts and rows. None is
        active (``keeps_conversation`` kept those conversations)."""
        h = handoffs.c
        ended = select(h.id).where(h.conversation_id.in_(gone))
        connection.execute(delete(handoff_messages).where(handoff_messages.c.handoff_id.in_(ended)))
        connection.execute(delete(handoffs).where(h.conversation_id.in_(gone)))

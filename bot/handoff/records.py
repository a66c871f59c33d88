"""Handoffs at rest: the queue's rows, the sealed address and transcript, the audit trail.

Two sides write here:

- the person's, inside the turn's transaction (a DB-API cursor holding that person's lock, see
  ``store.sessions``): ``active``, ``open``, ``record``, ``mark_urgent``;
- the advocates', each call its own transaction: ``listing``, ``claim``, ``transcript``, ``add``,
  ``transfer``, ``finish``, and the worker's ``due_reminders`` and ``purge``.

A handoff's transcript and address are sealed under the handoff's own data key (wrapped by the
key-encryption keys), so deleting ``wrapped_key`` shreds all of it. The person's quick exit does
that in ``person_left``, which ``SessionStore`` calls in the transaction of the erasure (the
service attaches these records to the store: ``SessionStore.attach``); ``expired`` does the same
for the ended handoffs of a conversation purged after its expiry.

Statuses and moves are ``lifecycle``'s; a refusal is one of its typed ``HandoffError``s.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, and_, bindparam, delete, exists, func, insert, literal, select, update

from bot.store.crypto import DecryptError, KeyRing, open_sealed, seal
from bot.store.database import read_connection, write_transaction
from bot.store.prepared import Prepared
from bot.store.tables import audit_log, conversations, handoff_messages, handoffs, outbox, users
from bot.handoff.lifecycle import (
    ACTIVE, HandoffGone, NoSuchHandoff, NotYours, Status, UnknownListing, WrongStatus, allowed, is_active, target,
)

OPENING_LOCK = 0x5AFE0FE7  # PostgreSQL's advisory lock key while a request counts the queue
SENDERS = ("person", "bot", "advocate", "note", "system")
# How long the console still shows "the person left" for a chat that was waiting or held.
LEFT_SHOWN_FOR = timedelta(hours=24)


@dataclass(frozen=True)
class Handoff:
    """A row as the console sees it: nothing that identifies the person."""

    id: str
    label: str
    channel: str
    language: str
    status: Status
    urgent: bool
    waiting_since: datetime
    holder_id: int | None
    holder: str | None
    claimed_at: datetime | None
    ended_at: datetime | None
    conversation_id: str | None
    may_write: bool = False  # the person said "you may write to me here"; else replies wait for them

    def public(self) -> dict:
        """The JSON the API returns for a queue entry. ``replies``: ``sent`` (the person may be
        written to) or ``held`` (what the advocate writes waits for the person's next message)."""
        return {
            "id": self.id, "label": self.label, "language": self.language, "channel": self.channel,
            "status": self.status.value, "waiting_since": _iso(self.waiting_since), "urgent": self.urgent,
            "holder": self.holder, "claimed_at": _iso(self.claimed_at), "ended_at": _iso(self.ended_at),
            "replies": "sent" if self.may_write else "held",
        }


@dataclass(frozen=True)
class Active:
    """The person's side: the handoff open for this conversation, with its key unwrapped."""

    id: str
    status: Status
    label: str
    key: bytes
    may_write: bool = False
    # What the transcript holds of the person's own lines so far, and whether one did not fit.
    person_lines: int = 0
    person_bytes: int = 0
    truncated: bool = False

    def fits(self, text: str, max_lines: int, max_bytes: int) -> bool:
        """Whether one more line of the person's, ``text``, stays within the transcript's caps."""
        return self.person_lines < max_lines and self.person_bytes + len(_utf8(text)) <= max_bytes


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


class HandoffRecords:
    def __init__(self, engine: Engine, keys: KeyRing, retention: timedelta = timedelta(hours=72)):
        self.engine = engine
        self.keys = keys
        self.retention = retention
        dialect = engine.dialect
        h = handoffs.c
        active_row = select(h.id, h.status, h.label, h.wrapped_key, h.may_write, h.person_lines, h.person_bytes, h.truncated).where(
            h.conversation_id == bindparam("conversation_id"), is_active(h.status)
        )
        # On PostgreSQL the row is locked for the turn, so an advocate's release or claim waits
        # for it (and the other way round); SQLite's write lock already serializes both.
        self._active = Prepared(active_row.with_for_update() if dialect.name == "postgresql" else active_row, dialect)
        self._open = Prepared(
            insert(handoffs).values(
                id=bindparam("id"), conversation_id=bindparam("conversation_id"), label=bindparam("label"),
                channel=bindparam("channel"), language=bindparam("language"), status=Status.WAITING.value,
                urgent=bindparam("urgent"), may_write=bindparam("may_write"), wrapped_key=bindparam("wrapped_key"),
                address=bindparam("address"), noticed=bindparam("noticed"),
                waiting_since=bindparam("now"), updated_at=bindparam("now"),
            ),
            dialect,
        )
        self._record = Prepared(
            insert(handoff_messages).values(
                handoff_id=bindparam("handoff_id"), sender=bindparam("sender"), body=bindparam("body"),
                pending=bindparam("pending"), created_at=bindparam("now"),
            ),
            dialect,
        )
        m = handoff_messages.c
        # Lines waiting for the person, of every handoff of the conversation still holding its key
        # (a released one's too: its hand-back note waits), oldest first.
        pending = select(m.id, m.handoff_id, m.sender, m.body, h.wrapped_key).join(handoffs, h.id == m.handoff_id).where(
            h.conversation_id == bindparam("conversation_id"), m.pending == 1, h.wrapped_key.is_not(None)
        ).order_by(m.id)
        self._pending = Prepared(pending, dialect)
        self._delivered = Prepared(update(handoff_messages).where(m.id == bindparam("b_id")).values(pending=0), dialect)
        self._touch = Prepared(
            update(handoffs).where(h.id == bindparam("b_id")).values(
                updated_at=bindparam("now"), person_lines=h.person_lines + bindparam("lines"),
                person_bytes=h.person_bytes + bindparam("size"),
            ),
            dialect,
        )
        self._truncated = Prepared(update(handoffs).where(h.id == bindparam("b_id")).values(truncated=1), dialect)
        # Requests waiting, urgent or not; on PostgreSQL counted under a lock held to the commit,
        # so two processes opening at once cannot both take the last place (openings are rare).
        self._waiting = Prepared(select(func.count(h.id)).where(h.status == Status.WAITING.value, h.urgent == bindparam("urgent")), dialect)
        self._opening_lock = Prepared(select(func.pg_advisory_xact_lock(bindparam("key"))), dialect) if dialect.name == "postgresql" else None
        self._unnoticed = Prepared(
            update(handoffs).where(h.status == Status.WAITING.value, h.noticed == 0).values(noticed=1).returning(h.label, h.urgent), dialect
        )
        self._urgent = Prepared(
            update(handoffs).where(h.id == bindparam("b_id")).values(urgent=1, updated_at=bindparam("now")), dialect
        )
        ending = {"ended_at": bindparam("now"), "updated_at": bindparam("now"), "delete_after": bindparam("delete_after")}
        def ending_move(move: str, *holder):
            return Prepared(
                update(handoffs).where(h.id == bindparam("b_id"), allowed(h.status, move), *holder)
                .values(status=target(move).value, **ending),
                dialect,
            )

        self._release, self._close = ending_move("release"), ending_move("close")
        self._release_by = ending_move("release", h.holder_id == bindparam("by"))
        self._close_by = ending_move("close", h.holder_id == bindparam("by"))
        self._label = Prepared(select(h.label).where(h.id == bindparam("b_id")), dialect)
        self._changes = Prepared(select(func.count(h.id), func.max(h.updated_at)), dialect)
        self._audit = Prepared(
            insert(audit_log).values(at=bindparam("now"), actor=bindparam("actor"), action=bindparam("action"), label=bindparam("label")),
            dialect,
        )
        # The person left: the handoffs of their conversation lose their transcript; an active one
        # stays as a bare row saying that the person left (no key, no address, no link), which
        # is all its advocate learns; an ended one goes whole.
        leaving = and_(h.conversation_id == bindparam("id"), allowed(h.status, "person_left"))
        self._audit_left = Prepared(
            insert(audit_log).from_select(
                ["at", "actor", "action", "label"],
                select(bindparam("now", type_=audit_log.c.at.type), literal("person"), literal("left"), h.label).where(leaving),
            ),
            dialect,
        )
        self._delete_transcripts = Prepared(
            delete(handoff_messages).where(handoff_messages.c.handoff_id.in_(select(h.id).where(h.conversation_id == bindparam("id")))),
            dialect,
        )
        self._left = Prepared(
            update(handoffs).where(leaving).values(
                status=target("person_left").value, wrapped_key=None, address=None, conversation_id=None,
                ended_at=bindparam("now"), updated_at=bindparam("now"), delete_after=bindparam("tombstone_until"),
            ),
            dialect,
        )
        self._delete_handoffs = Prepared(delete(handoffs).where(h.conversation_id == bindparam("id")), dialect)

    # -- the person's side (inside the turn's transaction) -------------------------------------------

    def active(self, cursor, conversation_id: str | None) -> Active | None:
        if conversation_id is None:
            return None
        row = self._active.first(cursor, conversation_id=conversation_id)
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
        self._open.run(
            cursor, id=handoff_id, conversation_id=conversation_id, label=label, channel=channel, language=language,
            urgent=int(urgent), may_write=int(may_write), wrapped_key=wrapped,
            address=seal(key, f"{handoff_id}:address", address.encode()), now=now, noticed=int(noticed),
        )
        self._audit.run(cursor, now=now, actor="person", action="requested", label=label)
        return Active(handoff_id, Status.WAITING, label, key, may_write)

    def record(self, cursor, handoff: Active, sender: str, text: str, now: datetime, *, pending: bool = False) -> None:
        """Add a line to the transcript, sealed, and let the console know something changed.
        ``pending``: a line for the person that waits for their next message."""
        self.record_lines(cursor, handoff, [(sender, text)], now, pending=pending)

    def record_lines(self, cursor, handoff: Active, lines: list[tuple[str, str]], now: datetime, *, pending: bool = False) -> None:
        """``record`` for several (sender, text) lines of one moment: one change for the console.
        The person's lines are counted against the transcript's caps (``Active.fits``)."""
        person = [_utf8(text) for sender, text in lines if sender == "person"]
        for sender, text in lines:
            self._record.run(
                cursor, handoff_id=handoff.id, sender=sender, body=_seal_line(handoff.key, handoff.id, sender, text),
                pending=int(pending), now=now,
            )
        if lines:
            self._touch.run(cursor, b_id=handoff.id, now=now, lines=len(person), size=sum(map(len, person)))

    def mark_truncated(self, cursor, handoff: Active, now: datetime) -> None:
        """A line of the person's did not fit: the advocate is told so, once per handoff."""
        if handoff.truncated:
            return
        self.record(cursor, handoff, "system", "The person wrote more, but this chat is full: their later messages are not kept.", now)
        self._truncated.run(cursor, b_id=handoff.id)

    def may_open(self, cursor, urgent: bool, cap: int) -> bool:
        """Whether fewer than ``cap`` requests of this urgency wait now (urgent ones are counted
        apart, so a queue full of ordinary requests never turns an urgent one away)."""
        if self._opening_lock is not None:
            self._opening_lock.first(cursor, key=OPENING_LOCK)
        return self._waiting.first(cursor, urgent=int(urgent))[0] < cap

    def any_unnoticed(self) -> bool:
        """Whether a waiting chat is still to be named to the advocates' group (a bare read)."""
        h = handoffs.c
        with read_connection(self.engine) as connection:
            return connection.execute(select(h.id).where(h.status == Status.WAITING.value, h.noticed == 0).limit(1)).first() is not None

    def take_unnoticed(self, cursor) -> list[tuple[str, bool]]:
        """The waiting chats the advocates' group was not told of yet, as (label, urgent),
        marked told (in the caller's transaction: rolled back with it)."""
        cursor.execute(self._unnoticed.sql, self._unnoticed.parameters({}))
        return sorted((label, bool(urgent)) for label, urgent in cursor.fetchall())

    def take_pending(self, cursor, conversation_id: str | None) -> list[str]:
        """The lines waiting for this person (an advocate's replies they chose to get when they
        write again, "someone is here now", the hand-back note), oldest first, opened and marked
        delivered: the caller sends them in the reply to the message being answered."""
        if conversation_id is None:
            return []
        cursor.execute(self._pending.sql, self._pending.parameters({"conversation_id": conversation_id}))
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
            self._delivered.run(cursor, b_id=message_id)
            if key is None:
                continue
            try:
                texts.append(open_sealed(key, f"{handoff_id}:{sender}", bytes(body)).decode())
            except DecryptError:
                continue
        return texts

    def mark_urgent(self, cursor, handoff: Active, now: datetime) -> None:
        self._urgent.run(cursor, b_id=handoff.id, now=now)

    # -- the conversation's erasure (called by the store, in its transaction) -------------------------

    def person_left(self, cursor, conversation_id: str, now: datetime) -> None:
        """The ``person_left`` move, for a conversation being erased (inside the erasing
        transaction, on its DB-API cursor): every transcript of it goes; an active handoff
        becomes a bare ``left`` row, audited, shown for ``LEFT_SHOWN_FOR``; an ended one goes."""
        self._audit_left.run(cursor, id=conversation_id, now=now)
        self._delete_transcripts.run(cursor, id=conversation_id)
        self._left.run(cursor, id=conversation_id, now=now, tombstone_until=now + LEFT_SHOWN_FOR)
        self._delete_handoffs.run(cursor, id=conversation_id)

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

    # -- the advocates' side --------------------------------------------------------------------------

    def listing(self, status: str, user_id: int | None = None) -> list[Handoff]:
        """``waiting``: unclaimed, urgent first then longest waiting; ``mine``: held by ``user_id``
        (and chats of theirs the person left); ``open``: every held chat."""
        h = handoffs.c
        query = self._select()
        if status == "waiting":
            query = query.where(h.status == Status.WAITING.value).order_by(h.urgent.desc(), h.waiting_since)
        elif status == "mine":
            query = query.where(h.holder_id == user_id, h.status.in_((Status.HELD.value, Status.LEFT.value))).order_by(h.urgent.desc(), h.waiting_since)
        elif status == "open":
            query = query.where(h.status == Status.HELD.value).order_by(h.urgent.desc(), h.waiting_since)
        else:
            raise UnknownListing("status must be waiting, mine or open")
        with read_connection(self.engine) as connection:
            return [self._handoff(row) for row in connection.execute(query)]

    def get(self, handoff_id: str) -> Handoff | None:
        with read_connection(self.engine) as connection:
            row = connection.execute(self._select().where(handoffs.c.id == handoff_id)).first()
        return self._handoff(row) if row else None

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
            row = connection.execute(self._select().where(h.id == handoff_id)).first()
            if row is None:
                raise NoSuchHandoff("no such conversation")
            if not taken and not (row.status == Status.HELD and row.holder_id == user_id):
                if row.status == Status.HELD:
                    raise NotYours("another advocate holds this conversation")
                raise WrongStatus(f"this conversation is {row.status}")
            if taken:
                self._audit_with(connection, now, actor, "claimed", row.label)
        return self._handoff(row), bool(first)

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
            self._audit_with(connection, now, actor, "viewed", handoff.label)
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
                "id": row.id, "sender": row.sender, "author": row.email, "text": text, "at": _iso(_aware(row.created_at)),
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
                body=_seal_line(key, handoff_id, sender, text), pending=int(pending and send is None), created_at=now,
            ))
            connection.execute(update(handoffs).where(h.id == handoff_id).values(updated_at=now))
            if send is not None:
                connection.execute(insert(outbox).values(**send))
            if sender in ("advocate", "note"):
                self._audit_with(connection, now, actor, "answered" if sender == "advocate" else "noted", row.label)

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
            self._audit_with(connection, now, actor, "transferred", handoff.label)
            row = connection.execute(self._select().where(h.id == handoff.id)).first()
        return self._handoff(row)

    def finish(self, cursor, handoff_id: str, how: str, actor: str, now: datetime, by: int | None = None) -> str | None:
        """Release (the bot answers again) or close, inside the conversation's transaction (a
        DB-API cursor) so the person's next turn sees it. ``by``: the holder doing it (the row
        must still be theirs), None for an admin or the system. Either way the transcript is
        shredded ``retention`` later. Returns the label, or None when there was nothing to end."""
        statement = self._release if how == "release" else self._close
        values = {"b_id": handoff_id, "now": now, "delete_after": now + self.retention}
        if by is not None:
            statement = self._release_by if how == "release" else self._close_by
            values["by"] = by
        if not statement.run(cursor, **values):
            return None
        label = self._label.first(cursor, b_id=handoff_id)[0]
        self._audit.run(cursor, now=now, actor=actor, action="released" if how == "release" else "closed", label=label)
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

    def changes(self) -> tuple:
        """A cheap fingerprint of the queue and transcripts, for the console's live updates
        (every open console asks a few times a second). A bare read: on SQLite a SQLAlchemy
        transaction would begin IMMEDIATE and take the write lock for it."""
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(self._changes.sql)
            return tuple(cursor.fetchone())
        finally:
            connection.close()

    def audit(self, actor: str, action: str, label: str | None, now: datetime) -> None:
        with write_transaction(self.engine) as connection:
            self._audit_with(connection, now, actor, action, label)

    def audit_trail(self, limit: int = 500) -> list[dict]:
        a = audit_log.c
        with read_connection(self.engine) as connection:
            rows = connection.execute(select(a.at, a.actor, a.action, a.label).order_by(a.id.desc()).limit(limit)).all()
        return [{"at": _iso(_aware(r.at)), "actor": r.actor, "action": r.action, "label": r.label} for r in rows]

    # -- helpers -----------------------------------------------------------------------------------------

    @staticmethod
    def _audit_with(connection, now: datetime, actor: str, action: str, label: str | None) -> None:
        connection.execute(insert(audit_log).values(at=now, actor=actor, action=action, label=label))

    @staticmethod
    def _select():
        h = handoffs.c
        return select(
            h.id, h.label, h.channel, h.language, h.status, h.urgent, h.waiting_since, h.holder_id, users.c.email.label("holder"),
            h.claimed_at, h.ended_at, h.conversation_id, h.may_write,
        ).join(users, users.c.id == h.holder_id, isouter=True)

    @staticmethod
    def _handoff(row) -> Handoff:
        return Handoff(
            row.id, row.label, row.channel, row.language, Status(row.status), bool(row.urgent), _aware(row.waiting_since),
            row.holder_id, row.holder, _aware(row.claimed_at), _aware(row.ended_at), row.conversation_id, bool(row.may_write),
        )


def _seal_line(key: bytes, handoff_id: str, sender: str, text: str) -> bytes:
    # A cut emoji leaves an unpaired surrogate, which UTF-8 cannot hold: kept (and shown to the
    # advocate) as the replacement character rather than failing the person's turn.
    return seal(key, f"{handoff_id}:{sender}", text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode())


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "replace")

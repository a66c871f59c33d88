"""Conversations at rest: load, save and erase one person's session, one turn at a time.

    with store.conversation(pseudonym, now) as held:   # a transaction holding that person's lock
        session = held.session                         # None: new, expired, or unreadable
        ...
        held.save(new_session, expires_at)  or  held.erase()

The lock is held from the read to the commit, so two messages of the same person never
interleave: SQLite's ``BEGIN IMMEDIATE`` (``database.py``), and on PostgreSQL a
transaction-scoped advisory lock on the pseudonym (released at commit, safe under PgBouncer).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, text, update

from bot.engine.session import Session
from bot.store.crypto import DecryptError, KeyRing, open_sealed, seal
from bot.store.database import shred_journal
from bot.store.database import insert_ignoring_conflict
from bot.store.tables import conversations, data_keys, deliveries, delivery_statuses, outbox


class HeldConversation:
    """One person's conversation inside a locked transaction. Use only within ``conversation()``."""

    def __init__(self, connection: Connection, keys: KeyRing, pseudonym: str, now: datetime):
        self._connection = connection
        self._keys = keys
        self._pseudonym = pseudonym
        self._now = now
        row = connection.execute(
            select(conversations.c.id, conversations.c.state, conversations.c.channel_state, data_keys.c.wrapped)
            .join(data_keys, data_keys.c.conversation_id == conversations.c.id, isouter=True)
            .where(conversations.c.pseudonym == pseudonym)
        ).first()
        self.id: str | None = row.id if row else None
        self.stream: str | None = None  # the outbox stream for messages after an erasure
        self._key: bytes | None = None  # the unwrapped data key, for this transaction only
        self.erased = False  # whether this transaction erased anything (the store then shreds the WAL)
        self.session: Session | None = None  # None: new, or its state was shredded after expiry
        self.channel_state: dict = {}
        if row is not None:
            try:
                self._open(row)
            except (DecryptError, ValueError):
                self.erase()  # unreadable (a retired key, tampering): shred it and start anew

    def _open(self, row) -> None:
        """Unseal the state and channel state. Whether the conversation has been idle too long
        is the engine's decision (the flow's timeout); ``expires_at`` serves ``purge``."""
        if row.wrapped is None:
            raise DecryptError("no data key")
        self._key = self._keys.unwrap(row.wrapped)
        if row.state is not None:
            self.session = Session.from_dict(json.loads(open_sealed(self._key, row.id, row.state)))
        if row.channel_state is not None:
            self.channel_state = json.loads(open_sealed(self._key, f"{row.id}:channel", row.channel_state))

    def save(self, session: Session, expires_at: datetime, keep_until: datetime | None = None) -> None:
        """Seal ``session`` under the conversation's data key (a new one for a new conversation)."""
        if self.id is None:
            self._create()
        blob = seal(self._key, self.id, json.dumps(session.to_dict(), separators=(",", ":")).encode())
        channel_blob = (
            seal(self._key, f"{self.id}:channel", json.dumps(self.channel_state, separators=(",", ":")).encode())
            if self.channel_state
            else None
        )
        self._connection.execute(
            update(conversations)
            .where(conversations.c.id == self.id)
            .values(state=blob, channel_state=channel_blob, updated_at=self._now, expires_at=expires_at, keep_until=keep_until)
        )

    def erase(self) -> None:
        """Delete the data key and the conversation, and every outbox row of it (sent or not: no
        timeline of what was said is left). Delivery receipts lose their link and reply but stay,
        keyed by a hash, so a redelivered message cannot bring the conversation back. Nothing
        sealed under that key opens again. Messages enqueued afterwards (the quick exit's own) go
        out on a new stream."""
        if self.id is None:
            return
        self._connection.execute(delete(data_keys).where(data_keys.c.conversation_id == self.id))
        self._connection.execute(delete(conversations).where(conversations.c.id == self.id))
        self._connection.execute(
            update(deliveries).where(deliveries.c.conversation_id == self.id).values(reply=None, conversation_id=None)
        )
        self._connection.execute(delete(outbox).where(outbox.c.stream == self.id))
        self.id = self._key = self.session = None
        self.channel_state = {}
        self.erased = True

    def save_channel_state(self, keep_until: datetime | None) -> None:
        """Store ``channel_state`` alone (the worker recording a sent message's id)."""
        if self.id is None or self._key is None:
            return
        blob = seal(self._key, f"{self.id}:channel", json.dumps(self.channel_state, separators=(",", ":")).encode())
        self._connection.execute(
            update(conversations).where(conversations.c.id == self.id).values(channel_state=blob, keep_until=keep_until)
        )

    # -- deliveries: each applied once -----------------------------------------------------------

    def claim_delivery(self, provider: str, delivery: str) -> tuple[bool, bytes | None]:
        """Record that ``delivery`` (a keyed hash) is being applied. Returns ``(True, None)`` the
        first time; ``(False, reply)`` for a redelivery, with the reply recorded then (or None).

        The claim is an insert that conflicts, inside the conversation's locked transaction, so two
        concurrent copies of one delivery cannot both be applied.
        """
        inserted = self._connection.execute(
            insert_ignoring_conflict(self._connection, deliveries).values(
                provider=provider, delivery=delivery, conversation_id=None, reply=None, created_at=self._now
            )
        ).rowcount
        if inserted:
            return True, None
        row = self._connection.execute(
            select(deliveries.c.conversation_id, deliveries.c.reply).where(
                deliveries.c.provider == provider, deliveries.c.delivery == delivery
            )
        ).first()
        if row is None or row.reply is None:
            return False, None
        try:
            if row.conversation_id is None:  # the answer to a quick exit: sealed with the key-encryption keys
                return False, self._keys.open(row.reply)
            if row.conversation_id == self.id and self._key is not None:
                return False, open_sealed(self._key, f"{self.id}:reply", row.reply)
        except DecryptError:
            pass
        return False, None

    def record_reply(self, provider: str, delivery: str, reply: bytes) -> None:
        """Keep the webhook's answer, sealed, for a redelivery: under the conversation's key, or,
        when the turn erased the conversation (the answer is then the static quick-exit text),
        under the key-encryption keys."""
        if self.id is None:
            values = {"conversation_id": None, "reply": self._keys.seal(reply)}
        else:
            values = {"conversation_id": self.id, "reply": seal(self._key, f"{self.id}:reply", reply)}
        self._connection.execute(
            update(deliveries).where(deliveries.c.provider == provider, deliveries.c.delivery == delivery).values(**values)
        )

    # -- the outbox -------------------------------------------------------------------------------

    def enqueue(self, channel: str, kind: str, payload: dict) -> None:
        """Write a message to send in this transaction; it goes out after the commit, in order."""
        stream = self.id or self.stream
        if stream is None:  # after an erasure (or a first message that was a quick exit): a new stream
            self.stream = stream = secrets.token_hex(16)
        self._connection.execute(
            insert(outbox).values(
                stream=stream, channel=channel, kind=kind, payload=self._keys.seal(json.dumps(payload).encode()),
                status="pending", attempts=0, next_attempt_at=self._now, created_at=self._now,
            )
        )

    def _create(self) -> None:
        self.id = secrets.token_hex(16)
        self._key, wrapped = self._keys.new_data_key()
        self._connection.execute(
            insert(conversations).values(
                id=self.id, pseudonym=self._pseudonym, state=None,
                created_at=self._now, updated_at=self._now, expires_at=self._now,
            )
        )
        self._connection.execute(insert(data_keys).values(conversation_id=self.id, wrapped=wrapped))


class SessionStore:
    """Encrypted sessions in a SQL database."""

    def __init__(self, engine: Engine, keys: KeyRing):
        self.engine = engine
        self.keys = keys
        self._postgres = engine.dialect.name == "postgresql"

    @contextmanager
    def conversation(self, pseudonym: str, now: datetime) -> Iterator[HeldConversation]:
        """A transaction holding ``pseudonym``'s lock; commits on success, rolls back on error."""
        with self.engine.begin() as connection:
            if self._postgres:
                connection.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:p, 0))"), {"p": pseudonym})
            held = HeldConversation(connection, self.keys, pseudonym, now)
            yield held
        if held.erased:
            shred_journal(self.engine)

    @contextmanager
    def conversation_by_id(self, conversation_id: str, now: datetime) -> Iterator[HeldConversation | None]:
        """Like ``conversation`` for a conversation known by its id (the worker's view); None when
        it no longer exists."""
        with self.engine.connect() as connection:
            pseudonym = connection.execute(
                select(conversations.c.pseudonym).where(conversations.c.id == conversation_id)
            ).scalar()
        if pseudonym is None:
            yield None
            return
        with self.conversation(pseudonym, now) as held:
            yield held if held.id == conversation_id else None

    def ping(self) -> None:
        # A plain connection in autocommit: a health check must not take SQLite's write lock.
        connection = self.engine.raw_connection()
        try:
            connection.cursor().execute("SELECT 1")
        finally:
            connection.close()

    def record_status(self, provider_ref: str, status: str, error_code: str | None, now: datetime) -> bool:
        with self.engine.begin() as connection:
            return bool(connection.execute(
                insert_ignoring_conflict(connection, delivery_statuses).values(
                    provider_ref=provider_ref, status=status, error_code=error_code, created_at=now
                )
            ).rowcount)

    def purge_expired(self, now: datetime) -> int:
        """Erase every conversation idle past its expiry; returns how many. One whose chat can
        still be deleted (``keep_until``) loses its state now and the rest when that time comes."""
        past = conversations.c.expires_at < now
        kept = and_(conversations.c.keep_until.is_not(None), conversations.c.keep_until >= now)
        with self.engine.begin() as connection:
            connection.execute(update(conversations).where(past, kept, conversations.c.state.is_not(None)).values(state=None))
            gone = select(conversations.c.id).where(past, ~kept)
            connection.execute(delete(outbox).where(outbox.c.stream.in_(gone)))
            connection.execute(
                update(deliveries).where(deliveries.c.conversation_id.in_(gone)).values(reply=None, conversation_id=None)
            )
            connection.execute(delete(data_keys).where(data_keys.c.conversation_id.in_(gone)))
            erased = connection.execute(delete(conversations).where(past, ~kept)).rowcount or 0
        if erased:
            shred_journal(self.engine)
        return erased

    def count(self) -> int:
        with self.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(conversations)).scalar_one()

    def rotate_keys(self, batch: int = 500, progress=None) -> int:
        """Rewrap every data key under the newest key-encryption key; returns how many.

        ``progress(done, total)`` is called after each batch. Safe to interrupt and run again.
        """
        with self.engine.connect() as connection:
            total = connection.execute(select(func.count()).select_from(data_keys)).scalar_one()
        done, last = 0, ""
        while True:
            with self.engine.begin() as connection:
                rows = connection.execute(
                    select(data_keys.c.conversation_id, data_keys.c.wrapped)
                    .where(data_keys.c.conversation_id > last)
                    .order_by(data_keys.c.conversation_id)
                    .limit(batch)
                ).all()
                for row in rows:
                    connection.execute(
                        update(data_keys)
                        .where(data_keys.c.conversation_id == row.conversation_id)
                        .values(wrapped=self.keys.rewrap(row.wrapped))
                    )
            if not rows:
                return done
            done += len(rows)
            last = rows[-1].conversation_id
            if progress:
                progress(done, total)

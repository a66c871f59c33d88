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

from sqlalchemy import Connection, Engine, and_, bindparam, delete, func, insert, select, text, update

from bot.engine.session import Session
from bot.store.crypto import DecryptError, KeyRing, open_sealed, seal
from bot.store.database import insert_ignoring_conflict, shred_journal, write_transaction
from bot.store.outbox import Outbox
from bot.store.tables import conversations, data_keys, deliveries, delivery_statuses, outbox


# The statements of every turn, built once: building a statement costs SQLAlchemy more than
# running it (about 0.1 ms a turn of coercion and cache keys).
_LOAD = (
    select(conversations.c.id, conversations.c.state, conversations.c.channel_state, data_keys.c.wrapped)
    .join(data_keys, data_keys.c.conversation_id == conversations.c.id, isouter=True)
    .where(conversations.c.pseudonym == bindparam("pseudonym"))
)
_SAVE = (
    update(conversations)
    .where(conversations.c.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"), channel_state=bindparam("b_channel"), updated_at=bindparam("b_now"),
        expires_at=bindparam("b_expires"), keep_until=bindparam("b_keep"),
    )
)


class HeldConversation:
    """One person's conversation inside a locked transaction. Use only within ``conversation()``."""

    def __init__(self, store: SessionStore, connection: Connection, pseudonym: str, now: datetime):
        self._store = store
        self._connection = connection
        self._keys = store.keys
        self._pseudonym = pseudonym
        self._now = now
        row = connection.execute(_LOAD, {"pseudonym": pseudonym}).first()
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
        self._connection.execute(
            _SAVE,
            {"b_id": self.id, "b_state": blob, "b_channel": self._sealed_channel_state(), "b_now": self._now,
             "b_expires": expires_at, "b_keep": keep_until},
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
        self._connection.execute(
            update(conversations).where(conversations.c.id == self.id)
            .values(channel_state=self._sealed_channel_state(), keep_until=keep_until)
        )

    def _sealed_channel_state(self) -> bytes | None:
        if not self.channel_state:
            return None
        return seal(self._key, f"{self.id}:channel", json.dumps(self.channel_state, separators=(",", ":")).encode())

    # -- deliveries: each applied once -----------------------------------------------------------

    def record_delivery(self, provider: str, delivery: str, reply: bytes | None) -> bool:
        """Claim ``delivery`` (a keyed hash of the provider's id) with an insert that conflicts on
        a redelivery, keeping the webhook's answer, sealed, for that redelivery: under the
        conversation's key, or, when the turn erased the conversation (the static quick-exit
        text), under the key-encryption keys. Returns False for a redelivery: the caller must
        then roll the turn back (raise) and answer with ``recorded_reply``.

        Done at the end of the turn, inside the same locked transaction, so one statement claims
        and records; a duplicate's turn is rolled back whole.
        """
        if reply is None:
            sealed = None
        elif self.id is None:
            sealed = self._keys.seal(reply)
        else:
            sealed = seal(self._key, f"{self.id}:reply", reply)
        return bool(self._connection.execute(
            self._store.claim_statement,
            {"provider": provider, "delivery": delivery, "conversation_id": self.id, "reply": sealed, "created_at": self._now},
        ).rowcount)

    def recorded_reply(self, provider: str, delivery: str) -> bytes | None:
        """The answer recorded for ``delivery`` the first time, if it can still be opened."""
        row = self._connection.execute(
            select(deliveries.c.conversation_id, deliveries.c.reply).where(
                deliveries.c.provider == provider, deliveries.c.delivery == delivery
            )
        ).first()
        if row is None or row.reply is None:
            return None
        try:
            if row.conversation_id is None:  # the answer to a quick exit: sealed with the key-encryption keys
                return self._keys.open(row.reply)
            if row.conversation_id == self.id and self._key is not None:
                return open_sealed(self._key, f"{self.id}:reply", row.reply)
        except DecryptError:
            pass
        return None

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
        self.claim_statement = insert_ignoring_conflict(engine, deliveries).values(
            provider=bindparam("provider"), delivery=bindparam("delivery"), conversation_id=bindparam("conversation_id"),
            reply=bindparam("reply"), created_at=bindparam("created_at"),
        )

    @contextmanager
    def conversation(self, pseudonym: str, now: datetime) -> Iterator[HeldConversation]:
        """A transaction holding ``pseudonym``'s lock; commits on success, rolls back on error."""
        with write_transaction(self.engine) as connection:
            if self._postgres:
                connection.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:p, 0))"), {"p": pseudonym})
            held = HeldConversation(self, connection, pseudonym, now)
            yield held
        if held.erased:
            shred_journal(self.engine)

    def outbox(self) -> Outbox:
        """The outbox of this database, for the worker (same engine, same keys)."""
        return Outbox(self.engine, self.keys)

    def ping(self) -> None:
        # A plain connection in autocommit: a health check must not take SQLite's write lock.
        connection = self.engine.raw_connection()
        try:
            connection.cursor().execute("SELECT 1")
        finally:
            connection.close()

    def record_status(self, provider_ref: str, status: str, error_code: str | None, now: datetime) -> bool:
        with write_transaction(self.engine) as connection:
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
        with write_transaction(self.engine) as connection:
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
            with write_transaction(self.engine) as connection:
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

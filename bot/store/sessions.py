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

from sqlalchemy import Connection, Engine, delete, func, insert, select, text, update

from bot.engine.session import Session
from bot.store.crypto import DecryptError, KeyRing, open_sealed, seal
from bot.store.database import shred_journal
from bot.store.tables import conversations, data_keys


class HeldConversation:
    """One person's conversation inside a locked transaction. Use only within ``conversation()``."""

    def __init__(self, connection: Connection, keys: KeyRing, pseudonym: str, now: datetime):
        self._connection = connection
        self._keys = keys
        self._pseudonym = pseudonym
        self._now = now
        row = connection.execute(
            select(conversations.c.id, conversations.c.state, data_keys.c.wrapped)
            .join(data_keys, data_keys.c.conversation_id == conversations.c.id, isouter=True)
            .where(conversations.c.pseudonym == pseudonym)
        ).first()
        self.id: str | None = row.id if row else None
        self._key: bytes | None = None  # the unwrapped data key, for this transaction only
        self.erased = False  # whether this transaction erased anything (the store then shreds the WAL)
        self.session = self._open(row) if row else None
        if row and self.session is None:
            self.erase()  # unreadable: shred it; a new conversation gets a new key

    def _open(self, row) -> Session | None:
        """The stored session, or None when it cannot be read. Whether it has been idle too
        long is the engine's decision (the flow's timeout); ``expires_at`` serves ``purge``."""
        if row.state is None or row.wrapped is None:
            return None
        try:
            self._key = self._keys.unwrap(row.wrapped)
            return Session.from_dict(json.loads(open_sealed(self._key, row.id, row.state)))
        except (DecryptError, ValueError):
            return None

    def save(self, session: Session, expires_at: datetime) -> None:
        """Seal ``session`` under the conversation's data key (a new one for a new conversation)."""
        if self.id is None:
            self._create()
        blob = seal(self._key, self.id, json.dumps(session.to_dict(), separators=(",", ":")).encode())
        self._connection.execute(
            update(conversations)
            .where(conversations.c.id == self.id)
            .values(state=blob, updated_at=self._now, expires_at=expires_at)
        )

    def erase(self) -> None:
        """Delete the data key and the conversation. Nothing sealed under that key opens again."""
        if self.id is None:
            return
        self._connection.execute(delete(data_keys).where(data_keys.c.conversation_id == self.id))
        self._connection.execute(delete(conversations).where(conversations.c.id == self.id))
        self.id = self._key = self.session = None
        self.erased = True

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

    def purge_expired(self, now: datetime) -> int:
        """Erase every conversation idle past its expiry; returns how many."""
        with self.engine.begin() as connection:
            expired = select(conversations.c.id).where(conversations.c.expires_at < now)
            connection.execute(delete(data_keys).where(data_keys.c.conversation_id.in_(expired)))
            result = connection.execute(delete(conversations).where(conversations.c.expires_at < now))
            erased = result.rowcount or 0
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

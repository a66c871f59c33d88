"""Conversations at rest: load, save and erase one person's session, one turn at a time.

    with store.conversation(pseudonym, now) as held:   # a transaction holding that person's lock
        session = held.session                         # None: new, expired, or unreadable
        ...
        held.save(new_session, expires_at)  or  held.erase()

A turn's statements run on a bare DB-API cursor (``prepared``); everything else through
SQLAlchemy. The lock is held from the read to the commit, so two messages of the same person never
interleave: SQLite's ``BEGIN IMMEDIATE`` (``sqlite_writer.py``), and on PostgreSQL a
transaction-scoped advisory lock on the pseudonym (released at commit, safe under PgBouncer).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import Engine, Select, and_, delete, func, insert, select, update
from sqlalchemy.sql import ColumnElement

from bot.store.crypto import DATA_KEY_BYTES, DecryptError, KeyRing, open_sealed, pseudonym_in, seal
from bot.store.database import JournalShredder, insert_ignoring_conflict, read_connection, write_transaction, writer_of
from bot.store.held import EXPIRY_STEP, HeldConversation, compact_json, round_up
from bot.store.outbox import Outbox, new_message
from bot.store.rollover import Rolled, roll_forward
from bot.store.statements import OUTBOX_COLUMNS, TurnStatements
from bot.store.tables import conversations, data_keys, delivery_statuses, outbox

__all__ = ["EXPIRY_STEP", "OUTBOX_COLUMNS", "Dependents", "HeldConversation", "SessionStore", "TurnStatements", "compact_json", "round_up"]

T = TypeVar("T")


class Dependents(Protocol):
    """Records another module keeps about a conversation (``bot.handoff.HandoffRecords``): the
    store tells them of an erasure in the erasing transaction, and never writes their rows."""

    def person_left(self, cursor, conversation_id: str, now: datetime) -> None:
        """The conversation ``conversation_id`` is being erased (a DB-API cursor in its turn)."""

    def keeps_conversation(self) -> ColumnElement[bool]:
        """A condition correlated on ``conversations.id``: true while the conversation must not
        expire."""

    def expired(self, connection, gone: Select) -> None:
        """The conversations whose ids ``gone`` selects are purged (a SQLAlchemy connection in
        the purge's transaction)."""


class SessionStore:
    """Encrypted sessions in a SQL database."""

    def __init__(self, engine: Engine, keys: KeyRing):
        self.engine = engine
        self.keys = keys
        self._postgres = engine.dialect.name == "postgresql"
        self.writer = writer_of(engine)  # every write of this store goes through it (``writer.Writer``)
        self.statements = TurnStatements(engine.dialect)
        self.shredder = JournalShredder(engine) if engine.dialect.name == "sqlite" else None
        self.dependents: list[Dependents] = []  # see ``attach``

    def attach(self, dependent: Dependents) -> None:
        """Records that hang off a conversation (the handoffs): told of every erasure and purge in
        the same transaction, so the person leaving is one atomic change. Attach before use."""
        if dependent not in self.dependents:
            self.dependents.append(dependent)

    @contextmanager
    def conversation(self, pseudonym: str, now: datetime) -> Iterator[HeldConversation]:
        """A transaction holding ``pseudonym``'s lock; commits on success, rolls back on error."""
        with self.writer.cursor() as cursor:
            if self._postgres:
                self.statements.lock.first(cursor, pseudonym=pseudonym)
            held = HeldConversation(self, cursor, pseudonym, now)
            yield held
        if held.erased:
            self.shred_journal()

    async def turn(self, function: Callable[..., T], *args) -> T:
        """``function(*args)`` (its ``conversation`` and ``transaction`` blocks) from the event loop;
        returns once what it wrote is committed, and raises if that failed (its answer must then
        not go out). On SQLite it runs on the loop, its turns sharing one commit with the other
        requests of the moment; elsewhere in a worker thread (``Writer.turn``). Off the loop, call
        ``function`` itself: every transaction then commits as it ends."""
        return await self.writer.turn(function, *args)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """``callback()`` once this thread's writes are committed (now, or with its turn's group)."""
        self.writer.after_commit(callback)

    def pseudonym_of(self, conversation_id: str) -> str | None:
        """The pseudonym a conversation is locked by (for work that starts from a conversation
        id: a handoff released from the console), read from its wrapped key; None when it is
        gone or no longer opens."""
        with read_connection(self.engine) as connection:
            row = connection.execute(
                select(conversations.c.pseudonym, data_keys.c.wrapped)
                .join(data_keys, data_keys.c.conversation_id == conversations.c.id)
                .where(conversations.c.id == conversation_id)
            ).first()
        if row is None:
            return None
        try:
            return pseudonym_in(self.keys.unwrap(bytes(row.wrapped), conversation_id), row.pseudonym)
        except DecryptError:
            return None

    @contextmanager
    def transaction(self) -> Iterator:
        """A bare write transaction (a DB-API cursor) that locks no conversation."""
        with self.writer.cursor() as cursor:
            yield cursor

    def shred_journal(self) -> None:
        """After an erasure: have SQLite's write-ahead log emptied of the erased pages within a
        second (``database.JournalShredder``); nothing to do on PostgreSQL."""
        if self.shredder:
            self.shredder.request()

    def close(self) -> None:
        """Shred what is pending and close the database's connections."""
        if self.shredder:
            self.shredder.close()
        self.writer.close()
        self.engine.dispose()

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

    def purge_expired(self, now: datetime, deletions: Callable[[dict], list[tuple[str, str, dict]]] | None = None) -> int:
        """Erase every conversation idle past its expiry; returns how many. One whose chat can
        still be deleted (``keep_until``) loses its state now and the rest when that time comes.
        With ``deletions`` (a conversation's ``channel_state`` -> outbox jobs ``(channel, kind,
        payload)`` deleting what its provider keeps), each erased conversation's jobs are written
        to the outbox first, each on a stream of its own, in the same transaction as the erasure:
        none is lost between the two."""
        # A person waiting for, or talking with, an advocate is not idle: their conversation stays.
        past = and_(conversations.c.expires_at < now, *(~dependent.keeps_conversation() for dependent in self.dependents))
        kept = and_(conversations.c.keep_until.is_not(None), conversations.c.keep_until >= now)
        with write_transaction(self.engine) as connection:
            self._shed_state(connection, and_(past, kept, conversations.c.state.is_not(None)))
            if deletions is not None:
                self._queue_deletions(connection, and_(past, ~kept), now, deletions)
            gone = select(conversations.c.id).where(past, ~kept)
            for dependent in self.dependents:
                dependent.expired(connection, gone)
            connection.execute(delete(outbox).where(outbox.c.stream.in_(gone)))
            forgotten = connection.execute(select(data_keys.c.conversation_id).where(data_keys.c.conversation_id.in_(gone))).scalars().all()
            connection.execute(delete(data_keys).where(data_keys.c.conversation_id.in_(gone)))
            erased = connection.execute(delete(conversations).where(past, ~kept)).rowcount or 0
        for conversation_id in forgotten:  # this process remembers none of their keys either
            self.keys.forget(conversation_id)
        if erased:
            self.shred_journal()
        self.keys.sweep()  # remembered data keys past their time, erased conversations' among them
        return erased

    def _shed_state(self, connection, condition) -> None:
        """Drop the state of the conversations matching ``condition`` (expired, but kept so their
        chat can still be deleted) and give each a new data key, under which only its channel
        state is sealed again: the old versions of the state left in the database's files (a
        dead row, the log) are under the old key, gone with its epoch."""
        c, k = conversations.c, data_keys.c
        rows = connection.execute(
            select(c.id, c.channel_state, c.pseudonym, k.wrapped).join(data_keys, k.conversation_id == c.id).where(condition)
        ).all()
        for conversation_id, sealed, stored, wrapped in rows:
            try:
                material = self.keys.unwrap(bytes(wrapped), conversation_id)
                channel_state = open_sealed(material[:DATA_KEY_BYTES], f"{conversation_id}:channel", bytes(sealed)) if sealed else None
            except DecryptError:
                material, channel_state = None, None
            if material is None:  # nothing readable is left: the conversation goes whole
                connection.execute(delete(data_keys).where(k.conversation_id == conversation_id))
                connection.execute(update(conversations).where(c.id == conversation_id).values(state=None, channel_state=None))
                continue
            key, rewrapped = self.keys.new_data_key(conversation_id, extra=bytes.fromhex(pseudonym_in(material, stored)))
            self.keys.forget(conversation_id)
            connection.execute(update(data_keys).where(k.conversation_id == conversation_id).values(wrapped=rewrapped, epoch=self.keys.epoch_of(rewrapped)))
            connection.execute(update(conversations).where(c.id == conversation_id).values(
                state=None, channel_state=seal(key, f"{conversation_id}:channel", channel_state) if channel_state is not None else None,
            ))

    def _queue_deletions(self, connection, condition, now: datetime, deletions) -> int:
        """Queue the ``deletions`` of the conversations matching ``condition`` (about to be
        erased); returns how many jobs. One whose state cannot be opened any more (a retired key)
        has nothing readable to delete."""
        c, k = conversations.c, data_keys.c
        rows = connection.execute(
            select(c.id, c.channel_state, k.wrapped).join(data_keys, k.conversation_id == c.id)
            .where(condition, c.channel_state.is_not(None))
        ).all()
        queued = 0
        for conversation_id, sealed, wrapped in rows:
            try:
                key = self.keys.unwrap(bytes(wrapped), conversation_id)[:DATA_KEY_BYTES]
                state = json.loads(open_sealed(key, f"{conversation_id}:channel", bytes(sealed)))
            except (DecryptError, ValueError):
                continue
            for channel, kind, payload in deletions(state):
                connection.execute(insert(outbox).values(**new_message(self.keys, secrets.token_hex(16), channel, kind, payload, now)))
                queued += 1
        return queued

    def count(self) -> int:
        with read_connection(self.engine) as connection:
            return connection.execute(select(func.count()).select_from(conversations)).scalar_one()

    @property
    def roll_every(self) -> float:
        """Seconds between rollovers: a ninth of an epoch, at most a minute, so that with epochs
        of 0.45 of the erasure bound, a destroyed epoch's file is gone within 0.95 of it."""
        return min(60.0, self.keys.epochs.length / 9)

    def roll_keys(self, progress=None, grace: float | None = None) -> Rolled:
        """Move every key forward to the current epoch and destroy the epochs nothing needs
        (``rollover.roll_forward``; the background work calls it every ``roll_every``)."""
        return roll_forward(self.engine, self.keys, progress=progress, grace=grace)

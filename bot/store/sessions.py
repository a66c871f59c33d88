"""Conversations at rest: load, save and erase one person's session, one turn at a time.

    with store.conversation(pseudonym, now) as held:   # a transaction holding that person's lock
        session = held.session                         # None: new, expired, or unreadable
        ...
        held.save(new_session, expires_at)  or  held.erase()

A turn's statements run on a bare DB-API cursor (``prepared``); everything else through
SQLAlchemy. The lock is held from the read to the commit, so two messages of the same person never
interleave: SQLite's ``BEGIN IMMEDIATE`` (``database.py``), and on PostgreSQL a
transaction-scoped advisory lock on the pseudonym (released at commit, safe under PgBouncer).
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, Select, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.sql import ColumnElement

from bot.engine.session import Session
from bot.store.crypto import DATA_KEY_BYTES, DecryptError, KeyRing, is_sealed, open_sealed, pseudonym_in, seal
from bot.store import database
from bot.store.database import JournalShredder, close_writer, cursor_transaction, insert_ignoring_conflict, read_connection, write_transaction
from bot.store.prepared import Prepared
from bot.store.outbox import Outbox, new_message
from bot.store.rollover import Rolled, roll_forward

OUTBOX_COLUMNS = ("stream", "channel", "kind", "payload", "status", "attempts", "next_attempt_at", "created_at")
from bot.store.tables import conversations, data_keys, deliveries, delivery_statuses, outbox


_compact = json.JSONEncoder(separators=(",", ":")).encode  # built once: json.dumps with options builds one per call


def compact_json(value) -> bytes:
    return _compact(value).encode()


# A conversation's expiry is kept to this grid (rounded up): ``purge`` erases an idle one at most
# this much later than its flow's idle timeout, and consecutive turns seldom move it.
EXPIRY_STEP = timedelta(minutes=5)


def round_up(moment: datetime, step: timedelta) -> datetime:
    """``moment`` rounded up to a multiple of ``step`` since the epoch (unchanged when on one).

    >>> from datetime import timezone
    >>> round_up(datetime(2026, 11, 29, 14, 41, 7, tzinfo=timezone.utc), timedelta(minutes=5)).isoformat()
    '2026-11-29T14:45:00+00:00'
    """
    epoch = datetime(1970, 1, 1, tzinfo=moment.tzinfo)
    remainder = (moment - epoch) % step
    return moment + (step - remainder) if remainder else moment


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


class TurnStatements:
    """The statements of a turn, compiled once for the store's dialect (see ``prepared``)."""

    def __init__(self, dialect):
        c, k, d, o = conversations.c, data_keys.c, deliveries.c, outbox.c
        self.load = Prepared(
            select(c.id, c.state, c.channel_state, k.wrapped, c.expires_at)
            .join(data_keys, k.conversation_id == c.id, isouter=True)
            # Under the current epoch's tag, the previous one's (not yet moved forward), or the
            # pseudonym itself (a conversation from before epochs).
            .where(c.pseudonym.in_([bindparam("tag"), bindparam("previous_tag"), bindparam("legacy")])),
            dialect,
        )
        self.save = Prepared(
            update(conversations).where(c.id == bindparam("b_id")).values(
                state=bindparam("state"), channel_state=bindparam("channel_state"), updated_at=bindparam("now"),
                expires_at=bindparam("expires_at"), keep_until=bindparam("keep_until"),
            ),
            dialect,
        )
        # The same without ``expires_at``, for a turn that leaves it where it was: an UPDATE that
        # names an indexed column rewrites its index entry even when the value is unchanged.
        self.save_keeping_expiry = Prepared(
            update(conversations).where(c.id == bindparam("b_id")).values(
                state=bindparam("state"), channel_state=bindparam("channel_state"), updated_at=bindparam("now"),
                keep_until=bindparam("keep_until"),
            ),
            dialect,
        )
        self.save_channel = Prepared(
            update(conversations).where(c.id == bindparam("b_id"))
            .values(channel_state=bindparam("channel_state"), keep_until=bindparam("keep_until")),
            dialect,
        )
        self.create = Prepared(
            insert(conversations).values(
                id=bindparam("id"), pseudonym=bindparam("tag"), created_at=bindparam("now"),
                updated_at=bindparam("now"), expires_at=bindparam("expires_at"),
            ),
            dialect,
        )
        self.create_key = Prepared(
            insert(data_keys).values(conversation_id=bindparam("id"), wrapped=bindparam("wrapped"), epoch=bindparam("epoch")), dialect
        )
        self.delete_key = Prepared(delete(data_keys).where(k.conversation_id == bindparam("id")), dialect)
        self.delete_conversation = Prepared(delete(conversations).where(c.id == bindparam("id")), dialect)
        self.delete_stream = Prepared(delete(outbox).where(o.stream == bindparam("id")), dialect)
        self.claim = Prepared(
            insert_ignoring_conflict(dialect, deliveries).values(
                provider=bindparam("provider"), delivery=bindparam("delivery"),
                reply=bindparam("reply"), created_at=bindparam("now"),
            ),
            dialect,
        )
        self.recorded = Prepared(
            select(d.reply).where(d.provider == bindparam("provider"), d.delivery == bindparam("delivery")),
            dialect,
        )
        self.enqueue = Prepared(insert(outbox).values({column: bindparam(column) for column in OUTBOX_COLUMNS}), dialect)
        # PostgreSQL: one turn per person at a time, across processes, with a lock that the
        # commit releases (a session-level lock would strand under PgBouncer).
        self.lock = Prepared(select(func.pg_advisory_xact_lock(func.hashtextextended(bindparam("pseudonym"), 0))), dialect)


class HeldConversation:
    """One person's conversation inside a locked transaction. Use only within ``conversation()``."""

    def __init__(self, store: SessionStore, cursor, pseudonym: str, now: datetime):
        self._sql = store.statements
        self._dependents = store.dependents
        self._cursor = cursor
        self._keys = store.keys
        self._pseudonym = pseudonym
        self._now = now
        tag, previous_tag = self._keys.tags(pseudonym)
        row = self._sql.load.first(cursor, tag=tag, previous_tag=previous_tag, legacy=pseudonym)
        self.id: str | None = row[0] if row else None
        self._stored_expiry = row[4] if row else None  # as the driver gives it back
        self.stream: str | None = None  # the outbox stream for messages after an erasure
        self._key: AESGCM | None = None  # the unwrapped data key, as the cipher that seals and opens
        self._wrapped: bytes | None = None  # as stored
        self.erased = False  # whether this transaction erased anything (the store then shreds the WAL)
        self.session: Session | None = None  # None: new, or its state was shredded after expiry
        self.channel_state: dict = {}
        if row is not None:
            try:
                self._open(*row[:4])
            except (DecryptError, ValueError):
                self.erase()  # unreadable (a retired key, tampering): shred it and start anew

    @property
    def cursor(self):
        """The transaction's DB-API cursor, for other records written in the same turn (handoffs)."""
        return self._cursor

    @property
    def now(self) -> datetime:
        return self._now

    def _open(self, id: str, state: bytes | None, channel_state: bytes | None, wrapped: bytes | None) -> None:
        """Unseal the state and channel state. Whether the conversation has been idle too long
        is the engine's decision (the flow's timeout); ``expires_at`` serves ``purge``."""
        if wrapped is None:
            raise DecryptError("no data key")
        self._wrapped = bytes(wrapped)
        self._key = AESGCM(self._keys.unwrap(self._wrapped, id, remember=True)[:DATA_KEY_BYTES])
        if state is not None:
            self.session = Session.from_dict(json.loads(open_sealed(self._key, id, bytes(state))))
        if channel_state is not None:
            self.channel_state = json.loads(open_sealed(self._key, f"{id}:channel", bytes(channel_state)))

    def save(self, session: Session, expires_at: datetime, keep_until: datetime | None = None) -> None:
        """Seal ``session`` under the conversation's data key (a new one for a new conversation).

        ``expires_at`` (when ``purge`` may erase it) is stored rounded up to ``EXPIRY_STEP``, and
        written only when that moves it: the turns of a person writing within a few minutes
        leave the expiry index alone (it was a quarter of the pages a turn wrote)."""
        expires_at = round_up(expires_at, EXPIRY_STEP)
        stored = self._sql.save.bound("expires_at", expires_at)
        if self.id is None:
            self._create(expires_at)
            self._stored_expiry = stored
        blob = seal(self._key, self.id, compact_json(session.to_dict()))
        values = dict(b_id=self.id, state=blob, channel_state=self._sealed_channel_state(), now=self._now, keep_until=keep_until)
        if stored == self._stored_expiry:
            self._sql.save_keeping_expiry.run(self._cursor, **values)
        else:
            self._sql.save.run(self._cursor, expires_at=expires_at, **values)
            self._stored_expiry = stored

    def erase(self) -> None:
        """Delete the data key and the conversation, and every outbox row of it (sent or not: no
        timeline of what was said is left). Delivery receipts stay, keyed by a hash and linked to
        no conversation, so a redelivered message cannot bring the conversation back; the replies
        they keep were sealed under the deleted key. Nothing sealed under that key opens again.
        Messages enqueued afterwards (the quick exit's own) go out on a new stream. The
        store's ``dependents`` (the handoffs) are told in the same transaction: the person left."""
        if self.id is None:
            return
        for statement in (self._sql.delete_key, self._sql.delete_conversation, self._sql.delete_stream):
            statement.run(self._cursor, id=self.id)
        for dependent in self._dependents:
            dependent.person_left(self._cursor, self.id, self._now)
        self._keys.forget(self.id)
        self.id = self._key = self._wrapped = self.session = None
        self.channel_state = {}
        self.erased = True

    def save_channel_state(self, keep_until: datetime | None) -> None:
        """Store ``channel_state`` alone (the worker recording a sent message's id)."""
        if self.id is None or self._key is None:
            return
        self._sql.save_channel.run(self._cursor, b_id=self.id, channel_state=self._sealed_channel_state(), keep_until=keep_until)

    def _sealed_channel_state(self) -> bytes | None:
        if not self.channel_state:
            return None
        return seal(self._key, f"{self.id}:channel", compact_json(self.channel_state))

    # -- deliveries: each applied once -----------------------------------------------------------

    def record_delivery(self, provider: str, delivery: str, reply: bytes | None) -> bool:
        """Claim ``delivery`` (a keyed hash of the provider's id) with an insert that conflicts on
        a redelivery, keeping the webhook's answer, sealed, for that redelivery: under the
        conversation's key (bound to the conversation and the delivery), or, when the turn erased
        the conversation (the static quick-exit text), under the key-encryption keys. The receipt
        names no conversation: erasing one leaves its replies sealed under a key that no longer
        exists. Returns False for a redelivery: the caller must then roll the turn back (raise)
        and answer with ``recorded_reply``.

        Done at the end of the turn, inside the same locked transaction, so one statement claims
        and records; a duplicate's turn is rolled back whole.
        """
        if reply is None:
            sealed = None
        elif self.id is None:
            sealed = self._keys.seal_transient(reply)
        else:
            sealed = seal(self._key, f"{self.id}:reply:{delivery}", reply)
        return bool(self._sql.claim.run(self._cursor, provider=provider, delivery=delivery, reply=sealed, now=self._now))

    def recorded_reply(self, provider: str, delivery: str) -> bytes | None:
        """The answer recorded for ``delivery`` the first time, if it can still be opened: by
        this conversation's key (not after the person was erased or started over) or, for a
        quick exit's answer, by the key-encryption keys."""
        row = self._sql.recorded.first(self._cursor, provider=provider, delivery=delivery)
        if row is None or row[0] is None:
            return None
        reply = bytes(row[0])
        try:
            if is_sealed(reply):
                return open_sealed(self._key, f"{self.id}:reply:{delivery}", reply) if self._key is not None else None
            return self._keys.open_transient(reply)  # the answer to a quick exit
        except DecryptError:
            return None

    # -- the outbox -------------------------------------------------------------------------------

    def enqueue(self, channel: str, kind: str, payload: dict, stream: str | None = None) -> None:
        """Write a message to send in this transaction; it goes out after the commit, in order
        (of the conversation's stream, or of ``stream`` for a message not to the person)."""
        stream = stream or self.id or self.stream
        if stream is None:  # after an erasure (or a first message that was a quick exit): a new stream
            self.stream = stream = secrets.token_hex(16)
        self._sql.enqueue.run(self._cursor, **new_message(self._keys, stream, channel, kind, payload, self._now))

    def _create(self, expires_at: datetime) -> None:
        self.id = secrets.token_hex(16)
        # The wrapped key carries the pseudonym, so the rollover can tag it under the next epoch.
        key, self._wrapped = self._keys.new_data_key(self.id, extra=bytes.fromhex(self._pseudonym), remember=True)
        self._key = AESGCM(key)
        _, tag = self._keys.tag(self._pseudonym)
        self._sql.create.run(self._cursor, id=self.id, tag=tag, now=self._now, expires_at=expires_at)
        self._sql.create_key.run(self._cursor, id=self.id, wrapped=self._wrapped, epoch=self._keys.epoch_of(self._wrapped))


class SessionStore:
    """Encrypted sessions in a SQL database."""

    def __init__(self, engine: Engine, keys: KeyRing):
        self.engine = engine
        self.keys = keys
        self._postgres = engine.dialect.name == "postgresql"
        # A file on this machine: a turn waits on no network (the web app runs it on its event loop).
        self.local = engine.dialect.name == "sqlite"
        self.statements = TurnStatements(engine.dialect)
        self.shredder = JournalShredder(engine) if self.local else None
        self.dependents: list[Dependents] = []  # see ``attach``

    def attach(self, dependent: Dependents) -> None:
        """Records that hang off a conversation (the handoffs): told of every erasure and purge in
        the same transaction, so the person leaving is one atomic change. Attach before use."""
        if dependent not in self.dependents:
            self.dependents.append(dependent)

    @contextmanager
    def conversation(self, pseudonym: str, now: datetime) -> Iterator[HeldConversation]:
        """A transaction holding ``pseudonym``'s lock; commits on success, rolls back on error."""
        with cursor_transaction(self.engine) as cursor:
            if self._postgres:
                self.statements.lock.first(cursor, pseudonym=pseudonym)
            held = HeldConversation(self, cursor, pseudonym, now)
            yield held
        if held.erased:
            self.shred_journal()

    def grouped(self):
        """Turns inside this (on the web app's event loop, SQLite) share a commit with the other
        requests of the moment; their answers wait for ``settled`` (``database.grouped_turns``)."""
        return database.grouped_turns() if self.local else contextlib.nullcontext()

    async def settled(self) -> None:
        """Until this task's turns are committed; raises if the commit failed."""
        if self.local:
            await database.settled(self.engine)

    def after_commit(self, callback) -> None:
        """``callback()`` once this thread's writes are committed (now, or with its group)."""
        if self.local:
            database.after_commit(self.engine, callback)
        else:
            callback()

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
        with cursor_transaction(self.engine) as cursor:
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
        if self.local:
            close_writer(self.engine)
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

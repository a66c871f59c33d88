"""One person's conversation inside the transaction that holds their lock (``HeldConversation``):
its sealed state opened and saved, its erasure, its delivery receipts and its outbox messages."""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.engine.session import Session
from bot.store.crypto import DATA_KEY_BYTES, DecryptError, is_sealed, open_sealed, seal
from bot.store.outbox import new_message

if TYPE_CHECKING:
    from bot.store.sessions import SessionStore


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

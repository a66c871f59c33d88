"""The worker's side of the outbox: take due messages in order, record what happened.

A message is due when it is pending, its retry time has come, and every earlier message of its
stream (conversation) has been sent or has failed for good: order holds per conversation while
different conversations go out in parallel. Taking one marks it ``sending`` with a claim that
expires, so a worker that dies mid-send releases it (it is retried: the provider may then have it
twice, the one case a send can repeat; providers give no idempotency key for it).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, delete, exists, func, select, update
from sqlalchemy.orm import aliased

from bot.store.crypto import DecryptError, KeyRing
from bot.store.database import read_connection, write_transaction
from bot.store.tables import aware, delivery_statuses, deliveries, outbox

log = logging.getLogger("safeharbor.store")

CLAIM_FOR = timedelta(minutes=2)
# How long an SMS webhook's answer is kept for a redelivery of the same message: Twilio retries
# a failed webhook within minutes (connection overrides allow at most five retries), then calls
# the fallback URL instead. Telegram's answers are never kept (they go through this outbox).
REPLY_KEPT_FOR = timedelta(hours=1)

def new_message(keys: KeyRing, stream: str, channel: str, kind: str, payload: dict, now: datetime) -> dict:
    """The values of a new outbox row: ``payload`` sealed with the key-encryption keys, due now.
    Written in the caller's transaction (a turn's, or a console action's)."""
    return {
        "stream": stream, "channel": channel, "kind": kind, "payload": keys.seal_transient(json.dumps(payload).encode()),
        "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
    }


@dataclass(frozen=True)
class Job:
    """One message to send. ``payload`` is the decrypted dict the service wrote."""

    id: int
    stream: str
    channel: str
    kind: str
    payload: dict
    attempts: int
    created_at: datetime
    failing_since: datetime | None = None  # the first failure of the provider's (not a "slow down")

    def __repr__(self) -> str:
        return f"Job(id={self.id}, channel={self.channel!r}, kind={self.kind!r}, attempts={self.attempts})"


class Outbox:
    def __init__(self, engine: Engine, keys: KeyRing):
        self.engine = engine
        self.keys = keys

    def take_due(self, now: datetime, limit: int = 20, paused: frozenset[str] = frozenset()) -> list[Job]:
        """Claim up to ``limit`` due messages, at most one per stream (the next one in order),
        none of the ``paused`` channels (a provider asked every sender to wait)."""
        earlier = aliased(outbox)
        blocked = exists().where(
            and_(earlier.c.stream == outbox.c.stream, earlier.c.id < outbox.c.id, earlier.c.status.in_(("pending", "sending")))
        )
        jobs: list[Job] = []
        with write_transaction(self.engine) as connection:
            due = select(outbox).where(outbox.c.status == "pending", outbox.c.next_attempt_at <= now, ~blocked)
            if paused:
                due = due.where(outbox.c.channel.not_in(sorted(paused)))
            due = due.order_by(outbox.c.id).limit(limit)
            if self.engine.dialect.name == "postgresql":
                # Several workers: each takes rows no other is taking, without waiting for them.
                due = due.with_for_update(skip_locked=True, of=outbox)
            rows = connection.execute(due).all()
            for row in rows:
                claimed = connection.execute(
                    update(outbox).where(outbox.c.id == row.id, outbox.c.status == "pending")
                    .values(status="sending", claimed_until=now + CLAIM_FOR)
                ).rowcount
                if not claimed:  # another worker took it first
                    continue
                try:
                    payload = json.loads(self.keys.open_transient(row.payload))
                except (DecryptError, TypeError, ValueError):
                    # Its epoch is gone, or another process sealed it under a key store this one
                    # does not share (a misconfiguration the operator must hear of).
                    log.error("an outbox message opens with no key of this process and was dropped: do all processes use the same SAFEHARBOR_KEY_STORE?")
                    connection.execute(update(outbox).where(outbox.c.id == row.id).values(status="failed", payload=None, error="undecryptable"))
                    continue
                failing_since = aware(row.failing_since)
                jobs.append(Job(row.id, row.stream, row.channel, row.kind, payload, row.attempts, aware(row.created_at), failing_since))
        return jobs

    def sent(self, job: Job, provider_ref: str | None = None, *, now: datetime | None = None, pace: tuple[int, float] | None = None) -> None:
        """The provider accepted it (at ``now``): never send it again; forget what it said.

        ``pace`` (messages, seconds): the chat takes at most that many in any window of that
        length (Telegram's per-chat limits). When this send fills the window, the stream's next
        messages wait until the oldest of them leaves it: they go out later, never dropped, and
        since a stream sends one message at a time, that holds across every worker."""
        o = outbox.c
        with write_transaction(self.engine) as connection:
            connection.execute(
                update(outbox).where(o.id == job.id)
                .values(status="sent", payload=None, claimed_until=None, provider_ref=provider_ref, sent_at=now)
            )
            if pace is None or now is None:
                return
            count, seconds = pace
            window = timedelta(seconds=seconds)
            recent = connection.execute(
                select(o.sent_at).where(o.stream == job.stream, o.kind == "send", o.sent_at > now - window)
                .order_by(o.sent_at.desc()).limit(count)
            ).scalars().all()
            if len(recent) >= count:
                free_at = aware(recent[-1]) + window
                connection.execute(
                    update(outbox).where(o.stream == job.stream, o.status == "pending", o.next_attempt_at < free_at)
                    .values(next_attempt_at=free_at)
                )

    def retry(
        self, job: Job, at: datetime, error: str, payload: dict | None = None, *, now: datetime | None = None, throttled: bool = False,
    ) -> None:
        """Try ``job`` again at ``at``; with ``payload``, what is left of it (a deletion whose
        other messages are gone already), sealed again in place of what it said. ``throttled``:
        the provider only asked us to send slower; that is neither an attempt nor the start of
        its failing (``failing_since``, from ``now`` otherwise)."""
        values = dict(status="pending", next_attempt_at=at, claimed_until=None, error=error)
        if not throttled:
            values["attempts"] = job.attempts + 1
            if now is not None:
                values["failing_since"] = func.coalesce(outbox.c.failing_since, now)
        if payload is not None:
            values["payload"] = self.keys.seal_transient(json.dumps(payload).encode())
        with write_transaction(self.engine) as connection:
            connection.execute(update(outbox).where(outbox.c.id == job.id).values(**values))

    def failed(self, job: Job, error: str, *, whole_stream: bool = False) -> None:
        """Give up on ``job`` (and, when the person is unreachable for good, its whole stream)."""
        with write_transaction(self.engine) as connection:
            target = outbox.c.stream == job.stream if whole_stream else outbox.c.id == job.id
            connection.execute(
                update(outbox).where(target, outbox.c.status.in_(("pending", "sending")))
                .values(status="failed", payload=None, claimed_until=None, error=error)
            )

    def release_stale(self, now: datetime, in_flight: frozenset[int] = frozenset()) -> int:
        """Claims past their time (a worker died mid-send) become due again; ``in_flight`` are
        this process's own jobs still running, never released under its feet."""
        with write_transaction(self.engine) as connection:
            return connection.execute(
                update(outbox).where(outbox.c.status == "sending", outbox.c.claimed_until < now, outbox.c.id.not_in(in_flight))
                .values(status="pending", claimed_until=None)
            ).rowcount or 0

    def pending(self) -> int:
        with read_connection(self.engine) as connection:
            return len(connection.execute(select(outbox.c.id).where(outbox.c.status.in_(("pending", "sending")))).all())

    def purge(self, now: datetime, keep: timedelta = timedelta(days=1)) -> int:
        """Forget finished messages, old delivery receipts and statuses, and the replies kept
        for redeliveries once no provider would redeliver (``REPLY_KEPT_FOR``)."""
        with write_transaction(self.engine) as connection:
            done = connection.execute(
                delete(outbox).where(outbox.c.status.in_(("sent", "failed")), outbox.c.created_at < now - keep)
            ).rowcount or 0
            connection.execute(delete(deliveries).where(deliveries.c.created_at < now - 2 * keep))
            connection.execute(
                update(deliveries).where(deliveries.c.created_at < now - REPLY_KEPT_FOR, deliveries.c.reply.is_not(None)).values(reply=None)
            )
            connection.execute(delete(delivery_statuses).where(delivery_statuses.c.created_at < now - 7 * keep))
            return done

"""The background work: sending the outbox, and forgetting what has expired.

Runs inside ``safeharbor serve`` (woken at once when a turn queues a message) or alone as
``safeharbor worker``. Each due message goes to its channel's sender; the outcome is recorded:
- accepted: marked sent, its content wiped, never sent again (Telegram: its id is kept, sealed,
  for a later quick exit to delete);
- failed and worth retrying (timeouts, 5xx, 429): retried with exponential backoff and jitter, or
  after the provider's Retry-After, up to ``MAX_ATTEMPTS``;
- refused for good: marked failed; if the person is unreachable (Twilio 21610, unsubscribed),
  their whole stream stops and their conversation is erased.
Logs say what kind of thing happened, never to whom or what.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.channels.base import SendError
from bot.service import Service, decode_output
from bot.store.outbox import Job, Outbox

log = logging.getLogger("safeharbor.worker")

MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(minutes=10)
PURGE_EVERY = timedelta(minutes=1)
# A reply this late would arrive out of the blue on a phone someone else may hold by then
# (DESIGN rule 1): it is dropped instead. A quick exit's deletions stay useful for 48 hours.
MAX_REPLY_AGE = timedelta(minutes=10)
MAX_DELETE_AGE = timedelta(hours=47)


def backoff(attempts: int, retry_after: float | None = None, rng: Callable[[], float] = random.random) -> timedelta:
    """Wait before attempt ``attempts + 1``: the provider's Retry-After when given, else
    ``2**attempts`` seconds (capped) with +-50 % jitter so retries of many messages spread out."""
    if retry_after is not None:
        return timedelta(seconds=min(max(0.0, retry_after), MAX_BACKOFF.total_seconds()))
    base = min(MAX_BACKOFF.total_seconds(), 2.0**attempts)
    return timedelta(seconds=base * (0.5 + rng()))


class Worker:
    """``senders`` maps a channel name to an object with the adapter's send methods."""

    def __init__(self, service: Service, outbox: Outbox, senders: dict[str, object], clock: Callable[[], datetime] | None = None):
        self.service = service
        self.outbox = outbox
        self.senders = senders
        self.clock = clock or service.clock
        self.wake = asyncio.Event()
        self._last_purge: datetime | None = None
        self._in_flight: set[int] = set()

    def nudge(self) -> None:
        """Thread-safe: a turn queued something, send it now rather than at the next poll."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.wake.set)

    _loop: asyncio.AbstractEventLoop | None = None

    async def run(self, stop: asyncio.Event, poll: float = 1.0) -> None:
        """Send until ``stop`` is set; polls every ``poll`` seconds for other processes' messages."""
        self._loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                sent = await self.run_once()
            except Exception as exc:  # noqa: BLE001 - the loop must survive a bad moment (a locked database...)
                log.error("outbox round failed: %s", type(exc).__name__)
                sent = 0
            if sent:
                continue
            self.wake.clear()
            waiters = [asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waiters, timeout=poll, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    async def run_once(self) -> int:
        """One round: release stale claims, send what is due, purge now and then. Returns how many
        messages were handled."""
        now = self.clock()
        if self._last_purge is None or now - self._last_purge >= PURGE_EVERY:
            self._last_purge = now
            await asyncio.to_thread(self._purge, now)
        await asyncio.to_thread(self.outbox.release_stale, now, frozenset(self._in_flight))
        jobs = await asyncio.to_thread(self.outbox.take_due, now)
        await asyncio.gather(*(self._deliver(job) for job in jobs))
        return len(jobs)

    def _purge(self, now: datetime) -> None:
        """Once a minute: expired conversations and transcripts shredded, old outbox rows gone,
        and people waiting past the wait told of the 24/7 line."""
        erased = self.service.purge_expired()
        self.outbox.purge(now)
        if erased:
            log.info("erased %d expired conversation(s)", erased)
        if self.service.accounts is not None:
            self.service.accounts.purge(now)  # timed-out console sessions, old login failures
        if self.service.handoffs is not None:
            shredded = self.service.handoffs.purge(now)
            if shredded:
                log.info("shredded %d ended handoff(s)", shredded)
            closed = self.service.close_abandoned()
            if closed:
                log.info("closed %d abandoned handoff(s)", closed)
            reminded = self.service.remind_waiting()
            if reminded:
                log.info("told %d waiting person(s) of the 24/7 line", reminded)

    async def _deliver(self, job: Job) -> None:
        sender = self.senders.get(job.channel)
        if sender is None:
            await asyncio.to_thread(self.outbox.failed, job, "channel not configured")
            log.error("no sender for channel %s; message dropped", job.channel)
            return
        age = self.clock() - job.created_at
        if age > (MAX_DELETE_AGE if job.kind == "delete" else MAX_REPLY_AGE):
            log.warning("a %s %s was %d s old and was dropped, not sent", job.channel, job.kind, age.total_seconds())
            await asyncio.to_thread(self.outbox.failed, job, "stale")
            return
        self._in_flight.add(job.id)
        try:
            try:
                reference = await self._send(sender, job)
            except SendError as exc:
                await asyncio.to_thread(self._failed, job, exc)
                return
            except Exception as exc:  # noqa: BLE001 - an unexpected error is retried like a transient one
                await asyncio.to_thread(self._failed, job, SendError(type(exc).__name__))
                return
            await self._record_sent(job, reference)
        finally:
            self._in_flight.discard(job.id)

    async def _record_sent(self, job: Job, reference: int | str | None) -> None:
        """Mark it sent (retrying: an unrecorded success would be sent again after its claim
        expires); keep a Telegram message's id for a later quick exit."""
        provider_ref = self.service.pseudonyms.of(f"sent:{job.channel}", reference) if isinstance(reference, str) else None
        for attempt in range(5):
            try:
                await asyncio.to_thread(self.outbox.sent, job, provider_ref)
                break
            except Exception as exc:  # noqa: BLE001 - a locked or briefly absent database
                log.error("could not record a sent message (%s); retrying", type(exc).__name__)
                await asyncio.sleep(0.2 * 2**attempt)
        if isinstance(reference, int) and not job.payload.get("after_exit") and not job.payload.get("notice"):
            await asyncio.to_thread(self.service.message_sent, job.channel, job.payload["to"], reference)

    async def _send(self, sender, job: Job) -> int | str | None:
        """Send one job; returns Telegram's message id, Twilio's message SID, or None."""
        payload = job.payload
        if job.channel == "telegram":
            from bot.channels import telegram

            if job.kind == "send":
                return await sender.send_message(telegram.render(decode_output(payload), payload["to"]))
            if job.kind == "delete":
                await sender.delete_messages(payload["to"], payload["message_ids"])
                return None
            if job.kind == "answer":
                await sender.answer_callback(payload["callback_id"])
                return None
        elif job.channel in ("sms", "whatsapp") and job.kind == "send":
            from bot.channels.twilio_sms import sms_body

            body = sms_body(decode_output(payload), payload.get("alphabet", "gsm7"))
            return await asyncio.to_thread(sender.send, payload["to"], body)  # the message SID
        raise SendError(f"cannot send {job.kind} on {job.channel}", permanent=True)

    def _failed(self, job: Job, exc: SendError) -> None:
        if exc.unsubscribed:
            log.warning("a %s recipient is unreachable for good; their messages stop and their conversation is erased", job.channel)
            self.outbox.failed(job, "unsubscribed", whole_stream=True)
            self.service.opted_out(job.channel, job.payload["to"])
        elif exc.permanent or job.attempts + 1 >= MAX_ATTEMPTS:
            log.warning("a %s message failed for good (%s)", job.channel, "refused" if exc.permanent else "too many attempts")
            self.outbox.failed(job, "refused" if exc.permanent else "attempts")
        else:
            wait = backoff(job.attempts, exc.retry_after)
            log.info("a %s message will be retried in %.1f s", job.channel, wait.total_seconds())
            self.outbox.retry(job, self.clock() + wait, "transient")

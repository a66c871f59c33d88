"""The background work: sending the outbox, and forgetting what has expired.

Runs inside ``safeharbor serve`` (woken at once when a turn queues a message) or alone as
``safeharbor worker``. Each due message goes to its channel's sender; the outcome is recorded:
- accepted: marked sent, its content wiped, never sent again (Telegram: its id is kept, sealed,
  for a later quick exit to delete);
- failed and worth retrying (timeouts, 5xx): retried with exponential backoff and jitter, or
  after the provider's Retry-After, up to ``MAX_ATTEMPTS``, and dropped unsent once the provider
  has failed it for ``MAX_REPLY_AGE``;
- refused as too fast (429): retried after the provider's Retry-After, every Telegram send of
  every worker waiting as long (``SendPace.pause``); not an attempt, and never "too late": that
  wait, like our own pacing, is the service's;
- refused for good: marked failed; if the person is unreachable (Twilio 21610, unsubscribed),
  their whole stream stops and their conversation is erased.
Deleting what Twilio keeps (``delete`` jobs on ``sms``: a batch of Message SIDs) is retried per
message: the ones deleted (or already gone) leave the job, the others (Twilio error 20009, "not
final yet", or a transient failure) are tried again with ``twilio_delete_backoff``, from a minute
up to six hours apart, for ``TWILIO_DELETE_FOR`` (14 days, the longest Twilio says a message
can take to be final); what is still there then, or refused for good, is counted and logged.
Telegram sends are paced (``SAFEHARBOR_LIMIT_TELEGRAM_PER_SECOND`` for the bot, shared by every
worker process through the database; per chat, ``telegram.chat_pace``), so a flood makes replies
wait their turn and never drops one.
Logs say what kind of thing happened, never to whom or what (never a SID: it opens a message).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.channels.base import SendError
from bot.service import Service, decode_output
from bot.store.limits import SendPace, purge_windows, window_start
from bot.store.outbox import CLAIM_FOR, TWILIO_DELETES, Job, Outbox

log = logging.getLogger("safeharbor.worker")

MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(minutes=10)
PURGE_EVERY = timedelta(minutes=1)
# A reply the provider kept failing for this long would arrive out of the blue on a phone someone
# else may hold by then (DESIGN rule 1): it is dropped instead. Counted from the provider's first
# failure, so a reply that waited behind a flood, our own pacing or a provider's "slow down" is
# never dropped for it. A quick exit's deletions stay useful for 48 hours after they were queued.
MAX_REPLY_AGE = timedelta(minutes=10)
MAX_DELETE_AGE = timedelta(hours=47)
# Twilio: "wait at least 1 minute" after a message was sent or received, then "several minutes";
# "in rare cases, a message or call record may take up to 14 days to be finalized and able to be
# deleted" (https://www.twilio.com/docs/api/errors/20009).
TWILIO_DELETE_FOR = timedelta(days=14)
TWILIO_FIRST_RETRY = timedelta(minutes=1)
TWILIO_MAX_RETRY = timedelta(hours=6)


def backoff(attempts: int, retry_after: float | None = None, rng: Callable[[], float] = random.random) -> timedelta:
    """Wait before attempt ``attempts + 1``: the provider's Retry-After when given, else
    ``2**attempts`` seconds (capped) with +-50 % jitter so retries of many messages spread out."""
    if retry_after is not None:
        return timedelta(seconds=min(max(0.0, retry_after), MAX_BACKOFF.total_seconds()))
    base = min(MAX_BACKOFF.total_seconds(), 2.0**attempts)
    return timedelta(seconds=base * (0.5 + rng()))


def twilio_delete_backoff(attempts: int, retry_after: float | None = None, rng: Callable[[], float] = random.random) -> timedelta:
    """Wait before trying again to delete messages at Twilio: the provider's Retry-After when
    given, else one minute doubled each attempt plus up to half again (jitter, never under
    Twilio's minute), at most six hours.

    >>> [twilio_delete_backoff(n, rng=lambda: 0.0).total_seconds() for n in (0, 1, 2, 12)]
    [60.0, 120.0, 240.0, 21600.0]
    """
    if retry_after is not None:
        return timedelta(seconds=min(max(TWILIO_FIRST_RETRY.total_seconds(), retry_after), TWILIO_MAX_RETRY.total_seconds()))
    base = TWILIO_FIRST_RETRY.total_seconds() * 2.0 ** min(attempts, 32)
    return timedelta(seconds=min(TWILIO_MAX_RETRY.total_seconds(), base * (1.0 + 0.5 * rng())))


class Worker:
    """``senders`` maps a channel name to an object with the adapter's send methods."""

    def __init__(
        self, service: Service, outbox: Outbox, senders: dict[str, object], clock: Callable[[], datetime] | None = None,
        wall: Callable[[], float] = time.time,
    ):
        self.service = service
        self.outbox = outbox
        self.senders = senders
        self.clock = clock or service.clock
        # Telegram's slots, on the wall clock every process shares (``clock`` is the service's,
        # which tests move by hand): one send every ``_interval`` seconds, all workers together.
        self.pace = SendPace(outbox.engine)
        self.wall = wall
        self._interval = 1.0 / service.limits.settings.telegram_per_second
        self._notices_minute: int | None = None
        self.wake = asyncio.Event()
        self._last_purge: datetime | None = None
        self._last_roll: float | None = None  # time.monotonic() of the last key rollover
        self._in_flight: set[int] = set()
        # Messages deleted at Twilio (or found gone), and those given up on: counts only.
        self.twilio_deleted = 0
        self.twilio_undeleted = 0

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
        if self._last_roll is None or time.monotonic() - self._last_roll >= self.service.store.roll_every:
            self._last_roll = time.monotonic()
            await asyncio.to_thread(self._roll_keys)
        if self._last_purge is None or now - self._last_purge >= PURGE_EVERY:
            self._last_purge = now
            await asyncio.to_thread(self._purge, now)
        if window_start(now) != self._notices_minute:  # a new minute: notices that had to wait
            self._notices_minute = window_start(now)
            await asyncio.to_thread(self.service.flush_notices)
        await asyncio.to_thread(self.outbox.release_stale, now, frozenset(self._in_flight))
        paused = await asyncio.to_thread(self.pace.paused, "telegram", now.timestamp())
        jobs = await asyncio.to_thread(self.outbox.take_due, now, 20, frozenset({"telegram"}) if paused else frozenset())
        slots = await self._telegram_slots(jobs)
        await asyncio.gather(*(self._deliver(job, slots.get(job.id)) for job in jobs))
        return len(jobs)

    def _roll_keys(self) -> None:
        """Keys moved forward to the current epoch, old epochs destroyed (``store.rollover``): on
        the real clock, often enough that the erasure bound holds on disk."""
        rolled = self.service.store.roll_keys()
        if rolled.moved or rolled.destroyed:
            log.info("moved %d key(s) to the current epoch; destroyed %d old epoch(s)", rolled.moved, len(rolled.destroyed))

    async def _telegram_slots(self, jobs: list[Job]) -> dict[int, float]:
        """A slot (wall-clock time) for each Telegram job, in order, reserved in the database so
        that every worker's sends together keep to the bot's rate."""
        telegram = [job.id for job in jobs if job.channel == "telegram"]
        if not telegram:
            return {}
        first = await asyncio.to_thread(self.pace.reserve, "telegram", len(telegram), self._interval, self.wall())
        return {job_id: first + index * self._interval for index, job_id in enumerate(telegram)}

    def _purge(self, now: datetime) -> None:
        """Once a minute: expired conversations and transcripts shredded, old outbox rows gone,
        and people waiting past the wait told of the 24/7 line."""
        erased = self.service.purge_expired()
        self.outbox.purge(now)
        purge_windows(self.outbox.engine, now)
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

    async def _deliver(self, job: Job, slot: float | None = None) -> None:
        sender = self.senders.get(job.channel)
        if sender is None:
            await asyncio.to_thread(self.outbox.failed, job, "channel not configured")
            log.error("no sender for channel %s; message dropped", job.channel)
            return
        if job.channel == TWILIO_DELETES and job.kind == "delete":
            self._in_flight.add(job.id)
            try:
                await self._delete_at_twilio(sender, job)
            finally:
                self._in_flight.discard(job.id)
            return
        now = self.clock()
        if job.kind == "delete":
            age = now - job.created_at  # Telegram deletes for 48 hours after a message, whatever we did
            if age > MAX_DELETE_AGE:
                log.warning("a %s delete was %d s old and was dropped, not sent", job.channel, age.total_seconds())
                await asyncio.to_thread(self.outbox.failed, job, "stale")
                return
        elif job.failing_since is not None and now - job.failing_since > MAX_REPLY_AGE:
            failing = (now - job.failing_since).total_seconds()
            log.warning("a %s %s the provider failed for %d s was dropped, not sent", job.channel, job.kind, failing)
            await asyncio.to_thread(self.outbox.failed, job, "stale")
            return
        self._in_flight.add(job.id)
        try:
            if slot is not None:
                wait = slot - self.wall()
                if wait > CLAIM_FOR.total_seconds() / 4:  # far ahead (many workers, or a pause): later, unclaimed
                    await asyncio.to_thread(self.outbox.retry, job, now + timedelta(seconds=wait), "paced", throttled=True)
                    return
                if wait > 0:
                    await asyncio.sleep(wait)
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

    async def _delete_at_twilio(self, sender, job: Job) -> None:
        """Delete each message of the job at Twilio; what is left is retried, or given up on
        (counted and logged) once ``TWILIO_DELETE_FOR`` has passed since the job was queued."""
        from bot.channels.twilio_sms import NotYetDeletable

        left: list[str] = []
        refused = 0
        retry_after: float | None = None
        sids = list(job.payload.get("sids", ()))
        for index, sid in enumerate(sids):
            try:
                await asyncio.to_thread(sender.delete, sid)  # False (already gone) counts as done
                self.twilio_deleted += 1
            except NotYetDeletable:
                left.append(sid)  # this one is still being sent or received; the others may be final
            except SendError as exc:
                if exc.permanent:
                    refused += 1
                    continue
                # Twilio is unreachable, failing or asking to slow down: the rest wait too.
                retry_after = exc.retry_after
                left.extend(sids[index:])
                break
            except Exception:  # noqa: BLE001 - an unexpected error is retried like a transient one
                left.extend(sids[index:])
                break
        if refused:
            self.twilio_undeleted += refused
            log.warning("%d message(s) could not be deleted at Twilio: refused", refused)
        now = self.clock()
        if not left:
            await asyncio.to_thread(self.outbox.sent, job)
        elif now - job.created_at >= TWILIO_DELETE_FOR:
            self.twilio_undeleted += len(left)
            log.warning("%d message(s) could not be deleted at Twilio in %d days: given up", len(left), TWILIO_DELETE_FOR.days)
            await asyncio.to_thread(self.outbox.failed, job, "attempts")
        else:
            wait = twilio_delete_backoff(job.attempts, retry_after)
            log.info("%d message(s) not yet deletable at Twilio; trying again in %.0f s", len(left), wait.total_seconds())
            payload = {"sids": left} if len(left) < len(sids) else None
            await asyncio.to_thread(self.outbox.retry, job, now + wait, "not deleted yet", payload)

    async def _record_sent(self, job: Job, reference: int | str | None) -> None:
        """Mark it sent (retrying: an unrecorded success would be sent again after its claim
        expires); keep a Telegram message's id for a later quick exit."""
        provider_ref = self.service.pseudonyms.of(f"sent:{job.channel}", reference) if isinstance(reference, str) else None
        pace = None
        if job.channel == "telegram" and job.kind == "send":
            from bot.channels.telegram import chat_pace

            pace = chat_pace(job.payload["to"])
        for attempt in range(5):
            try:
                await asyncio.to_thread(self.outbox.sent, job, provider_ref, now=self.clock(), pace=pace)
                break
            except Exception as exc:  # noqa: BLE001 - a locked or briefly absent database
                log.error("could not record a sent message (%s); retrying", type(exc).__name__)
                await asyncio.sleep(0.2 * 2**attempt)
        if isinstance(reference, int) and not job.payload.get("after_exit") and not job.payload.get("notice"):
            await asyncio.to_thread(self.service.message_sent, job.channel, job.payload["to"], reference)
        elif isinstance(reference, str) and job.channel in ("sms", "whatsapp"):
            # Twilio keeps what was sent until it is deleted: kept with the conversation, or, if it
            # is gone (a quick exit while this was on its way), deleted (after_exit included: the
            # phone keeps its copy whatever Twilio does).
            await asyncio.to_thread(self.service.message_sent, job.channel, job.payload["to"], reference)

    async def _send(self, sender, job: Job) -> int | str | None:
        """Send one job; returns Telegram's message id, Twilio's message SID, or None."""
        payload = job.payload
        if job.channel == "telegram":
            from bot.channels import telegram

            if job.kind == "send":
                params = telegram.render(decode_output(payload), payload["to"])
                if payload.get("quiet"):  # sent on its own, not as an answer: no sound (DESIGN rule 2)
                    params["disable_notification"] = True
                return await sender.send_message(params)
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
        elif exc.throttled:
            # We sent too fast: the provider's wait, for every send of this bot (as python-telegram-bot's
            # AIORateLimiter halts all requests on RetryAfter), and then the same message again.
            now = self.clock()
            wait = backoff(job.attempts, exc.retry_after)
            if job.channel == "telegram":
                self.pace.pause("telegram", (now + wait).timestamp())
            log.info("a %s message waits %.1f s: the provider asked to slow down", job.channel, wait.total_seconds())
            self.outbox.retry(job, now + wait, "throttled", throttled=True)
        elif exc.permanent or job.attempts + 1 >= MAX_ATTEMPTS:
            log.warning("a %s message failed for good (%s)", job.channel, "refused" if exc.permanent else "too many attempts")
            self.outbox.failed(job, "refused" if exc.permanent else "attempts")
        else:
            now = self.clock()
            wait = backoff(job.attempts, exc.retry_after)
            log.info("a %s message will be retried in %.1f s", job.channel, wait.total_seconds())
            self.outbox.retry(job, now + wait, "transient", now=now)

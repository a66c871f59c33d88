"""The background work: sending the outbox, and forgetting what has expired.

Runs inside ``safeharbor serve`` (woken at once when a turn queues a message) or alone as
``safeharbor worker``. Each due message goes to its channel's sender; the outcome is recorded:
- accepted: marked sent, its content wiped, never sent again (the id the adapter can delete it
  by, ``Sent.deletable_id``, is kept, sealed, with the conversation);
- failed and worth retrying (timeouts, 5xx): retried with exponential backoff and jitter, or
  after the provider's Retry-After, up to ``MAX_ATTEMPTS``, and dropped unsent once the provider
  has failed it for ``MAX_REPLY_AGE``;
- refused as too fast (429): retried after the provider's Retry-After, every send of a paced
  channel by every worker waiting as long (``SendPace.pause``); not an attempt, and never "too late": that
  wait, like our own pacing, is the service's;
- refused for good: marked failed; if the person is unreachable (e.g. a carrier's opt-out),
  their whole stream stops and their conversation is erased.
Deleting what a provider keeps (``delete`` jobs of a channel whose adapter ``keeps_copies``)
is the adapter's, item by item (``ChannelAdapter.delete_kept``): what is left is tried again
when the adapter says, or given up on. Sends of a ``paced`` adapter (a bot's rate, ``adapter.per_second``) take slots shared by every worker process through the
database, and each counts against its chat's pace (``adapter.pace(job)``), so a flood makes
replies wait their turn and never drops one.
Logs say what kind of thing happened, never to whom or what (never a SID: it opens a message).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.channels.base import ChannelAdapter, SendError, Sent
from bot.service import Service
from bot.store.limits import SendPace, purge_windows, window_start
from bot.store.outbox import CLAIM_FOR, Job, Outbox

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
def backoff(attempts: int, retry_after: float | None = None, rng: Callable[[], float] = random.random) -> timedelta:
    """Wait before attempt ``attempts + 1``: the provider's Retry-After when given, else
    ``2**attempts`` seconds (capped) with +-50 % jitter so retries of many messages spread out."""
    if retry_after is not None:
        return timedelta(seconds=min(max(0.0, retry_after), MAX_BACKOFF.total_seconds()))
    base = min(MAX_BACKOFF.total_seconds(), 2.0**attempts)
    return timedelta(seconds=base * (0.5 + rng()))


class Worker:
    """``adapters`` maps an outbox job's channel to the adapter sending it
    (``bot.channels.registry.by_channel``); a channel missing, or whose adapter cannot send, has
    its jobs failed as not configured."""

    def __init__(
        self, service: Service, outbox: Outbox, adapters: dict[str, ChannelAdapter], clock: Callable[[], datetime] | None = None,
        wall: Callable[[], float] = time.time,
    ):
        self.service = service
        self.outbox = outbox
        self.adapters = adapters
        self.clock = clock or service.clock
        # A paced adapter's slots, on the wall clock every process shares (``clock`` is the
        # service's, which tests move by hand): one send every ``_interval`` seconds, all workers
        # together.
        self.pace = SendPace(outbox.engine)
        self.wall = wall
        self._notices_minute: int | None = None
        self.wake = asyncio.Event()
        self._last_purge: datetime | None = None
        self._last_roll: float | None = None  # time.monotonic() of the last key rollover
        self._in_flight: set[int] = set()

    def _paced(self) -> list[ChannelAdapter]:
        """The adapters whose sends keep to a rate shared by every worker (by name, once)."""
        return list({adapter.name: adapter for adapter in self.adapters.values() if adapter.paced}.values())

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
        held_back: set[str] = set()  # the channels of a paced adapter the provider asked to wait
        for adapter in self._paced():
            if await asyncio.to_thread(self.pace.paused, adapter.name, now.timestamp()):
                held_back.update(channel.value for channel in adapter.channels)
        jobs = await asyncio.to_thread(self.outbox.take_due, now, 20, frozenset(held_back))
        slots = await self._slots(jobs)
        await asyncio.gather(*(self._deliver(job, slots.get(job.id)) for job in jobs))
        return len(jobs)

    def _roll_keys(self) -> None:
        """Keys moved forward to the current epoch, old epochs destroyed (``store.rollover``): on
        the real clock, often enough that the erasure bound holds on disk."""
        rolled = self.service.store.roll_keys()
        if rolled.moved or rolled.destroyed:
            log.info("moved %d key(s) to the current epoch; destroyed %d old epoch(s)", rolled.moved, len(rolled.destroyed))

    async def _slots(self, jobs: list[Job]) -> dict[int, float]:
        """A slot (wall-clock time) for each job of a paced adapter, in order, reserved in the
        database so that every worker's sends together keep to the provider's rate."""
        slots: dict[int, float] = {}
        for adapter in self._paced():
            channels = {channel.value for channel in adapter.channels}
            mine = [job.id for job in jobs if job.channel in channels]
            if mine:
                interval = 1.0 / adapter.per_second(self.service.limits.settings)
                first = await asyncio.to_thread(self.pace.reserve, adapter.name, len(mine), interval, self.wall())
                slots.update({job_id: first + index * interval for index, job_id in enumerate(mine)})
        return slots

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
        adapter = self.adapters.get(job.channel)
        if adapter is None or not adapter.sends:
            await asyncio.to_thread(self.outbox.failed, job, "channel not configured")
            log.error("no sender for channel %s; message dropped", job.channel)
            return
        if job.kind == "delete" and adapter.keeps_copies:
            self._in_flight.add(job.id)
            try:
                await self._delete_kept(adapter, job)
            finally:
                self._in_flight.discard(job.id)
            return
        now = self.clock()
        if job.kind == "delete":
            age = now - job.created_at  # a chat's messages are deletable for 48 hours, whatever we did
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
                sent = await adapter.send(job)
            except SendError as exc:
                await asyncio.to_thread(self._failed, job, exc)
                return
            except Exception as exc:  # noqa: BLE001 - an unexpected error is retried like a transient one
                await asyncio.to_thread(self._failed, job, SendError(type(exc).__name__))
                return
            await self._record_sent(adapter, job, sent)
        finally:
            self._in_flight.discard(job.id)

    async def _delete_kept(self, adapter: ChannelAdapter, job: Job) -> None:
        """The adapter deletes what the provider keeps; what is left is retried when it says, or,
        given up on, the job fails."""
        deletion = await adapter.delete_kept(job, self.clock)
        if not deletion.left:
            await asyncio.to_thread(self.outbox.sent, job)
        elif deletion.retry_at is None:
            await asyncio.to_thread(self.outbox.failed, job, "attempts")
        else:
            await asyncio.to_thread(self.outbox.retry, job, deletion.retry_at, "not deleted yet", deletion.payload)

    async def _record_sent(self, adapter: ChannelAdapter, job: Job, sent: Sent) -> None:
        """Mark it sent (retrying: an unrecorded success would be sent again after its claim
        expires); then keep the id the adapter can delete it by with the person's conversation
        (or, if nothing of them is kept any more, have it deleted: ``Service.message_sent``)."""
        provider_ref = self.service.pseudonyms.of(f"sent:{job.channel}", sent.provider_ref) if sent.provider_ref else None
        pace = adapter.pace(job)
        for attempt in range(5):
            try:
                await asyncio.to_thread(self.outbox.sent, job, provider_ref, now=self.clock(), pace=pace)
                break
            except Exception as exc:  # noqa: BLE001 - a locked or briefly absent database
                log.error("could not record a sent message (%s); retrying", type(exc).__name__)
                await asyncio.sleep(0.2 * 2**attempt)
        if sent.deletable_id is not None:
            await asyncio.to_thread(self.service.message_sent, job.channel, job.payload["to"], sent.deletable_id)

    def _failed(self, job: Job, exc: SendError) -> None:
        if exc.unsubscribed:
            log.warning("a %s recipient is unreachable for good; their messages stop and their conversation is erased", job.channel)
            self.outbox.failed(job, "unsubscribed", whole_stream=True)
            self.service.opted_out(job.channel, job.payload["to"])
        elif exc.throttled:
            # We sent too fast: the provider's wait, for every send of this bot (as the Bot API library's
            # AIORateLimiter halts all requests on RetryAfter), and then the same message again.
            now = self.clock()
            wait = backoff(job.attempts, exc.retry_after)
            adapter = self.adapters.get(job.channel)
            if adapter is not None and adapter.paced:
                self.pace.pause(adapter.name, (now + wait).timestamp())
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

"""Deleting what Twilio keeps, one outbox job (a batch of Message SIDs) at a time.

Each SID is deleted on its own: the ones deleted (or already gone) leave the job, the others
(Twilio error 20009, "not final yet", or a transient failure) are tried again with
``twilio_delete_backoff``, from a minute up to six hours apart, for ``TWILIO_DELETE_FOR`` (14
days, the longest Twilio says a message can take to be final); what is still there then, or
refused for good, is counted and logged. Logs never name a SID (it opens a message).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.channels.base import Deletion, SendError

from ._send import NotYetDeletable

log = logging.getLogger("safeharbor.worker")

# Twilio: "wait at least 1 minute" after a message was sent or received, then "several minutes";
# "in rare cases, a message or call record may take up to 14 days to be finalized and able to be
# deleted" (https://www.twilio.com/docs/api/errors/20009).
TWILIO_DELETE_FOR = timedelta(days=14)
TWILIO_FIRST_RETRY = timedelta(minutes=1)
TWILIO_MAX_RETRY = timedelta(hours=6)


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


class Deleter:
    """Works through deletion jobs with ``sender`` (a ``TwilioSender``); ``deleted`` and
    ``undeleted`` count messages (deleted or found gone; refused or given up on)."""

    def __init__(self, sender) -> None:
        self.sender = sender
        self.deleted = 0
        self.undeleted = 0

    async def delete(self, job, clock: Callable[[], datetime]) -> Deletion:
        """Delete each SID of ``job``; returns what is left and when to try it again (``retry_at``
        None with SIDs left: given up, ``TWILIO_DELETE_FOR`` after the job was queued)."""
        left: list[str] = []
        refused = 0
        retry_after: float | None = None
        sids = list(job.payload.get("sids", ()))
        for index, sid in enumerate(sids):
            try:
                await asyncio.to_thread(self.sender.delete, sid)  # False (already gone) counts as done
                self.deleted += 1
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
            self.undeleted += refused
            log.warning("%d message(s) could not be deleted at Twilio: refused", refused)
        now = clock()
        if not left:
            return Deletion()
        if now - job.created_at >= TWILIO_DELETE_FOR:
            self.undeleted += len(left)
            log.warning("%d message(s) could not be deleted at Twilio in %d days: given up", len(left), TWILIO_DELETE_FOR.days)
            return Deletion(left=tuple(left))
        wait = twilio_delete_backoff(job.attempts, retry_after)
        log.info("%d message(s) not yet deletable at Twilio; trying again in %.0f s", len(left), wait.total_seconds())
        payload = {"sids": left} if len(left) < len(sids) else None
        return Deletion(left=tuple(left), retry_at=now + wait, payload=payload)

"""The service's side of every adapter's webhooks: ``Desk`` runs its calls the way the database
wants and answers with the 24/7 fallback when what a delivery wrote could not be committed.

The webhooks themselves (verify first, parse, answer as the provider expects) are the adapters'
(``bot.channels.<name>``, ``ChannelAdapter.webhooks``); ``web.app`` mounts them.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool

from bot.service import Reception, Service

log = logging.getLogger("safeharbor.web")


class Desk:
    """What an adapter's webhook hands its delivery to (``bot.channels.base.Desk``)."""

    def __init__(self, service: Service):
        self.service = service

    @property
    def fallback(self):
        return self.service.fallback

    async def call(self, function, *args):
        """Run a call of the service that touches the database. On a local SQLite file a turn
        holds the CPU for well under a millisecond and its writes queue on one lock anyway, so it
        runs on the event loop: a hop to a worker thread, and the two threads handing the GIL
        back and forth at every SQLite call, halved the webhook's throughput (bench/webhook.py).
        Over a network (PostgreSQL) the wait would stall every other request: a thread then."""
        if self.service.local_database:
            with self.service.grouped():  # shares a commit with the requests of this moment
                result = function(*args)
            await self.service.settled()  # nothing is answered before it is committed
            return result
        return await run_in_threadpool(function, *args)

    async def receive(self, delivery) -> Reception:
        """The service's answer to a delivery, or the fallback if what it wrote could not be
        committed (then nothing of it was kept, and the person still gets the 24/7 line)."""
        try:
            return await self.call(self.service.receive, delivery)
        except Exception as exc:  # noqa: BLE001 - the person must get an answer whatever failed
            log.error("a delivery could not be committed: %s", type(exc).__name__)
            return Reception((self.service.fallback,), failed=True)


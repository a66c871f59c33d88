"""The service's side of every adapter's webhooks: ``Desk`` runs its calls the way the database
wants and answers with the 24/7 fallback when what a delivery wrote could not be committed.

The webhooks themselves (verify first, parse, answer as the provider expects) are the adapters'
(``bot.channels.<name>``, ``ChannelAdapter.webhooks``); ``web.app`` mounts them.
"""

from __future__ import annotations

import logging

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
        """Run a call of the service that touches the database, answered only once what it wrote
        is committed (raises if that failed). How, the store decides (``SessionStore.turn``): on
        the event loop with the other requests of the moment on SQLite, in a thread over a
        network."""
        return await self.service.turn(function, *args)

    async def receive(self, delivery) -> Reception:
        """The service's answer to a delivery, or the fallback if what it wrote could not be
        committed (then nothing of it was kept, and the person still gets the 24/7 line)."""
        try:
            return await self.call(self.service.receive, delivery)
        except Exception as exc:  # noqa: BLE001 - the person must get an answer whatever failed
            log.error("a delivery could not be committed: %s", type(exc).__name__)
            return Reception((self.service.fallback,), failed=True)


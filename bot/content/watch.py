"""Each process follows the published revision: a poll of one indexed row every few seconds.

    watcher = ContentWatcher(revisions, live, regions)
    watcher.refresh()                 # True when it switched to a newer published revision
    await watcher.run(stop, every=2)  # in ``serve`` (every web process) and ``worker``

A turn never reads the database for content: it reads ``LiveContent``, which this switches
between turns. A published revision that fails to load here (it was inspected when
published, and is read here without inspecting it again, so only a newer code's stricter
reading could refuse it) is logged by number and not served; the process
keeps serving what it has, and tries again only when another revision is published.
"""

from __future__ import annotations

import asyncio
import logging

from bot.content.live import LiveContent
from bot.content.loaded import read_content
from bot.content.revisions import Revisions
from bot.domain.problems import errors

log = logging.getLogger("safeharbor.content")

DEFAULT_INTERVAL = 2.0  # seconds; SAFEHARBOR_CONTENT_POLL_SECONDS


class ContentWatcher:
    def __init__(self, revisions: Revisions, live: LiveContent, regions: tuple[str, ...] | None):
        self.revisions = revisions
        self.live = live
        self.regions = regions
        self._refused: int | None = None  # a revision that failed to load here: not retried

    def refresh(self) -> bool:
        """Switch to the published revision if it is not the one served. Blocking."""
        number = self.revisions.published_number()
        if number is None or number == self.live.revision or number == self._refused:
            return False
        revision = self.revisions.get(number)
        # Inspected when it was published (``Studio.publish``): read, not inspected again, so
        # the switch comes sooner. Its schemas and references are still checked here.
        content, problems = read_content(revision.bundle.root(), self.regions, inspected=False)
        if content is None or errors(problems):
            log.error("published content revision %s does not load here (%d errors); still serving %s", number, len(errors(problems)), self.live.revision)
            self._refused = number
            return False
        self.live.switch(content, number)
        log.info("serving content revision %s", number)
        return True

    async def run(self, stop: asyncio.Event, every: float = DEFAULT_INTERVAL) -> None:
        """``refresh`` every ``every`` seconds until ``stop`` is set; a database that does not
        answer for a while is logged, and tried again at the next interval."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.refresh)
            except Exception as exc:  # noqa: BLE001 - serving must go on with what it has
                log.warning("content revision poll failed: %s", type(exc).__name__)
            try:
                await asyncio.wait_for(stop.wait(), timeout=every)
            except asyncio.TimeoutError:
                pass

"""Running the background work beside the web app, or alone (``safeharbor worker``).

``Background`` builds the outbox worker with the adapters of ``bot.channels.registry`` and, when
asked, has the channel that can poll fetch updates (development without a public URL:
``serve --telegram-polling``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from bot.channels.registry import build_adapters, by_channel, polling_adapter
from bot.config import ConfigError, Settings
from bot.service import Service
from bot.worker import Worker


class Background:
    """``adapters``: the channels' adapters (default: ``build_adapters(settings)``); ``polling``:
    fetch updates instead of webhooks, which the polling adapter must be able to send for."""

    def __init__(self, service: Service, settings: Settings, *, polling: bool = False, poll: float = 1.0, adapters=None):
        self.adapters = tuple(adapters) if adapters is not None else build_adapters(settings)
        self.poller = polling_adapter(self.adapters) if polling else None
        if polling and (self.poller is None or not self.poller.sends):
            raise ConfigError(f"--{getattr(self.poller, 'name', 'channel')}-polling needs {_token_setting(self.poller)}")
        if polling and settings.env == "production":
            raise ConfigError(f"--{self.poller.name}-polling removes the bot's webhook; it is for development, not production")
        self.service = service
        self.worker = Worker(service, service.store.outbox(), by_channel(self.adapters))
        self.poll = poll
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        self._stop = asyncio.Event()
        self.service.on_enqueued = self.worker.nudge
        self._tasks.append(asyncio.create_task(self.worker.run(self._stop, self.poll), name="outbox"))
        if self.poller is not None:
            self._tasks.append(asyncio.create_task(self.poller.poll(ThreadDesk(self.service), self._stop), name="polling"))

    async def stop(self) -> None:
        self._stop.set()
        self.service.on_enqueued = None
        for task in self._tasks:
            if task.get_name() == "polling":
                task.cancel()  # a long poll would otherwise hold the shutdown for its timeout
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for adapter in self.adapters:
            await adapter.close()


@contextlib.asynccontextmanager
async def following_content(service: Service, settings: Settings):
    """While inside, this process switches to each newly published content revision within
    ``SAFEHARBOR_CONTENT_POLL_SECONDS`` (``bot.content.watch``); every web process and every
    worker runs one, whether or not it runs the background work."""
    if service.watcher is None:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(service.watcher.run(stop, settings.content_poll_seconds), name="content")
    try:
        yield
    finally:
        stop.set()
        await task


class ThreadDesk:
    """Where a polling adapter hands its deliveries (``bot.channels.base.Desk``): the service's
    calls on a worker thread, off the event loop."""

    def __init__(self, service: Service):
        self.service = service
        self.fallback = service.fallback

    async def call(self, function, *args):
        return await asyncio.to_thread(function, *args)

    async def receive(self, delivery):
        return await asyncio.to_thread(self.service.receive, delivery)  # never raises


def _token_setting(adapter) -> str:
    names = getattr(adapter, "SECRETS", None) or ()
    return names[0] if names else "its credentials"


async def run_worker(service: Service, settings: Settings) -> None:
    """``safeharbor worker``: the background work alone, until SIGTERM or SIGINT (a host stopping
    the process sends SIGTERM: the message being sent finishes and is recorded first)."""
    background = Background(service, settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    async with following_content(service, settings):
        await background.start()
        try:
            await stopping.wait()
        finally:
            await background.stop()

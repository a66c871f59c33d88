"""How the web processes are served: the uvicorn options ``safeharbor serve`` runs with.

    uvicorn.run(app, host=..., port=..., **uvicorn_options(settings))

- **Whose address is a request's.** uvicorn believes ``X-Forwarded-For`` from 127.0.0.1 and ::1
  by default (or from ``FORWARDED_ALLOW_IPS``), so any client of a process listening there,
  or behind a local proxy that passes the header on, could choose the address the login limits
  count. Here the header is believed only from ``SAFEHARBOR_TRUSTED_PROXIES`` (``Settings.
  trusted_proxies``); with none, uvicorn's proxy handling is off and the address is the
  connecting peer's. With proxies, uvicorn takes the nearest address not in the list, reading
  the header from the right, so what a client wrote before the proxies' own entries is never
  believed.
- **Request read deadlines.** uvicorn has no header or body read timeout: its keep-alive timeout
  runs only between requests and is cancelled by the first byte, so a client that connects and
  sends half a request line (or nothing), or a body a byte at a time, holds a connection for
  ever. ``DeadlineProtocol`` gives each request ``HEADER_SECONDS`` from the connection (or
  from the first byte of the next request on a kept-alive one) to finish its head, and
  ``BODY_SECONDS`` from there to finish its body, and closes the connection otherwise. It
  covers receiving the request only: a response that streams (the console's live events)
  runs as long as it likes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bot.config import Settings

log = logging.getLogger("safeharbor.web")

HEADER_SECONDS = 10.0  # a request line and headers (a few hundred bytes; Go's servers are often set to 5-10 s)
BODY_SECONDS = 30.0  # bodies here are at most 16 KiB (the API) or a provider's small webhook post
KEEP_ALIVE_SECONDS = 5  # uvicorn's default: an idle kept-alive connection is closed after this


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config`` (besides app, host and port)."""
    trusted = list(settings.trusted_proxies)
    return {
        # Passed even when off, so that uvicorn never falls back to FORWARDED_ALLOW_IPS.
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted,
        "http": DeadlineProtocol,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
    }


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline on receiving each request (module docstring).

    The deadlines hang on httptools' parser callbacks (``on_message_begin``, ``on_headers_complete``,
    ``on_message_complete``), which uvicorn's protocol implements; subclass it to change
    ``header_seconds`` or ``body_seconds``."""

    header_seconds = HEADER_SECONDS
    body_seconds = BODY_SECONDS

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_seconds, "request head")  # a connection that sends nothing at all

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # the next request on a kept-alive connection
            self._arm(self.header_seconds, "request head")

    def on_headers_complete(self) -> None:
        self._arm(self.body_seconds, "request body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the connection is another protocol's from here
        super().handle_websocket_upgrade()

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, what)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, what: str) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            # No address: the log holds nothing about who connected.
            log.info("closed a connection that took over the deadline to send its %s", what)
            self.transport.close()

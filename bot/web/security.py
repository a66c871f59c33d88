"""Headers on every console and API response (and the OpenAPI description).

- ``Content-Security-Policy``: only this origin's scripts, styles and connections; no inline
  script, no framing, no plugins, no base-URL or form tricks.
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` (a conversation URL never
  leaks to another site), ``X-Frame-Options: DENY`` for old browsers.
- ``Cache-Control: no-store``: nothing of a transcript stays in a browser or proxy cache.
"""

from __future__ import annotations

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_NAMES = {name for name, _ in HEADERS}


class SecurityHeaders:
    """Pure ASGI middleware (it leaves a streaming response, the live events, streaming)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message):
            if message["type"] == "http.response.start":
                kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in _NAMES]
                message = {**message, "headers": kept + HEADERS}
            await send(message)

        await self.app(scope, receive, with_headers)

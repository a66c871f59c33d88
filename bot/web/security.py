"""Headers on every console and API response (and the OpenAPI description).

- ``Content-Security-Policy``: only this origin's scripts, styles and connections; no inline
  script, no framing, no plugins, no base-URL or form tricks.
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` (a conversation URL never
  leaks to another site), ``X-Frame-Options: DENY`` for old browsers.
- ``Cache-Control: no-store``: nothing of a transcript stays in a browser or proxy cache.
- ``Strict-Transport-Security`` with ``SAFEHARBOR_ENV=production`` only (``hsts=True``): once a
  browser has seen the console over https it never tries plain http for a year, so nobody on
  the network can strip TLS from an advocate's login. Not ``includeSubDomains``: the service
  cannot know what else lives under the organization's domain. Not outside production: a
  development or test name reached once over https (a tunnel, a staging host) would be pinned
  to https for a year for everything served under it.
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
HSTS = (b"strict-transport-security", b"max-age=31536000")
_NAMES = {name for name, _ in HEADERS} | {HSTS[0]}


class SecurityHeaders:
    """Pure ASGI middleware (it leaves a streaming response, the live events, streaming)."""

    def __init__(self, app, hsts: bool = False):
        self.app = app
        self.headers = HEADERS + [HSTS] if hsts else HEADERS

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message):
            if message["type"] == "http.response.start":
                kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in _NAMES]
                message = {**message, "headers": kept + self.headers}
            await send(message)

        await self.app(scope, receive, with_headers)

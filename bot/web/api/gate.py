"""``ApiGate``: the pure-ASGI gate in front of ``/api/``."""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from bot.service.console import Console
from bot.service import Service
from bot.web.api.deps import BACKGROUND_HEADER, COOKIE

MAX_BODY = 16 * 1024
# A content edit carries whole files (a locale of a large language, or an imported bundle).
MAX_CONTENT_BODY = 4 * 1024 * 1024
CONTENT_PATHS = "/api/content/"
LOGIN_PATH = "/api/auth/login"


class ApiGate:
    """In front of ``/api/`` (pure ASGI): a request without a live session gets 401 before its
    body is read or parsed (an anonymous caller gets 401, never a 422 that parsed what they
    sent), and a body over ``MAX_BODY`` (``MAX_CONTENT_BODY`` for the content studio's routes)
    gets 413. Login is the one route open to anyone."""

    def __init__(self, app, service: Service):
        self.app = app
        self.console = Console(service)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/api/") or not self.console.enabled:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        declared = request.headers.get("content-length")
        limit = MAX_CONTENT_BODY if scope["path"].startswith(CONTENT_PATHS) else MAX_BODY
        if declared and (not declared.isdigit() or int(declared) > limit):
            await _plain(send, 413, "request too large")
            return
        if scope["path"] != LOGIN_PATH:
            touch = request.headers.get(BACKGROUND_HEADER) != "1"
            seen = await run_in_threadpool(self.console.session, request.cookies.get(COOKIE), touch)
            if seen is None:
                await _plain(send, 401, "log in first")
                return
            scope["safeharbor.session"] = seen
        await self.app(scope, receive, send)


async def _plain(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

"""What every route of the console's API depends on: the console facade, the caller's session
(with the CSRF check on writes) and the conversation a path names.

``build_api`` binds one ``ApiContext`` to its router (a router-level dependency, which FastAPI
solves before the routes' own), and the routes take it from ``request.state``."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from bot.service.console import Console, Handoff, SessionUser
from bot.service.content_desk import ContentDesk
from bot.web.api.errors import call

COOKIE = "sh_session"
CSRF_HEADER = "x-csrf-token"
BACKGROUND_HEADER = "x-background"  # "1" on the console's automatic refreshes


@dataclass(frozen=True)
class ApiContext:
    """What the routes share: the facades (the desk's, the content studio's), and whether
    cookies are ``Secure``."""

    console: Console
    secure_cookies: bool
    content: ContentDesk | None = None

    async def bind(self, request: Request) -> None:
        request.state.api = self


def context(request: Request) -> ApiContext:
    return request.state.api


def console(request: Request) -> Console:
    return request.state.api.console


async def current(request: Request) -> SessionUser:
    """The caller's live session (401 without one); 403 for a write without the session's CSRF
    token in ``X-CSRF-Token``."""
    seen = request.scope.get("safeharbor.session")  # checked already by ApiGate, before the body was read
    if seen is None:
        # The console marks its automatic refreshes: they must not keep an unattended session alive.
        touch = request.headers.get(BACKGROUND_HEADER) != "1"
        seen = await run_in_threadpool(console(request).session, request.cookies.get(COOKIE), touch)
    if seen is None:
        raise HTTPException(401, "log in first")
    if request.method not in ("GET", "HEAD"):
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), seen.csrf_token.encode()):
            raise HTTPException(403, "missing or wrong CSRF token")
    return seen


async def conversation(handoff_id: str, request: Request, who: SessionUser = Depends(current)) -> tuple[Handoff, SessionUser]:
    """The conversation of the path, with the caller (404 for an unknown or malformed id)."""
    return await call(console(request).get, who, handoff_id), who

"""The console's JSON API under ``/api/`` (described at ``/openapi.json``).

Who may call what:
- anyone: ``POST /api/auth/login``; every other route answers 401 without a live session;
- any advocate or admin: the queue, a conversation's details, claiming, the live events;
- the advocate holding a conversation, or an admin: its messages, notes, transfer, release,
  close; only the holder sends a message to the person;
- admins: the audit trail.
Every state-changing request carries the session's CSRF token in ``X-CSRF-Token`` (403 without).
No response ever holds an address, chat id or pseudonym: conversations are known by their
handoff id and label.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import re
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from bot.handoff import (
    Handoff, HandoffError, HandoffGone, NoSuchAdvocate, NoSuchHandoff, NotAllowed, NotYours, RevealingOpening, TeachesOptOut,
    UnknownListing, WrongStatus,
)
from bot.service import DEFAULT_FLOW, Service
from bot.store.accounts import LoginRefused, SessionUser

log = logging.getLogger("safeharbor.api")

COOKIE = "sh_session"
CSRF_HEADER = "x-csrf-token"
BACKGROUND_HEADER = "x-background"  # "1" on the console's automatic refreshes
HANDOFF_ID = re.compile(r"[0-9a-f]{32}")
MAX_BODY = 16 * 1024
EVENTS_POLL_SECONDS = 0.25  # how often the live stream looks for changes (cross-process: in the database)
EVENTS_HEARTBEAT_SECONDS = 15.0
SESSION_RECHECK_ROUNDS = 8  # every 2 s, a live stream checks that its session still is

# The console's canned replies: locale keys, shown as buttons in the survivor's language.
CANNED = (
    ("hotline", "Share the 24/7 hotline", "canned.hotline"),
    ("safety_plan", "Safety planning", "canned.safety_plan"),
    ("legal_aid", "Legal-aid referral", "canned.legal_aid"),
    ("safe_to_talk", "Is this a good time to chat?", "canned.safe_to_talk"),
)


# The typed refusals of bot.handoff to the HTTP statuses they answer.
STATUS = {
    UnknownListing: 400, NotAllowed: 403, NoSuchHandoff: 404, NoSuchAdvocate: 404, HandoffGone: 409, NotYours: 409,
    WrongStatus: 409, RevealingOpening: 422, TeachesOptOut: 422,
}


class LoginBody(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    otp: str = Field(max_length=12)


class CsrfToken(BaseModel):
    csrf_token: str


class Me(BaseModel):
    email: str
    role: str
    csrf_token: str


class Conversation(BaseModel):
    id: str
    label: str
    language: str
    channel: str
    status: str
    waiting_since: str
    urgent: bool
    holder: str | None = None
    claimed_at: str | None = None
    ended_at: str | None = None


class Canned(BaseModel):
    id: str
    title: str
    text: str


class ConversationDetail(Conversation):
    canned: list[Canned]


class Message(BaseModel):
    id: int
    sender: Literal["person", "bot", "advocate", "note", "system"]
    author: str | None = None
    text: str
    at: str


class TextBody(BaseModel):
    text: str = Field(min_length=1, max_length=1600)


class TransferBody(BaseModel):
    to: str | None = Field(default=None, description="an advocate's email; absent: back to the waiting queue")


class AuditEntry(BaseModel):
    at: str
    actor: str
    action: str
    label: str | None = None


class Advocate(BaseModel):
    email: str
    role: str


def build_api(service: Service, *, secure_cookies: bool) -> APIRouter:
    router = APIRouter(prefix="/api")
    accounts, handoffs = service.accounts, service.handoffs

    async def current(request: Request) -> SessionUser:
        seen = request.scope.get("safeharbor.session")  # checked already by ApiGate, before the body was read
        if seen is None:
            # The console marks its automatic refreshes: they must not keep an unattended session alive.
            touch = request.headers.get(BACKGROUND_HEADER) != "1"
            seen = await run_in_threadpool(accounts.session, request.cookies.get(COOKIE), service.clock(), touch)
        if seen is None:
            raise HTTPException(401, "log in first")
        if request.method not in ("GET", "HEAD"):
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), seen.csrf_token.encode()):
                raise HTTPException(403, "missing or wrong CSRF token")
        return seen

    async def conversation(handoff_id: str, who: SessionUser = Depends(current)) -> tuple[Handoff, SessionUser]:
        if not HANDOFF_ID.fullmatch(handoff_id):
            raise HTTPException(404, "no such conversation")
        handoff = await run_in_threadpool(handoffs.get, handoff_id)
        if handoff is None:
            raise HTTPException(404, "no such conversation")
        return handoff, who

    def holder_or_admin(handoff: Handoff, who: SessionUser) -> None:
        if not (who.user.is_admin or handoff.holder_id == who.user.id):
            raise HTTPException(403, "only the advocate holding this conversation, or an admin")

    async def call(function, *args):
        try:
            return await run_in_threadpool(function, *args)
        except HandoffError as exc:
            raise HTTPException(STATUS[type(exc)], exc.reason) from None

    @router.post("/auth/login", response_model=CsrfToken, responses={401: {}, 429: {}, 503: {}}, tags=["auth"])
    async def login(body: LoginBody, request: Request, response: Response):
        """Email, password and a current TOTP code (each code works once). Sets the session cookie.
        429 with ``Retry-After`` while too many attempts were made for this email or from this
        address (an attempt with the authenticator's next, unused code still goes through);
        503 with ``Retry-After`` when the server is checking as many passwords as it can."""
        # The connecting address, or the one a proxy in SAFEHARBOR_TRUSTED_PROXIES forwarded
        # (uvicorn rewrites it: bot.web.server); never a header a client could set itself.
        client = request.client.host if request.client else ""
        try:
            done = await run_in_threadpool(accounts.login, body.email, body.password, body.otp, service.clock(), client)
        except LoginRefused as refused:
            if refused.busy:
                raise HTTPException(503, "busy; try again in a moment", headers={"Retry-After": "1"}) from None
            if refused.retry_after is not None:
                seconds = str(max(1, math.ceil(refused.retry_after.total_seconds())))
                raise HTTPException(
                    429, "too many attempts; try again later, or now with the next code of your authenticator app",
                    headers={"Retry-After": seconds},
                ) from None
            raise HTTPException(401, "wrong email, password or code") from None
        response.set_cookie(
            COOKIE, done.token, httponly=True, secure=secure_cookies, samesite="strict", path="/",
            max_age=int(accounts.absolute.total_seconds()),
        )
        await run_in_threadpool(handoffs.audit, done.user.email, "logged_in", None, service.clock())
        return {"csrf_token": done.csrf_token}

    @router.post("/auth/logout", status_code=204, tags=["auth"])
    async def logout(request: Request, response: Response, who: SessionUser = Depends(current)):
        await run_in_threadpool(accounts.logout, request.cookies.get(COOKIE))
        response.delete_cookie(COOKIE, path="/", secure=secure_cookies, httponly=True, samesite="strict")
        response.status_code = 204
        return response

    @router.get("/me", response_model=Me, tags=["auth"])
    async def me(who: SessionUser = Depends(current)):
        """Who is logged in, and the CSRF token of the session (the page reads it after a reload)."""
        return {"email": who.user.email, "role": who.user.role, "csrf_token": who.csrf_token}

    @router.get("/conversations", response_model=list[Conversation], tags=["conversations"])
    async def conversations(status: Literal["waiting", "mine", "open"] = Query("waiting"), who: SessionUser = Depends(current)):
        """``waiting``: the queue, urgent first, then longest waiting. ``mine``: held by me (and
        mine the person left). ``open``: every held conversation."""
        found = await call(handoffs.listing, status, who.user.id)
        return [h.public() for h in found]

    @router.get("/conversations/{handoff_id}", response_model=ConversationDetail, tags=["conversations"])
    async def detail(found=Depends(conversation)):
        """A conversation's queue entry and the canned replies in the person's language."""
        handoff, _who = found
        flow_vars = service.content.engines[DEFAULT_FLOW].flow.vars
        canned = [
            {"id": cid, "title": title, "text": service.content.catalog.text(key, handoff.language, **flow_vars)}
            for cid, title, key in CANNED
        ]
        return {**handoff.public(), "canned": canned}

    @router.post("/conversations/{handoff_id}/claim", response_model=Conversation, responses={409: {}}, tags=["conversations"])
    async def claim(found=Depends(conversation)):
        """Take a waiting conversation (409 when another advocate holds it)."""
        handoff, who = found
        taken = await call(service.claim_handoff, handoff.id, who.user.id, who.user.email)
        return taken.public()

    @router.get("/conversations/{handoff_id}/messages", response_model=list[Message], tags=["conversations"])
    async def messages(found=Depends(conversation)):
        """The transcript since escalation, with notes (holder or admin; audited as viewed)."""
        handoff, who = found
        holder_or_admin(handoff, who)
        return await call(handoffs.transcript, handoff, who.user.email, service.clock())

    @router.post("/conversations/{handoff_id}/messages", status_code=202, responses={409: {}}, tags=["conversations"])
    async def send(body: TextBody, found=Depends(conversation)):
        """Send ``text`` to the person through their own channel (holder only): ``queued`` when
        they chose to be written to, else ``held`` until they write again (``pending``)."""
        handoff, who = found
        if handoff.holder_id != who.user.id:
            raise HTTPException(403, "only the advocate holding this conversation can answer")
        if handoff.status != "held":
            raise HTTPException(409, "the person has left" if handoff.status == "left" else f"this conversation is {handoff.status}")
        await call(service.answer, handoff, body.text, who.user.id, who.user.email)
        return {"queued": handoff.may_write, "pending": not handoff.may_write}

    @router.post("/conversations/{handoff_id}/notes", status_code=201, responses={409: {}}, tags=["conversations"])
    async def note(body: TextBody, found=Depends(conversation)):
        """An internal note, encrypted, never sent (holder or admin)."""
        handoff, who = found
        holder_or_admin(handoff, who)
        await call(handoffs.add, handoff.id, "note", body.text, who.user.id, who.user.email, service.clock())
        return {"saved": True}

    @router.post("/conversations/{handoff_id}/transfer", response_model=Conversation, responses={409: {}}, tags=["conversations"])
    async def transfer(body: TransferBody, found=Depends(conversation)):
        """To another advocate, or back to the waiting queue (holder or admin)."""
        handoff, who = found
        holder_or_admin(handoff, who)
        target = None
        if body.to:
            user = await run_in_threadpool(_find_user, body.to)
            if user is None or user.disabled:
                raise HTTPException(404, "no such advocate")
            target = user.id
        by = None if who.user.is_admin else who.user.id
        moved = await call(handoffs.transfer, handoff, target, who.user.email, service.clock(), by)
        return moved.public()

    def _find_user(email: str):
        try:
            return accounts.find(email)
        except Exception:  # noqa: BLE001 - a malformed email is simply not an advocate
            return None

    @router.post("/conversations/{handoff_id}/release", status_code=204, tags=["conversations"])
    async def release(found=Depends(conversation)):
        """Hand the conversation back to the bot: the person is told, and gets the menu."""
        handoff, who = found
        holder_or_admin(handoff, who)
        await call(service.end_handoff, handoff, "release", who.user.email, None if who.user.is_admin else who.user.id)
        return Response(status_code=204)

    @router.post("/conversations/{handoff_id}/close", status_code=204, tags=["conversations"])
    async def close(found=Depends(conversation)):
        """End it; the transcript is shredded after the retention time."""
        handoff, who = found
        holder_or_admin(handoff, who)
        await call(service.end_handoff, handoff, "close", who.user.email, None if who.user.is_admin else who.user.id)
        return Response(status_code=204)

    @router.get("/advocates", response_model=list[Advocate], tags=["conversations"])
    async def advocates(who: SessionUser = Depends(current)):
        """Who a conversation can be transferred to."""
        people = await run_in_threadpool(accounts.all)
        return [{"email": u.email, "role": u.role} for u in people if not u.disabled]

    @router.get("/events", tags=["conversations"], response_class=StreamingResponse)
    async def events(request: Request, who: SessionUser = Depends(current)):
        """Server-sent events: ``change`` whenever the queue or a transcript changed (then fetch
        what you show); a comment line every 15 s keeps proxies from closing the stream."""

        token = request.cookies.get(COOKIE)

        async def stream() -> AsyncIterator[bytes]:
            last, quiet, rounds = None, 0.0, 0
            yield b"retry: 1000\n\n"
            while not await request.is_disconnected():
                rounds += 1
                if rounds % SESSION_RECHECK_ROUNDS == 0:
                    # The session may have ended (logout, timeout, disabled): then so does the stream.
                    if await run_in_threadpool(accounts.session, token, service.clock(), False) is None:
                        return
                try:
                    now = await run_in_threadpool(handoffs.changes)
                except Exception as exc:  # noqa: BLE001 - the database may come back
                    log.error("live events: %s", type(exc).__name__)
                    now = last
                if now != last:
                    last, quiet = now, 0.0
                    yield f"event: change\ndata: {json.dumps({'at': str(now[1])})}\n\n".encode()
                elif quiet >= EVENTS_HEARTBEAT_SECONDS:
                    quiet = 0.0
                    yield b": still here\n\n"
                await asyncio.sleep(EVENTS_POLL_SECONDS)
                quiet += EVENTS_POLL_SECONDS

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})

    @router.get("/audit", response_model=list[AuditEntry], tags=["admin"])
    async def audit(who: SessionUser = Depends(current)):
        """Who claimed, viewed, answered, noted, transferred, released or closed which label, and
        when (newest first). Never message text. Admins only."""
        if not who.user.is_admin:
            raise HTTPException(403, "admins only")
        return await run_in_threadpool(handoffs.audit_trail)

    return router


class ApiGate:
    """In front of ``/api/`` (pure ASGI): a request without a live session gets 401 before its
    body is read or parsed (an anonymous caller gets 401, never a 422 that parsed what they
    sent), and a body over ``MAX_BODY`` gets 413. Login is the one route open to anyone."""

    def __init__(self, app, service: Service):
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/api/") or self.service.accounts is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        declared = request.headers.get("content-length")
        if declared and (not declared.isdigit() or int(declared) > MAX_BODY):
            await _plain(send, 413, "request too large")
            return
        if scope["path"] != "/api/auth/login":
            touch = request.headers.get(BACKGROUND_HEADER) != "1"
            seen = await run_in_threadpool(self.service.accounts.session, request.cookies.get(COOKIE), self.service.clock(), touch)
            if seen is None:
                await _plain(send, 401, "log in first")
                return
            scope["safeharbor.session"] = seen
        await self.app(scope, receive, send)


async def _plain(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

"""``/api/conversations...``, ``/api/advocates``, ``/api/events``: the queue, one conversation,
and what advocates do with it. Who may do what is the facade's (``bot.service.console``); here are the
HTTP shapes."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from bot.service.console import Console, SessionUser
from bot.web.api.deps import COOKIE, console, conversation, current
from bot.web.api.errors import call
from bot.web.api.models import Advocate, Conversation, ConversationDetail, Message, TextBody, TransferBody

log = logging.getLogger("safeharbor.api")

EVENTS_POLL_SECONDS = 0.25  # how often the live stream looks for changes (cross-process: in the database)
EVENTS_HEARTBEAT_SECONDS = 15.0
SESSION_RECHECK_ROUNDS = 8  # every 2 s, a live stream checks that its session still is

router = APIRouter()


@router.get("/conversations", response_model=list[Conversation], tags=["conversations"])
async def conversations(
    status: Literal["waiting", "mine", "open"] = Query("waiting"), who: SessionUser = Depends(current),
    facade: Console = Depends(console),
):
    """``waiting``: the queue, urgent first, then longest waiting. ``mine``: held by me (and
    mine the person left). ``open``: every held conversation."""
    found = await call(facade.listing, who, status)
    return [h.public() for h in found]


@router.get("/conversations/{handoff_id}", response_model=ConversationDetail, tags=["conversations"])
async def detail(found=Depends(conversation), facade: Console = Depends(console)):
    """A conversation's queue entry and the canned replies in the person's language."""
    handoff, who = found
    return {**handoff.public(), "canned": facade.canned(who, handoff)}


@router.post("/conversations/{handoff_id}/claim", response_model=Conversation, responses={409: {}}, tags=["conversations"])
async def claim(found=Depends(conversation), facade: Console = Depends(console)):
    """Take a waiting conversation (409 when another advocate holds it)."""
    handoff, who = found
    taken = await call(facade.claim, who, handoff)
    return taken.public()


@router.get("/conversations/{handoff_id}/messages", response_model=list[Message], tags=["conversations"])
async def messages(found=Depends(conversation), facade: Console = Depends(console)):
    """The transcript since escalation, with notes (holder or admin; audited as viewed)."""
    handoff, who = found
    return await call(facade.transcript, who, handoff)


@router.post("/conversations/{handoff_id}/messages", status_code=202, responses={409: {}}, tags=["conversations"])
async def send(body: TextBody, found=Depends(conversation), facade: Console = Depends(console)):
    """Send ``text`` to the person through their own channel (holder only): ``queued`` when
    they chose to be written to, else ``held`` until they write again (``pending``)."""
    handoff, who = found
    now = await call(facade.answer, who, handoff, body.text)
    return {"queued": now, "pending": not now}


@router.post("/conversations/{handoff_id}/notes", status_code=201, responses={409: {}}, tags=["conversations"])
async def note(body: TextBody, found=Depends(conversation), facade: Console = Depends(console)):
    """An internal note, encrypted, never sent (holder or admin)."""
    handoff, who = found
    await call(facade.note, who, handoff, body.text)
    return {"saved": True}


@router.post("/conversations/{handoff_id}/transfer", response_model=Conversation, responses={409: {}}, tags=["conversations"])
async def transfer(body: TransferBody, found=Depends(conversation), facade: Console = Depends(console)):
    """To another advocate, or back to the waiting queue (holder or admin)."""
    handoff, who = found
    moved = await call(facade.transfer, who, handoff, body.to)
    return moved.public()


@router.post("/conversations/{handoff_id}/release", status_code=204, tags=["conversations"])
async def release(found=Depends(conversation), facade: Console = Depends(console)):
    """Hand the conversation back to the bot: the person is told, and gets the menu."""
    handoff, who = found
    await call(facade.release, who, handoff)
    return Response(status_code=204)


@router.post("/conversations/{handoff_id}/close", status_code=204, tags=["conversations"])
async def close(found=Depends(conversation), facade: Console = Depends(console)):
    """End it; the transcript is shredded after the retention time."""
    handoff, who = found
    await call(facade.close, who, handoff)
    return Response(status_code=204)


@router.get("/advocates", response_model=list[Advocate], tags=["conversations"])
async def advocates(who: SessionUser = Depends(current), facade: Console = Depends(console)):
    """Who a conversation can be transferred to (advocates and admins, never a translator)."""
    return await call(facade.advocates, who)


@router.get("/events", tags=["conversations"], response_class=StreamingResponse)
async def events(request: Request, who: SessionUser = Depends(current), facade: Console = Depends(console)):
    """Server-sent events: ``change`` whenever the queue or a transcript changed (then fetch
    what you show); a comment line every 15 s keeps proxies from closing the stream.
    Advocates and admins only (403 for a translator)."""
    await call(facade.desk, who)
    token = request.cookies.get(COOKIE)

    async def stream() -> AsyncIterator[bytes]:
        last, quiet, rounds = None, 0.0, 0
        yield b"retry: 1000\n\n"
        while not await request.is_disconnected():
            rounds += 1
            if rounds % SESSION_RECHECK_ROUNDS == 0:
                # The session may have ended (logout, timeout, disabled), or its user become a
                # translator: then so does the stream.
                seen = await run_in_threadpool(facade.session, token, False)
                if seen is None or not seen.user.uses_desk:
                    return
            try:
                now = await run_in_threadpool(facade.changes)
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

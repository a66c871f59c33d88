"""The console's JSON API under ``/api/`` (described at ``/openapi.json``), one router per area.

Who may call what (checked by the console facade, ``bot.service.console``):
- anyone: ``POST /api/auth/login``; every other route answers 401 without a live session;
- any advocate or admin: the queue, a conversation's details, claiming, the live events
  (a translator: none of the desk, 403);
- the advocate holding a conversation, or an admin: its messages, notes, transfer, release,
  close; only the holder sends a message to the person;
- admins: the audit trail, the console's people (``/api/users``); the content studio
  (``/api/content``): revisions, checks, drafts, publish, rollback; translators: the studio's
  reading, and drafts of their own languages.
Every state-changing request carries the session's CSRF token in ``X-CSRF-Token`` (403 without).
No response ever holds an address, chat id or pseudonym: conversations are known by their
handoff id and label.

    auth           login, logout, me
    conversations  the queue, a conversation and its moves, advocates, live events
    admin          the audit trail
    content        the content studio: revisions, diffs, checks, drafts, publish, rollback
    users          the console's people: list, add, disable, enable, reset 2FA, role
    deps           the facade, the session and CSRF check, the conversation of a path
    errors         the facade's typed refusals to HTTP statuses (the only such mapping)
    gate           ApiGate: 401 and 413 before a body is read
    models         the JSON bodies

A new screen: a router module (or a route in one of these), a ``Console`` method, a row in the
access matrix test. The web layer imports ``bot.service.console`` (the service's console facade), the
service and the domain, never the records or the store.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from bot.service.console import Console
from bot.service import Service
from bot.service.content_desk import ContentDesk
from bot.web.api import admin, auth, content, conversations, users
from bot.web.api.deps import ApiContext
from bot.web.api.gate import MAX_BODY, ApiGate

__all__ = ["MAX_BODY", "ApiGate", "build_api"]


def build_api(service: Service, *, secure_cookies: bool) -> APIRouter:
    """Every route of the console's API, under ``/api``, over one ``Console`` of ``service``."""
    studio = ContentDesk(service)
    bound = ApiContext(Console(service), secure_cookies, studio)
    router = APIRouter(prefix="/api", dependencies=[Depends(bound.bind)])
    areas = (auth, conversations, admin, users, content) if studio.enabled else (auth, conversations, admin, users)
    for area in areas:
        router.include_router(area.router)
    return router

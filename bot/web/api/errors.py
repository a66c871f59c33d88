"""The one place a refusal becomes an HTTP status: the typed errors of ``bot.handoff`` (raised by
the console facade and the service; imported through ``bot.service.console``) and of the content
studio (``bot.service.content_desk``) to the status and detail the console's API answers."""

from __future__ import annotations

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from bot.service.console import (
    AccountConflict, HandoffError, HandoffGone, InvalidAccount, NoSuchAdvocate, NoSuchHandoff, NoSuchUser, NotAllowed, NotYours,
    RevealingOpening, TeachesOptOut, UnknownListing, WrongStatus,
)
from bot.service.content_desk import BundleError, Conflict, EditError, NoSuchRevision, NotRunnable, Refused

STATUS: dict[type[HandoffError], int] = {
    UnknownListing: 400,
    NotAllowed: 403,
    NoSuchHandoff: 404,
    NoSuchAdvocate: 404,
    NoSuchUser: 404,
    AccountConflict: 409,
    InvalidAccount: 422,
    HandoffGone: 409,
    NotYours: 409,
    WrongStatus: 409,
    RevealingOpening: 422,
    TeachesOptOut: 422,
}


def http_error(error: HandoffError) -> HTTPException:
    """The HTTP answer to ``error``: its status by type (the nearest listed base class), its
    reason as the detail. An unlisted type is a programming error: 500, said plainly."""
    for kind in type(error).__mro__:
        if kind in STATUS:
            return HTTPException(STATUS[kind], error.reason)
    return HTTPException(500, "internal server error")


def _problems(problems) -> list[dict]:
    return [{"where": p.where, "what": p.what, "severity": p.severity} for p in problems]


def content_error(error: Exception) -> HTTPException:
    """A content studio's refusal: 409 for a conflict (who changed which files since the
    editor's revision), 422 for a refused publish or a bad bundle (the ``file: path: problem``
    list), 404 for an unknown revision."""
    if isinstance(error, Conflict):
        return HTTPException(409, {
            "message": str(error), "base": error.base, "head": error.head.summary(), "files": error.files,
            "since": [r.summary() for r in error.since],
        })
    if isinstance(error, Refused):
        return HTTPException(422, {"message": "refused: the revision has errors; nothing was published", "problems": _problems(error.problems)})
    if isinstance(error, EditError):
        return HTTPException(422, {"message": str(error), "edit": error.edit})
    if isinstance(error, NotRunnable):
        return HTTPException(422, {"message": str(error), "problems": _problems(error.problems)})
    if isinstance(error, BundleError):
        return HTTPException(422, {"message": "not a content bundle", "problems": _problems(error.problems)})
    return HTTPException(404, str(error))


async def call(function, *args):
    """``function(*args)`` in a thread, its refusals answered as HTTP errors."""
    try:
        return await run_in_threadpool(function, *args)
    except HandoffError as error:
        raise http_error(error) from None
    except (Conflict, Refused, BundleError, EditError, NoSuchRevision, NotRunnable) as error:
        raise content_error(error) from None

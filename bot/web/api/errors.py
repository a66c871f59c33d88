"""The one place a refusal becomes an HTTP status: the typed errors of ``bot.handoff`` (raised by
the console facade and the service; imported through ``bot.service.console``) to the status and detail
the console's API answers."""

from __future__ import annotations

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from bot.service.console import (
    AccountConflict, HandoffError, HandoffGone, InvalidAccount, NoSuchAdvocate, NoSuchHandoff, NoSuchUser, NotAllowed, NotYours,
    RevealingOpening, TeachesOptOut, UnknownListing, WrongStatus,
)

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


async def call(function, *args):
    """``function(*args)`` in a thread, its refusals answered as HTTP errors."""
    try:
        return await run_in_threadpool(function, *args)
    except HandoffError as error:
        raise http_error(error) from None

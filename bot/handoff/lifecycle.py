"""The handoff lifecycle as data: its statuses, which move leads from which to which, and the
typed refusals of the advocates' calls.

    waiting --claim--> held --release--> released (the bot answers again)
       ^                 |--close-----> closed   (transcript shredded after the retention time)
       '----requeue------|--transfer--> held     (another advocate)
    waiting or held --person_left--> left (key, address, transcript gone: the quick exit)

The statuses are stored as their string values (``Status`` is a ``StrEnum``, so a row's text
compares equal to its member). ``allowed(column, move)`` is the SQL condition a statement
checks, so the table below is the one place a transition is written down.

The refusals say what went wrong, never which HTTP status it is: the console's API maps them
(``bot.web.api.errors``). Every one carries a ``reason`` an advocate can read; none holds
anything of the person.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import or_
from sqlalchemy.sql import ColumnElement


class Status(StrEnum):
    WAITING = "waiting"
    HELD = "held"
    RELEASED = "released"
    CLOSED = "closed"
    LEFT = "left"


# A handoff that keeps its conversation (it does not expire, the bot stays quiet while held).
ACTIVE = frozenset({Status.WAITING, Status.HELD})

# move -> (the statuses it may start from, the status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[Status], Status]] = {
    "claim": (frozenset({Status.WAITING}), Status.HELD),
    "transfer": (frozenset({Status.HELD}), Status.HELD),
    "requeue": (frozenset({Status.HELD}), Status.WAITING),
    "release": (ACTIVE, Status.RELEASED),
    "close": (frozenset(Status) - {Status.CLOSED}, Status.CLOSED),
    "person_left": (ACTIVE, Status.LEFT),
}


def target(move: str) -> Status:
    """The status ``move`` leads to."""
    return TRANSITIONS[move][1]


def allowed(column, move: str) -> ColumnElement[bool]:
    """The SQL condition that ``column`` (a handoff's status) is one ``move`` may start from.
    Written as ``a = x OR a = y`` (in the order ``Status`` declares them), the form the statements always had: a
    prepared statement takes no expanding ``IN`` list."""
    return _any_of(column, TRANSITIONS[move][0])


def is_active(column) -> ColumnElement[bool]:
    """The SQL condition that a handoff is waiting or held (``ACTIVE``)."""
    return _any_of(column, ACTIVE)


def _any_of(column, statuses: frozenset[Status]) -> ColumnElement[bool]:
    return or_(*(column == status.value for status in Status if status in statuses))


class HandoffError(Exception):
    """A console action that cannot be done; ``reason`` says why, for the advocate."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class NoSuchHandoff(HandoffError):
    """No conversation by that id (or not one this caller may know of)."""


class NoSuchAdvocate(HandoffError):
    """No advocate by that email to transfer to (or a disabled one)."""


class HandoffGone(HandoffError):
    """The person left (their quick exit): nothing can reach them, nothing of them is kept."""


class NotYours(HandoffError):
    """Another advocate holds it, or it was moved away from the caller in between."""


class WrongStatus(HandoffError):
    """The conversation is not in a status the action may start from (released, closed...)."""


class NotAllowed(HandoffError):
    """The caller's role or place may not do this (only the holder, or only an admin)."""


class RevealingOpening(HandoffError):
    """A reply whose opening would show revealing words on a lock screen (DESIGN rule 2)."""


class TeachesOptOut(HandoffError):
    """A reply naming a carrier opt-out word (DESIGN rule 4)."""


class UnknownListing(HandoffError):
    """A queue listing other than ``waiting``, ``mine`` or ``open``."""

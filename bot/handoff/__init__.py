"""Handing a chat to a person: the escalation lifecycle (DESIGN module ``handoff``).

    waiting --claim--> held --release--> released (the bot answers again)
       |                 |--close-----> closed   (transcript shredded after the retention time)
       '--- the person's quick exit, from either: left (key, address, transcript gone)

``lifecycle`` has the statuses, the moves between them as data and the typed refusals;
``records`` keeps the rows, sealed (``HandoffRecords``: the person's side in ``person``, the
advocates' in ``desk``, the console's reads in ``listing``, the cursor's SQL in ``statements``,
the rows' shapes in ``rows``); ``hours`` the office hours; ``labels`` the names the queue
shows. The service (``bot.service``) drives it from the person's turns and the console's calls.
"""

from bot.handoff.hours import OfficeHours, ScheduleError
from bot.handoff.labels import new_label
from bot.handoff.lifecycle import (
    ACTIVE, TRANSITIONS, HandoffError, HandoffGone, NoSuchAdvocate, NoSuchHandoff, NotAllowed, NotYours, RevealingOpening, Status,
    TeachesOptOut, UnknownListing, WrongStatus,
)
from bot.handoff.records import LEFT_SHOWN_FOR, Active, Handoff, HandoffRecords

__all__ = [
    "ACTIVE", "LEFT_SHOWN_FOR", "TRANSITIONS", "Active", "Handoff", "HandoffError", "HandoffGone", "HandoffRecords",
    "NoSuchAdvocate", "NoSuchHandoff", "NotAllowed", "NotYours", "OfficeHours", "RevealingOpening", "ScheduleError", "Status", "TeachesOptOut",
    "UnknownListing", "WrongStatus", "new_label",
]

"""Handing a chat to a person: the escalation lifecycle (DESIGN module ``handoff``).

    waiting --claim--> held --release--> released (the bot answers again)
       |                 |--close-----> closed   (transcript shredded after the retention time)
       '--- the person's quick exit, from either: left (key, address, transcript gone)

``records`` keeps the rows, sealed; ``hours`` the office hours; ``labels`` the names the queue
shows. The service (``bot.service``) drives it from the person's turns and the console's calls.
"""

from bot.handoff.hours import OfficeHours, ScheduleError
from bot.handoff.labels import new_label
from bot.handoff.records import ACTIVE, Active, Handoff, HandoffError, HandoffRecords

__all__ = ["ACTIVE", "Active", "Handoff", "HandoffError", "HandoffRecords", "OfficeHours", "ScheduleError", "new_label"]

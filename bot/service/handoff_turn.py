"""The handoff side of a turn, in the turn's transaction (``bot.service.turn`` calls it).

``before`` the engine runs: the open handoff, read from its table only when the session had one
at its last turn (a handoff opens in the person's own turn, so most turns skip the read; the
table is the truth: an advocate may have claimed, released or closed it since), and whether lines
wait for this person. ``after``: open a handoff when the person asked (telling them the wait, or
the 24/7 line out of hours), keep the transcript while one is open, and deliver what waited.
``held_back``: a message over the person's limit inside a handoff.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from bot.config import HandoffSettings
from bot.domain.events import ConversationExpired, EmergencyDetected, HandoffRequested, LinesDelivered
from bot.domain.messages import Inbound, InboundKind, Outbound, render_plain, with_appended
from bot.engine import Turn
from bot.handoff import Active, OfficeHours, Status, new_label
from bot.content import DEFAULT_FLOW, LiveContent
from bot.service.limits import Limits, not_kept
from bot.service.notices import Notices
from bot.service.wiring import Records

log = logging.getLogger("safeharbor.service")


@dataclass(frozen=True)
class Before:
    """What the handoff side knows before the engine runs. ``session``: the one to resume, its
    ``handoff`` as the table says now. ``waiting``: lines may wait for this person (they chose to
    check back rather than be written to, or an advocate handed the chat back since they last
    wrote). ``away``: silent longer than a handoff is kept open for (an advocate's notes keep it
    open, not the person): whoever writes now may not be them, and what waited is dropped unseen."""

    session: object
    active: Active | None
    waiting: bool
    away: bool


class HandoffSide:
    def __init__(
        self, content: LiveContent, records: Records, limits: Limits, notices: Notices, settings: HandoffSettings, office_hours: OfficeHours,
    ):
        self.content = content
        self.handoffs = records.handoffs
        self.limits = limits
        self.notices = notices
        self.settings = settings
        self.office_hours = office_hours

    def active(self, held) -> Active | None:
        """The open handoff of ``held``'s conversation, if its session had one at its last turn."""
        session = held.session
        return self.handoffs.active(held.cursor, held.id) if session is not None and session.handoff is not None else None

    def before(self, held, now: datetime) -> Before:
        session = held.session
        active = None
        if session is not None and session.handoff is not None:
            active = self.handoffs.active(held.cursor, held.id)
            session = replace(session, handoff=active.status if active else None)
        waiting = session is not None and (session.handed_back or (active is not None and not active.may_write))
        away = waiting and now.timestamp() - session.last_active > self.settings.abandon_hours * 3600
        return Before(session, active, waiting, away)

    def after(self, held, inbound: Inbound, turn: Turn, before: Before, now: datetime) -> Turn:
        """The turn (kept, with a new session) with the handoff side done: its ``session.handoff``
        is the handoff open after it (the caller saves the session again when that changed)."""
        turn, active = self._open_or_keep(held, inbound, turn, None if turn.restarted else before.active, now)
        if before.waiting and not turn.restarted and not any(isinstance(e, ConversationExpired) for e in turn.events):
            turn = self._with_waiting_lines(held, turn, drop=before.away)
        status = active.status if active else None
        if turn.session.handoff != status:  # a handoff opened in this turn: remember it
            turn = Turn(replace(turn.session, handoff=status), turn.outputs, turn.events)
        return turn

    def held_back(self, held, active: Active, inbound: Inbound, tell: bool, language: str, now: datetime) -> tuple[Outbound, ...]:
        """A message over the person's limit, inside handoff ``active``: the line still goes to
        the advocate's transcript (within its caps), and the first one of the minute (``tell``)
        is told to wait, unless an advocate holds the chat (what they write is read)."""
        kept = bool(inbound.text) and self.limits.keep_person_line(held.cursor, active, inbound.text, [], now)
        outputs: tuple[Outbound, ...] = ()
        if tell and active.status != Status.HELD:
            outputs = (Outbound(self.content.text("limits.slow_down_kept" if kept else "limits.slow_down", language)),)
        if tell and inbound.text and not kept:
            outputs = self._not_kept(outputs, language)  # said once a minute here: the rest of it costs no reply
        if kept and outputs:
            self.handoffs.record_lines(held.cursor, active, [("bot", render_plain(output)) for output in outputs], now)
        return outputs

    def _open_or_keep(self, held, inbound: Inbound, turn: Turn, active: Active | None, now: datetime) -> tuple[Turn, Active | None]:
        """Open a handoff when the person asked, and while one is open keep the transcript.
        Returns the turn (with any added text) and the handoff open after it."""
        request = next((e for e in turn.events if isinstance(e, HandoffRequested)), None)
        if request is not None and active is None:
            return self._open(held, inbound, turn, request, now)
        if active is None:
            return turn, None
        extra = self.content.text("handoff.already_waiting", turn.session.language) if request is not None else None
        if any(isinstance(e, EmergencyDetected) for e in turn.events):
            self.handoffs.mark_urgent(held.cursor, active, now)
        return self._with_extra(turn, extra, active, held, inbound, now), active

    def _open(self, held, inbound: Inbound, turn: Turn, request: HandoffRequested, now: datetime) -> tuple[Turn, Active | None]:
        language, urgent = turn.session.language, request.urgent
        if not self.limits.may_open(held.cursor, urgent):
            # The queue is full (SAFEHARBOR_LIMIT_WAITING_HANDOFFS): not added, and told so
            # with the 24/7 line in place of "you asked to talk with a person".
            log.warning("the advocates' queue is full: a%s request got the 24/7 line instead", "n urgent" if urgent else "")
            *rest, last = turn.outputs
            full = Outbound(self.content.text("handoff.full", language), last.choices, last.offer)
            return Turn(turn.session, (*rest, full), turn.events), None
        active = self.handoffs.open(
            held.cursor, held.id, inbound.channel.value, language, inbound.address, urgent, now, new_label(), request.may_write,
            noticed=not self.notices.chat,
        )
        key = "handoff.waiting" if self.office_hours.open_at(now) else "handoff.after_hours"
        extra = self.content.text(key, language, minutes=self.settings.wait_minutes)
        log.info("a chat is waiting for an advocate%s", " (urgent)" if urgent else "")
        self.notices.notify(held.cursor, now)
        self.handoffs.record(held.cursor, active, "system", "The person asked to talk with someone." + (" Urgent." if urgent else "") + (
            " They may be written to here." if request.may_write else " They will check back: what you write waits for their next message."
        ), now)
        return self._with_extra(turn, extra, active, held, inbound, now), active

    def _with_waiting_lines(self, held, turn: Turn, drop: bool = False) -> Turn:
        """The turn's outputs with the lines that waited for this message, oldest first, each a
        message of its own as it was written (they are in the transcript already): before the
        answer, or after it when the answer is crisis or emergency guidance (DESIGN rule 5: it
        comes first). Not after an expiry or a restart (the caller), and ``drop``ped unseen after
        the person was away too long: the phone may be in other hands (DESIGN rule 8)."""
        lines = self.handoffs.take_pending(held.cursor, held.id)
        if not lines or drop:
            return turn
        waited = tuple(Outbound(line) for line in lines)
        urgent = any(isinstance(e, EmergencyDetected) for e in turn.events)
        outputs = (*turn.outputs, *waited) if urgent else (*waited, *turn.outputs)
        return Turn(turn.session, outputs, (*turn.events, LinesDelivered(len(waited))))

    def _with_extra(self, turn: Turn, extra: str | None, active: Active, held, inbound: Inbound, now: datetime) -> Turn:
        """The turn's outputs with ``extra`` added, and the exchange kept in the transcript."""
        outputs = with_appended(turn.outputs, extra) if extra else turn.outputs
        lines = []
        if inbound.kind is InboundKind.MEDIA:
            lines.append(("system", "The person sent a photo, file or voice message (not kept)."))
        replies = [("bot", render_plain(output)) for output in outputs]
        if inbound.text:  # within the transcript's caps, or not kept and the person told
            self.handoffs.record_lines(held.cursor, active, lines, now)
            if not self.limits.keep_person_line(held.cursor, active, inbound.text, replies, now):
                outputs = self._not_kept(outputs, turn.session.language)
        else:
            self.handoffs.record_lines(held.cursor, active, lines + replies, now)
        return Turn(turn.session, outputs, turn.events)

    def _not_kept(self, outputs: tuple, language: str) -> tuple:
        """``outputs`` telling the person that their line no longer fit the transcript."""
        noted = self.content.text(self.content.engines[DEFAULT_FLOW].flow.noted, language)
        return not_kept(outputs, self.content.text("handoff.transcript_full", language), noted)

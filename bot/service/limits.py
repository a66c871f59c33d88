"""Abuse and cost limits, the service's side: which deliveries get a full turn, and what the
others get. Called by ``bot.service`` inside the turn's locked transaction; the counters shared by
every process are in ``bot.store.limits``.

- **New conversations per clock minute** (``SAFEHARBOR_LIMIT_NEW_CONVERSATIONS_PER_MINUTE``), a
  count in the database taken in the turn's own transaction: past it, a new number gets one short
  static answer (the 24/7 line, and to write again in a few minutes) and nothing is kept of it.
- **Messages per person per clock minute** (``SAFEHARBOR_LIMIT_MESSAGES_PER_PERSON_PER_MINUTE``),
  counted in the person's own sealed state (``channel_state["pace"]``: the minute, a count, whether
  they were told), so no plaintext row says how much anyone writes. Past it the message gets no
  turn; the first one of the minute is answered "wait a moment" (or, in a handoff, "what you
  write is kept for the person who answers"), the rest nothing, since they were told. Inside a
  handoff every line is still kept for the advocate (within the transcript's caps): nothing
  they sent is lost silently.
- Whatever the limits, the quick exit and crisis words (``Engine.answers_first``) get their full
  turn, and carrier opt-out words are handled before any limit.
- **Waiting chats** (``SAFEHARBOR_LIMIT_WAITING_HANDOFFS``, urgent ones counted apart), the
  **transcript** of one handoff (``SAFEHARBOR_LIMIT_TRANSCRIPT_*``: the person's lines and bytes),
  and **notices** to the advocates' group (``SAFEHARBOR_LIMIT_NOTICES_PER_MINUTE``: the chats past
  it are named together in the next one): ``may_open``, ``keep_person_line``, ``notice``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.config import LimitSettings
from bot.domain.events import HeldBack
from bot.domain.messages import Inbound, Outbound, with_appended
from bot.handoff import Active, HandoffRecords
from bot.store.limits import WINDOW_SECONDS, Windows, window_start

NEW_CONVERSATIONS = "new_conversations"
NOTICES = "notices"
PACE = "pace"  # the key of the person's counter in their sealed channel state
NAMED_IN_A_NOTICE = 5  # labels a grouped notice names; the rest are counted


@dataclass(frozen=True)
class Limits:
    """The configured limits, and the records they count (``windows`` and ``handoffs``: None
    without the SQL store, which then limits nothing). Every method runs in the caller's
    transaction (``cursor``: the turn's, or the worker's for a grouped notice)."""

    settings: LimitSettings
    windows: Windows | None
    handoffs: HandoffRecords | None = None

    def may_open(self, cursor, urgent: bool) -> bool:
        """Whether a request for a person may join the queue (fewer are waiting than the cap)."""
        return self.handoffs.may_open(cursor, urgent, self.settings.waiting_handoffs)

    def keep_person_line(self, cursor, active: Active, text: str, lines: list[tuple[str, str]], now: datetime) -> bool:
        """Keep the person's ``text`` in the handoff's transcript, ``lines`` (the bot's answer)
        after it, if it fits the caps; else keep neither and tell the advocate, once, that later
        messages are not kept. Returns whether it was kept (if not, the person is to be told)."""
        if active.fits(text, self.settings.transcript_lines, self.settings.transcript_kb * 1024):
            self.handoffs.record_lines(cursor, active, [("person", text), *lines], now)
            return True
        self.handoffs.mark_truncated(cursor, active, now)
        return False

    def notice(self, cursor, now: datetime) -> str | None:
        """The text of a notice to the advocates' group naming every waiting chat it was not
        told of yet (marked told), or None when there is none or this minute's notices are used
        up (those chats wait for the next one)."""
        if not self.windows.take(cursor, NOTICES, self.settings.notices_per_minute, now):
            return None
        waiting = self.handoffs.take_unnoticed(cursor)
        return notice_text(waiting) if waiting else None

    def held_back(self, held, inbound: Inbound, engine, language: str, now: datetime) -> HeldBack | None:
        """Why this delivery gets no full turn, or None when it does. ``held``: the person's
        locked conversation (a new one has no ``id``); ``language``: the one it would be answered
        in. Counts it against the limits when it is admitted."""
        if self.windows is None:
            return None
        if held.id is None:
            if self.windows.take(held.cursor, NEW_CONVERSATIONS, self.settings.new_conversations_per_minute, now):
                count_message(held.channel_state, self.settings.messages_per_person_per_minute, now)  # their first
                return None
            return None if engine.answers_first(inbound, language) else HeldBack(new=True)
        if not count_message(held.channel_state, self.settings.messages_per_person_per_minute, now):
            return None
        if engine.answers_first(inbound, language):
            return None
        return HeldBack(tell=told(held.channel_state))


def count_message(channel_state: dict, limit: int, now: datetime) -> bool:
    """Count one message against the person's ``limit`` per clock minute, in ``channel_state``
    (sealed with their conversation, saved with the turn); returns whether it is over the limit.
    One over it is not counted: nothing is written while someone floods (but see ``told``).

    >>> from datetime import timezone
    >>> state, at = {}, datetime(2026, 11, 26, 12, 0, 5, tzinfo=timezone.utc)
    >>> [count_message(state, 2, at) for _ in range(3)], told(state), told(state)
    ([False, False, True], True, False)
    >>> count_message(state, 2, datetime(2026, 11, 26, 12, 1, tzinfo=timezone.utc))  # a new minute
    False
    """
    minute = window_start(now, WINDOW_SECONDS)
    pace = channel_state.get(PACE)
    if not pace or pace[0] != minute:
        pace = channel_state[PACE] = [minute, 0, 0]
    if pace[1] >= limit:
        return True
    pace[1] += 1
    return False


def told(channel_state: dict) -> bool:
    """Note that the person was told to wait, this minute; returns whether that is new (only
    the first message over the limit is answered). After ``count_message`` said "over"."""
    pace = channel_state[PACE]
    first, pace[2] = not pace[2], 1
    return first


def not_kept(outputs: tuple[Outbound, ...], note: str, noted: str) -> tuple[Outbound, ...]:
    """The turn's ``outputs`` telling the person that what they just wrote was not kept for the
    advocate (the transcript is full): ``noted`` ("the person who answers will read this") would
    then be untrue and gives way to ``note``; any other answer gets ``note`` added, above its
    choices; with no answer at all (an advocate holds the chat), ``note`` alone."""
    if not outputs or not outputs[-1].text.startswith(noted):
        return with_appended(outputs, note)
    *rest, last = outputs
    return (*rest, Outbound(note + last.text[len(noted):], last.choices, last.offer))


def notice_text(waiting: list[tuple[str, bool]]) -> str:
    """What the advocates' group is told of chats that started waiting: labels only, never
    content. One chat: as it always was; several (notices are grouped, a few a minute), the
    urgent ones first, at most ``NAMED_IN_A_NOTICE`` labels and how many more.

    >>> notice_text([("Heron 4821", False)])
    'New chat waiting: Heron 4821'
    >>> notice_text([("Otter 1", False), ("Lynx 2", True), ("Wren 3", False)])
    '3 new chats waiting: Lynx 2, Otter 1, Wren 3 (1 urgent)'
    """
    urgent = sum(1 for _, is_urgent in waiting if is_urgent)
    if len(waiting) == 1:
        return f"New chat waiting: {waiting[0][0]}" + (" (urgent)" if urgent else "")
    labels = [label for label, is_urgent in sorted(waiting, key=lambda item: (not item[1], item[0]))]
    named = ", ".join(labels[:NAMED_IN_A_NOTICE])
    if len(labels) > NAMED_IN_A_NOTICE:
        named += f" and {len(labels) - NAMED_IN_A_NOTICE} more"
    return f"{len(waiting)} new chats waiting: {named}" + (f" ({urgent} urgent)" if urgent else "")

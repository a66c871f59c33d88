"""The handoff desk: what advocates do to a chat handed to them, and what time does to it.

The console's actions (through ``bot.service.console``, which checks who may make them first;
each is checked again here, in the transaction that acts: the row may have changed since):
``claim``, ``answer``, ``end`` (release or close). And the worker's housekeeping: ``remind_waiting``
(the 24/7 line to someone waiting long) and ``close_abandoned``. What reaches the person goes
the way they chose when asking (DESIGN rule 1): sent now through the outbox, or kept for the
reply to their next message (``message_person``). The handoff side of a turn is
``bot.service.handoff_turn``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from bot.config import HandoffSettings
from bot.domain.messages import Outbound, send_payload
from bot.flowdef.inspect import carrier_words_taught, lock_screen_preview, revealing_words
from bot.handoff import Handoff, HandoffError, HandoffGone, NotYours, RevealingOpening, Status, TeachesOptOut
from bot.content import LiveContent
from bot.service.kept import Kept
from bot.service.wiring import Records, Wakeup
from bot.store.outbox import new_message


class HandoffDesk:
    def __init__(
        self, content: LiveContent, records: Records, kept: Kept, settings: HandoffSettings, clock: Callable[[], datetime], wakeup: Wakeup,
    ):
        self.content = content
        self.store = records.store
        self.handoffs = records.handoffs
        self.kept = kept
        self.settings = settings
        self.clock = clock
        self.wakeup = wakeup

    def claim(self, handoff_id: str, user_id: int, actor: str) -> Handoff:
        """Take a waiting chat; the person is told someone is here, once per handoff (by its first
        claim), the way they chose: now, or in the reply to their next message."""
        handoff, tell = self.handoffs.claim(handoff_id, user_id, actor, self.clock())
        if tell:
            text = self.content.text("handoff.joined", handoff.language)
            try:
                self.message_person(handoff, text, "system", None, actor, status=Status.HELD, holder=user_id)
            except HandoffError:
                pass  # the person left, or it was released, in between: nothing to tell
        return handoff

    def answer(self, handoff: Handoff, text: str, user_id: int, actor: str) -> None:
        """An advocate's message, sent through the person's channel by the outbox. Refused (422,
        saying why) when its opening would show revealing words on a lock screen (DESIGN rule 2),
        or when it names a carrier opt-out word anywhere (rule 4: a person who sends it back is
        blocked by the carrier for good, and nobody here would know)."""
        found = revealing_words(lock_screen_preview(text), self.content.catalog.reveal_words(handoff.language))
        if found:
            raise RevealingOpening(
                f"the first words could show on a lock screen and reveal what this is ({', '.join(found)}): "
                "start with a neutral line",
            )
        taught = carrier_words_taught(text)
        if taught:
            raise TeachesOptOut(
                f"{', '.join(w.upper() for w in taught)} is a carrier opt-out word: if the person writes it back, the "
                "carrier blocks this number for good and we never see it. Say it another way (\"you can leave the chat anytime\")",
            )
        self.message_person(handoff, text, "advocate", user_id, actor, status=Status.HELD, holder=user_id)

    def message_person(
        self, handoff: Handoff, text: str, sender: str, user_id: int | None, actor: str, *, status: Status, holder: int | None = None,
    ) -> None:
        """``text`` for the person, kept in the transcript: sent through the outbox if they chose
        to be written to, else waiting for their next message (DESIGN rule 1)."""
        now = self.clock()
        if handoff.conversation_id is None:
            raise HandoffGone("the person has left")
        row = None
        if handoff.may_write:
            address = self.handoffs.address(handoff.id)
            if address is None:
                raise HandoffGone("the person has left")
            # Not an answer to anything the person just wrote: where the channel can, it arrives without a sound.
            payload = send_payload(address, Outbound(text), alphabet=self.content.alphabet(handoff.language), quiet=True)
            row = new_message(self.store.keys, handoff.conversation_id, handoff.channel, "send", payload, now)
        self.handoffs.add(handoff.id, sender, text, user_id, actor, now, send=row, status=status, holder=holder, pending=row is None)
        if row is not None:
            self.wakeup.now()

    def end(self, handoff: Handoff, how: str, actor: str, by: int | None = None, tell_person: bool = True) -> None:
        """``release`` (the bot answers again) or ``close``. ``by``: the holder doing it (None
        for an admin or the system). Nothing is sent: a person still in this handoff gets, in the
        reply to their next message, what waited for them, a note that the bot is back and the menu
        (unless ``tell_person`` is False: then nothing waiting is ever delivered)."""
        now = self.clock()
        pseudonym = self.store.pseudonym_of(handoff.conversation_id) if handoff.conversation_id else None
        if pseudonym is None:
            with self.store.transaction() as cursor:
                if self.handoffs.finish(cursor, handoff.id, how, actor, now, by) is None:
                    raise NotYours("this conversation is no longer yours to end")
            return
        with self.store.conversation(pseudonym, now) as held:
            active = self.handoffs.active(held.cursor, held.id)
            if self.handoffs.finish(held.cursor, handoff.id, how, actor, now, by) is None:
                raise NotYours("this conversation is no longer yours to end")
            # Only if this very handoff was the active one: closing an old, released handoff
            # must not touch a newer request of the same person.
            if not tell_person or active is None or active.id != handoff.id or held.session is None:
                return
            engine = self.content.engine_for(held.session)
            session = replace(
                held.session, state=engine.flow.menu, return_to=None, handoff=None, advocate_requested=False, handed_back=True
            )
            held.save(session, now + engine.flow.idle_timeout, self.kept.keep_until(held.channel_state))
            self.handoffs.record(held.cursor, active, "system", self.content.text("handoff.back", session.language), now, pending=True)

    def remind_waiting(self) -> int:
        """People waiting longer than the configured wait, not yet told: sent the 24/7 line
        (they may keep waiting). Returns how many were told."""
        now = self.clock()
        told = 0
        for handoff_id, _conversation_id in self.handoffs.due_reminders(timedelta(minutes=self.settings.wait_minutes), now):
            handoff = self.handoffs.get(handoff_id)
            if handoff is None:
                continue
            try:
                text = self.content.text("handoff.reminder", handoff.language)
                self.message_person(handoff, text, "system", None, "system", status=Status.WAITING)
                told += 1
            except HandoffError:
                continue  # claimed or left in between
        return told

    def close_abandoned(self) -> int:
        """Close handoffs with nothing new for ``abandon_hours`` (nothing is sent: after that
        long the phone may be in other hands); their conversations then expire as any other."""
        closed = 0
        for handoff_id, _conversation_id in self.handoffs.abandoned(timedelta(hours=self.settings.abandon_hours), self.clock()):
            handoff = self.handoffs.get(handoff_id)
            if handoff is None:
                continue
            try:
                self.end(handoff, "close", "system", tell_person=False)
                closed += 1
            except HandoffError:
                continue
        return closed

"""The turn: a message in, replies out, state saved, nothing leaked.

Per delivery: claim it once (dedupe) -> that person's lock -> load and decrypt -> the limits ->
``Engine.resume`` (pure) and the handoff side (``bot.service.handoff_turn``) -> save encrypted,
or erase -> queue the replies (a ``queued`` channel) or record them for the webhook's answer
(dispatch) -> commit. If anything fails, the transaction rolls back and the person still gets a
static message with the 24/7 line: they never see an error, and the logs get the kind of
failure, never an address or a message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from bot.channels.base import ChannelAdapter, Delivery
from bot.domain.events import HeldBack, LinesDelivered
from bot.domain.messages import Inbound, InboundKind, Outbound, decode_outputs, encode_outputs, send_payload, with_appended
from bot.engine import Turn
from bot.flowdef.actions import COPIES_DELETED
from bot.content import LiveContent
from bot.service.handoff_turn import HandoffSide
from bot.service.kept import Kept
from bot.service.limits import Limits
from bot.service.wiring import ConversationStore, Wakeup
from bot.store import Pseudonyms

log = logging.getLogger("safeharbor.service")


class _Redelivery(Exception):
    """Raised inside a turn's transaction when its delivery was applied before: rolls it back."""


@dataclass(frozen=True)
class Reception:
    """What a delivery produced. ``outputs``: the replies (in the webhook's answer, or already
    queued when the channel's adapter is ``queued``). ``alphabet``: the conversation language's SMS alphabet.
    ``failed``: the turn failed and ``outputs`` is the fallback."""

    outputs: tuple[Outbound, ...]
    alphabet: str = "gsm7"
    queued: bool = False
    failed: bool = False
    enqueued: bool = False  # other work for the outbox (deletions at a provider): wake the worker
    personal: bool = False  # outputs carry words someone wrote (an advocate's): never cache them


class Turns:
    """``handoff``: the handoff side of a turn, None without the SQL store (no handoffs)."""

    def __init__(
        self, content: LiveContent, store: ConversationStore, pseudonyms: Pseudonyms, clock: Callable[[], datetime], kept: Kept,
        limits: Limits, handoff: HandoffSide | None, wakeup: Wakeup, fallback: Outbound,
    ):
        self.content = content
        self.store = store
        self.pseudonyms = pseudonyms
        self.clock = clock
        self.kept = kept
        self.limits = limits
        self.handoff = handoff
        self.wakeup = wakeup
        self.fallback = fallback

    def handle(self, inbound: Inbound) -> list[Outbound]:
        """Replies to ``inbound``, in order. Never raises for anything a person can send."""
        try:
            turn = self.run_turn(inbound)
        except Exception as exc:  # noqa: BLE001 - the person must get an answer whatever failed
            # Only the kind of failure: an exception's message could quote stored or typed text.
            log.error("turn failed: %s", type(exc).__name__)
            return [self.fallback]
        return list(turn.outputs)

    def run_turn(self, inbound: Inbound) -> Turn:
        """One turn, committed; raises when it cannot be completed (nothing is then saved)."""
        now = self.clock()
        with self.content.pinned(), self.store.conversation(self.pseudonyms.of(inbound.channel.value, inbound.address), now) as held:
            return self.turn(held, inbound, now)

    def receive(self, delivery: Delivery) -> Reception:
        """Apply a provider's delivery once; never raises for anything a provider can send
        (``Service.receive``)."""
        inbound = delivery.inbound
        if inbound is None:
            return Reception(())
        try:
            with self.content.pinned():  # the whole turn reads the revision it began with
                reception = self._receive(delivery, inbound)
        except Exception as exc:  # noqa: BLE001 - the person must get an answer whatever failed
            log.error("delivery failed: %s", type(exc).__name__)
            return Reception((self.fallback,), failed=True)
        if reception.queued or reception.enqueued:
            self.wakeup.after_commit(self.store)
        return reception

    def _receive(self, delivery: Delivery, inbound: Inbound) -> Reception:
        now = self.clock()
        key = self.pseudonyms.of(f"delivery:{delivery.provider}", delivery.delivery_id)
        pseudonym = self.pseudonyms.of(inbound.channel.value, inbound.address)
        try:
            return self._apply(delivery, inbound, key, pseudonym, now)
        except _Redelivery:
            # The turn was rolled back; answer as the first time (the same reply, or nothing new).
            log.info("redelivery of a %s delivery answered from its record", delivery.provider)
            with self.store.conversation(pseudonym, now) as held:
                recorded = held.recorded_reply(delivery.provider, key)
            # The recorded reply may carry an advocate's lines that waited: never cached.
            return Reception(decode_outputs(recorded) if recorded else (), personal=True)

    def _apply(self, delivery: Delivery, inbound: Inbound, key: str, pseudonym: str, now: datetime) -> Reception:
        adapter = self.kept.of(inbound.channel)
        inbound, copies, inbound_copy = self._copies(inbound, adapter)
        with self.store.conversation(pseudonym, now) as held:
            if inbound.kind is InboundKind.OPT_OUT:
                return self._opted_out(held, delivery, inbound, key, inbound_copy)
            # A quick exit deletes the chat as it was before this turn, and this message.
            exit_deletion = adapter.delete_chat(held.channel_state, inbound.address, inbound.message_ref) if adapter.deletes_chat else None
            ids, deleting = self._spill(held, inbound, copies)
            language = self._language(held.session, inbound)
            held_back = self.limits.held_back(held, inbound, self.content.engine_for(held.session), language, now)
            if held_back is not None and held_back.new:
                return self._busy(held, inbound, inbound_copy, language, deleting)
            if held_back is not None:
                turn = self._held_back_turn(held, inbound, held_back, language, now)
            else:
                turn = self.turn(held, inbound, now)  # keeps the inbound's id when it keeps the conversation
            if copies and turn.session is None:
                # Nothing of the conversation is kept now (a quick exit, an end, or nothing to keep
                # at all): nor at the provider. Its replies' ids, learned later from their status
                # callbacks, find no conversation and are deleted then (``message_sent``).
                deleting = self.kept.delete_copies(held, inbound.channel, ids + inbound_copy) or deleting
                turn = self._telling_copies_deleted(turn, language)
            self._dispatch(held, delivery, inbound, key, turn, adapter, exit_deletion)
        language = turn.session.language if turn.session else self.content.catalog.default
        personal = any(isinstance(e, LinesDelivered) for e in turn.events)
        return Reception(turn.outputs, alphabet=self.content.alphabet(language), queued=adapter.queued, enqueued=deleting, personal=personal)

    def _telling_copies_deleted(self, turn: Turn, language: str) -> Turn:
        """``turn`` (one that ended the conversation, whose provider's copies are being deleted)
        with ``COPIES_DELETED`` added to its last reply, in the same message: said only where it
        is true, which the step's own text cannot know (``bot.flowdef.actions.erase``)."""
        if not turn.outputs:
            return turn
        return replace(turn, outputs=with_appended(turn.outputs, self.content.text(COPIES_DELETED, language)))

    def _copies(self, inbound: Inbound, adapter: ChannelAdapter) -> tuple[Inbound, ChannelAdapter | None, list]:
        """``inbound``, without its id when its provider keeps copies that are not deleted (then
        no id is kept); ``adapter`` when the copies its provider keeps are deleted, else None; and
        the id of this message's copy to delete with the others (none or one)."""
        copies = self.kept.copies(inbound.channel)
        if adapter.keeps_copies and copies is None and inbound.message_ref is not None:
            inbound = replace(inbound, message_ref=None)
        return inbound, copies, [inbound.message_ref] if copies and inbound.message_ref else []

    def _language(self, session, inbound: Inbound) -> str:
        """The conversation's language, or for a new one the channel's hint, else the default."""
        catalog = self.content.catalog
        return session.language if session else catalog.resolve(inbound.language_hint) or catalog.default

    def _opted_out(self, held, delivery: Delivery, inbound: Inbound, key: str, inbound_copy: list) -> Reception:
        """A carrier opt-out word: the carrier blocked the number, nothing can reach them, keep nothing."""
        ids = self.kept.kept_copies(inbound.channel, held.channel_state) + inbound_copy
        held.erase()
        deleting = self.kept.delete_copies(held, inbound.channel, ids)  # what the provider keeps too, STOP included
        if not held.record_delivery(delivery.provider, key, None):
            raise _Redelivery
        return Reception((), enqueued=deleting)

    def _spill(self, held, inbound: Inbound, copies: ChannelAdapter | None) -> tuple[list, bool]:
        """The ids of the provider's copies kept with the conversation, after deleting the oldest
        of a very long one (at most ``MAX_KEPT`` are kept); and whether a deletion was queued."""
        ids = self.kept.kept_copies(inbound.channel, held.channel_state)
        if not copies or len(ids) < copies.MAX_KEPT:
            return ids, False
        spill = copies.forget_oldest(held.channel_state, len(ids) - copies.MAX_KEPT + 1)
        deleting = self.kept.delete_copies(held, inbound.channel, spill)
        return self.kept.kept_copies(inbound.channel, held.channel_state), deleting

    def _busy(self, held, inbound: Inbound, inbound_copy: list, language: str, deleting: bool) -> Reception:
        """Past the minute's new conversations: a static answer, in the webhook's own response on
        either channel (nothing queued, no receipt: nothing here to apply twice), and the
        provider's copy of the message deleted, as nothing of it is kept."""
        deleting = self.kept.delete_copies(held, inbound.channel, inbound_copy) or deleting
        busy = Outbound(self.content.text("limits.busy", language))
        return Reception((busy,), self.content.alphabet(language), enqueued=deleting)

    def _dispatch(self, held, delivery: Delivery, inbound: Inbound, key: str, turn: Turn, adapter: ChannelAdapter, exit_deletion) -> None:
        """The turn's replies queued for the worker (a ``queued`` channel) or recorded for the
        webhook's answer, and the delivery claimed: a second claim rolls the turn back whole."""
        if adapter.queued:
            name = inbound.channel.value
            if delivery.callback_id:  # after the turn: a restart must not drop it with the old stream
                held.enqueue(name, "answer", {"callback_id": delivery.callback_id})
            if turn.erased and exit_deletion:  # quick exit: both sides of the chat, as far as still deletable
                held.enqueue(name, "delete", exit_deletion)
            for output in turn.outputs:
                # after a quick exit, its one line must stay on the phone: not kept for deletion
                held.enqueue(name, "send", send_payload(inbound.address, output, after_exit=turn.erased))
        reply = None if adapter.queued else encode_outputs(turn.outputs)
        if not held.record_delivery(delivery.provider, key, reply):
            raise _Redelivery  # applied before: roll this turn back whole

    def _held_back_turn(self, held, inbound: Inbound, held_back: HeldBack, language: str, now: datetime) -> Turn:
        """A message over the person's limit: no engine turn. Its id is still kept (a later quick
        exit deletes it from the chat), and inside a handoff the line still goes to the advocate's
        transcript (``HandoffSide.held_back``); the first one of the minute is told to wait."""
        if inbound.message_ref is not None:
            self.kept.remember(inbound.channel, held.channel_state, inbound.message_ref, now)
        active = self.handoff.active(held) if self.handoff is not None else None
        if active is not None:
            outputs = self.handoff.held_back(held, active, inbound, held_back.tell, language, now)
        else:
            outputs = (Outbound(self.content.text("limits.slow_down", language)),) if held_back.tell else ()
        held.save_channel_state(self.kept.keep_until(held.channel_state))
        return Turn(held.session, outputs, (held_back,))

    def turn(self, held, inbound: Inbound, now: datetime) -> Turn:
        """The engine's turn of ``held``'s conversation, in its transaction: resumed, then saved
        (or erased), with its handoff side."""
        engine = self.content.engine_for(held.session)
        before = self.handoff.before(held, now) if self.handoff is not None else None
        turn = engine.resume(before.session if before else held.session, inbound, now)
        if turn.session is None or turn.restarted:
            carried = held.channel_state if turn.restarted else {}
            held.erase()  # nothing may be kept, or a new conversation: new key, old one shredded
            held.channel_state = carried  # a restart still lets a later quick exit delete the chat
        if turn.session is not None:
            if inbound.message_ref is not None:
                self.kept.remember(inbound.channel, held.channel_state, inbound.message_ref, now)
            held.save(turn.session, now + engine.flow.idle_timeout, self.kept.keep_until(held.channel_state))
            if before is not None:
                after = self.handoff.after(held, inbound, turn, before, now)
                if after.session.handoff != turn.session.handoff:  # a handoff opened in this turn: remember it
                    held.save(after.session, now + engine.flow.idle_timeout, self.kept.keep_until(held.channel_state))
                turn = after
        # No log of the turn, at any level: which steps someone moved through, with a timestamp,
        # could be matched against a provider's delivery logs that hold their number.
        return turn

"""The one orchestrator: a message in, replies out, state saved, nothing leaked.

    service = Service.from_settings(Settings.from_env())
    replies = service.handle(Inbound(Channel.SMS, "+15551234567", "hola"))

Per message: pseudonym of the address -> lock that person's conversation -> load and decrypt ->
``Engine.resume`` (pure) -> save encrypted, or erase -> commit -> replies. If anything fails, the
transaction rolls back and the person still gets a static message with the 24/7 line: they
never see an error, and the logs get the kind of failure, never an address or a message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Protocol

from bot.config import HandoffSettings, LimitSettings, Settings
from bot.channels.base import ChannelAdapter, Delivery, decode_output, decode_outputs, encode_output
from bot.channels.registry import NOTICES_CHANNEL, build_adapters, by_channel, default_adapters
from bot.domain.events import ConversationExpired, EmergencyDetected, HandoffRequested, HeldBack, LinesDelivered
from bot.domain.messages import Channel, Inbound, InboundKind, Outbound, render_plain
from bot.domain.problems import ContentInvalid, Problem, errors
from bot.engine import Engine, Turn
from bot.flowdef import Flow, inspect, read_flows
from bot.flowdef.inspect import carrier_words_taught, lock_screen_preview, revealing_words
from bot.i18n import Catalog, read_catalog
from bot.service.kept import Kept
from bot.handoff import (
    Active, Handoff, HandoffError, HandoffGone, HandoffRecords, NotYours, OfficeHours, RevealingOpening, Status, TeachesOptOut,
    new_label,
)
from bot.service.limits import Limits, not_kept
from bot.store import Directory, KeyRing, Pseudonyms, SessionStore, open_database, read_directory
from bot.store import schema
from bot.store.accounts import Accounts
from bot.store.limits import Windows
from bot.store.outbox import new_message

log = logging.getLogger("safeharbor.service")

DEFAULT_FLOW = "main"

# Sent when a turn fails: bilingual, neutral first lines, the 24/7 alternatives (DESIGN rule 6).
# Plain text rather than the catalog, so it still goes out when the failure is in the content.
FALLBACK_TEXT = (
    "Sorry, something went wrong. / Lo siento, hubo un error.\n"
    "Please try again. / Intenta de nuevo.\n"
    "24/7: {hotline_phone}, text/texto {hotline_text}. {emergency_number}."
)


NOTICE_STREAM = "advocates-notices"  # the outbox stream of messages to the advocates' group
__all__ = ["decode_output", "decode_outputs", "encode_output"]  # the outbox's wire form, from channels.base


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


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


@dataclass(frozen=True)
class Content:
    """Flows, translations and the directory, loaded and checked together."""

    flows: dict[str, Flow]
    catalog: Catalog
    directory: Directory
    engines: dict[str, Engine]


def read_content(settings_or_dir: Settings | Path, regions: tuple[str, ...] | None = None) -> tuple[Content | None, list[Problem]]:
    """Load and inspect everything; ``(None, problems)`` when it cannot run. ``regions`` limits
    the resource directory (with settings, their ``SAFEHARBOR_REGIONS``)."""
    if isinstance(settings_or_dir, Settings):
        root, regions = settings_or_dir.content_dir, settings_or_dir.regions
    else:
        root = settings_or_dir
    catalog, problems = read_catalog(root / "locales")
    flows, found = read_flows(root / "flows")
    problems += found
    directory, found = read_directory(root / "flows" / "resources", regions=regions)
    problems += found
    if catalog is None or errors(problems):
        return None, problems
    engines = {}
    for name, flow in flows.items():
        engine = Engine(flow, catalog, directory)
        problems += inspect(flow, catalog, engine.preview)
        engines[name] = engine
    if DEFAULT_FLOW not in engines:
        problems.append(Problem(f"{root / 'flows'}: flow", f"no file says `flow: {DEFAULT_FLOW}`; the service starts every conversation there"))
    if errors(problems):
        return None, problems
    return Content(flows, catalog, directory, engines), problems


def load_content(settings_or_dir: Settings | Path) -> Content:
    content, problems = read_content(settings_or_dir)
    if content is None:
        raise ContentInvalid(errors(problems))
    return content


def open_store(settings: Settings) -> SessionStore:
    """The encrypted session store the settings name (also for ``keys rotate``)."""
    return SessionStore(open_database(settings.database_url), key_ring(settings))


EPOCH_SHARE = 0.45  # of the erasure bound: two epochs and a rollover's delay fit inside it


def key_ring(settings: Settings) -> KeyRing:
    """The key-encryption keys and the epoch key store the settings name. An erased
    conversation's last epoch is destroyed at most two epochs and one rollover interval
    (``SessionStore.roll_every``) after the erasure: 0.95 of the bound (``bot.store.epochs``)."""
    return KeyRing(list(settings.encryption_keys), key_store=settings.key_store, epoch_length=settings.erasure_bound_minutes * 60 * EPOCH_SHARE)


def upgrade_database(settings: Settings, progress: Callable[[str], None] = print) -> list[str]:
    """``safeharbor db upgrade``: apply the missing schema migrations."""
    engine = open_database(settings.database_url, check_schema=False)
    try:
        return schema.upgrade(engine, progress)
    finally:
        engine.dispose()


def schema_revisions(settings: Settings) -> tuple[str | None, str]:
    """(the database's schema revision, the one this version needs)."""
    engine = open_database(settings.database_url, check_schema=False)
    try:
        return (None if schema.is_empty(engine) else schema.current(engine)), schema.head()
    finally:
        engine.dispose()


def open_accounts(settings: Settings) -> Accounts:
    """The console's accounts in the settings' database (for ``safeharbor users``)."""
    store = open_store(settings)
    return Accounts(
        store.engine, store.keys, timedelta(minutes=settings.handoff.console_idle_minutes),
        timedelta(hours=settings.handoff.console_session_hours), pseudonyms=Pseudonyms(settings.pepper),
    )


class ConversationStore(Protocol):
    """``SessionStore`` and ``MemorySessionStore`` both fit."""

    def conversation(self, pseudonym: str, now: datetime): ...

    async def turn(self, function: Callable, *args): ...

    def after_commit(self, callback: Callable[[], None]) -> None: ...

    def purge_expired(self, now: datetime) -> int: ...

    roll_every: float  # seconds between key rollovers

    def roll_keys(self, progress=None, grace=None): ...


class Service:
    def __init__(
        self,
        content: Content,
        store: ConversationStore,
        pseudonyms: Pseudonyms,
        clock: Callable[[], datetime] = utc_now,
        handoff: HandoffSettings | None = None,
        limits: LimitSettings | None = None,
        adapters: tuple[ChannelAdapter, ...] | None = None,
    ):
        self.content = content
        self.store = store
        self.pseudonyms = pseudonyms
        self.clock = clock
        self.handoff_settings = handoff or HandoffSettings()
        self.office_hours = OfficeHours.parse(self.handoff_settings.office_hours, self.handoff_settings.office_timezone)
        # Handoffs need the SQL store (sealed transcripts, the outbox); the memory store has none.
        engine = getattr(store, "engine", None)
        self.handoffs: HandoffRecords | None = None
        self.accounts: Accounts | None = None  # the console's people and sessions
        if engine is not None:
            settings = self.handoff_settings
            self.handoffs = HandoffRecords(engine, store.keys, timedelta(hours=settings.transcript_retention_hours))
            store.attach(self.handoffs)  # the person leaving is a handoff move, in the erasure's transaction
            self.accounts = Accounts(
                engine, store.keys, timedelta(minutes=settings.console_idle_minutes), timedelta(hours=settings.console_session_hours),
                pseudonyms=pseudonyms,
            )
        # The limits need the SQL store's counters; the memory store (tests of the conversation) has none.
        self.limits = Limits(limits or LimitSettings(), Windows(engine.dialect) if engine is not None else None, self.handoffs)
        self.fallback = Outbound(FALLBACK_TEXT.format_map(content.engines[DEFAULT_FLOW].flow.vars))
        self.on_enqueued: Callable[[], None] | None = None  # wakes an in-process worker
        # What each channel keeps of a conversation's messages, and whether the copies a provider
        # keeps are deleted (``kept.deletes_copies``: credentials set, ``from_settings``; needs
        # the SQL store).
        self.kept = Kept(by_channel(adapters or default_adapters()))

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], datetime] = utc_now) -> Service:
        adapters = build_adapters(settings, senders=False)  # what each channel does; the worker sends
        service = cls(
            load_content(settings), open_store(settings), Pseudonyms(settings.pepper), clock, settings.handoff, settings.limits, adapters,
        )
        # The worker deletes with the senders it builds for these settings.
        service.kept.deletes_copies = any(a.keeps_copies and a.deletes for a in adapters)
        return service

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
        with self.store.conversation(self.pseudonyms.of(inbound.channel.value, inbound.address), now) as held:
            return self._turn(held, inbound, now)

    def receive(self, delivery: Delivery) -> Reception:
        """Apply a provider's delivery once; never raises for anything a provider can send.

        The delivery is claimed, the turn run, the state saved and (a ``queued`` channel) the
        replies written to the outbox, all in one transaction holding that person's lock. A
        redelivery gets the reply recorded the first time, or nothing new (queued replies).
        Needs the SQL store (``SessionStore``).
        """
        inbound = delivery.inbound
        if inbound is None:
            return Reception(())
        try:
            reception = self._receive(delivery, inbound)
        except Exception as exc:  # noqa: BLE001 - the person must get an answer whatever failed
            log.error("delivery failed: %s", type(exc).__name__)
            return Reception((self.fallback,), failed=True)
        if (reception.queued or reception.enqueued) and self.on_enqueued:
            self.store.after_commit(self.on_enqueued)  # once committed, or the worker finds nothing
        return reception

    async def turn(self, function: Callable, *args):
        """``function(*args)`` (a call of this service that writes) from the event loop, returned
        once what it wrote is committed; raises if that failed (the caller answers with
        ``fallback``). The store decides how (``SessionStore.turn``)."""
        return await self.store.turn(function, *args)

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
        channel = self.kept.of(inbound.channel)
        copies = self.kept.copies(inbound.channel)  # the provider keeps copies, and they are deleted
        if channel.keeps_copies and copies is None and inbound.message_ref is not None:
            inbound = replace(inbound, message_ref=None)  # nothing is deleted at the provider: keep no id
        inbound_copy = [inbound.message_ref] if copies and inbound.message_ref else []
        deleting = False
        with self.store.conversation(pseudonym, now) as held:
            if inbound.kind is InboundKind.OPT_OUT:
                ids = self.kept.kept_copies(inbound.channel, held.channel_state) + inbound_copy
                held.erase()  # the carrier blocked the number: nothing can reach them, keep nothing
                deleting = self.kept.delete_copies(held, inbound.channel, ids)  # what the provider keeps too, STOP included
                if not held.record_delivery(delivery.provider, key, None):
                    raise _Redelivery
                return Reception((), enqueued=deleting)
            # A quick exit deletes the chat as it was before this turn, and this message.
            exit_deletion = channel.delete_chat(held.channel_state, inbound.address, inbound.message_ref) if channel.deletes_chat else None
            ids = self.kept.kept_copies(inbound.channel, held.channel_state)
            if copies and len(ids) >= copies.MAX_KEPT:  # a very long conversation: the oldest go now
                spill = copies.forget_oldest(held.channel_state, len(ids) - copies.MAX_KEPT + 1)
                deleting = self.kept.delete_copies(held, inbound.channel, spill)
                ids = self.kept.kept_copies(inbound.channel, held.channel_state)
            language = held.session.language if held.session else self.content.catalog.resolve(inbound.language_hint) or self.content.catalog.default
            held_back = self.limits.held_back(held, inbound, self._engine(held.session), language, now)
            if held_back is not None and held_back.new:
                # Past the minute's new conversations: a static answer, in the webhook's own
                # response on either channel (nothing queued, no receipt: nothing here to apply
                # twice), and the provider's copy of the message deleted, as nothing of it is kept.
                deleting = self.kept.delete_copies(held, inbound.channel, inbound_copy) or deleting
                busy = Outbound(self._text("limits.busy", language))
                return Reception((busy,), self.content.catalog.locales[language].sms_alphabet, enqueued=deleting)
            if held_back is not None:
                turn = self._held_back_turn(held, inbound, held_back, language, now)
            else:
                turn = self._turn(held, inbound, now)  # keeps the inbound's id when it keeps the conversation
            if copies and turn.session is None:
                # Nothing of the conversation is kept now (a quick exit, an end, or nothing to keep
                # at all): nor at the provider. Its replies' ids, learned later from their status
                # callbacks, find no conversation and are deleted then (``message_sent``).
                deleting = self.kept.delete_copies(held, inbound.channel, ids + inbound_copy) or deleting
            language = turn.session.language if turn.session else self.content.catalog.default
            if channel.queued:
                name = inbound.channel.value
                if delivery.callback_id:  # after the turn: a restart must not drop it with the old stream
                    held.enqueue(name, "answer", {"callback_id": delivery.callback_id})
                if turn.erased and exit_deletion:  # quick exit: both sides of the chat, as far as still deletable
                    held.enqueue(name, "delete", exit_deletion)
                for output in turn.outputs:
                    # after a quick exit, its one line must stay on the phone: not kept for deletion
                    held.enqueue(name, "send", {"to": inbound.address, "after_exit": turn.erased, **encode_output(output)})
            reply = None if channel.queued else json.dumps([encode_output(o) for o in turn.outputs]).encode()
            if not held.record_delivery(delivery.provider, key, reply):
                raise _Redelivery  # applied before: roll this turn back whole
        alphabet = self.content.catalog.locales[language].sms_alphabet
        personal = any(isinstance(e, LinesDelivered) for e in turn.events)
        return Reception(turn.outputs, alphabet=alphabet, queued=channel.queued, enqueued=deleting, personal=personal)

    def _held_back_turn(self, held, inbound: Inbound, held_back: HeldBack, language: str, now: datetime) -> Turn:
        """A message over the person's limit: no engine turn. Its id is still kept (a later quick
        exit deletes it from the chat), and inside a handoff the line still goes to the advocate's
        transcript; the first one of the minute is told to wait (nothing more while an advocate
        holds the chat: what they write is read)."""
        if inbound.message_ref is not None:
            self.kept.remember(inbound.channel, held.channel_state, inbound.message_ref, now)
        session = held.session
        active = self.handoffs.active(held.cursor, held.id) if session is not None and session.handoff and self.handoffs else None
        kept = active is not None and bool(inbound.text) and self.limits.keep_person_line(held.cursor, active, inbound.text, [], now)
        outputs: tuple[Outbound, ...] = ()
        if held_back.tell and not (active is not None and active.status == Status.HELD):
            outputs = (Outbound(self._text("limits.slow_down_kept" if kept else "limits.slow_down", language)),)
        if held_back.tell and active is not None and inbound.text and not kept:
            outputs = self._not_kept(outputs, language)  # said once a minute here: the rest of it costs no reply
        if kept and outputs:
            self.handoffs.record_lines(held.cursor, active, [("bot", render_plain(output)) for output in outputs], now)
        held.save_channel_state(self.kept.keep_until(held.channel_state))
        return Turn(session, outputs, (held_back,))

    def _not_kept(self, outputs: tuple, language: str) -> tuple:
        """``outputs`` telling the person that their line no longer fit the transcript."""
        noted = self._text(self.content.engines[DEFAULT_FLOW].flow.noted, language)
        return not_kept(outputs, self._text("handoff.transcript_full", language), noted)

    def _engine(self, session) -> Engine:
        return self.content.engines.get(session.flow if session else DEFAULT_FLOW) or self.content.engines[DEFAULT_FLOW]

    def _turn(self, held, inbound: Inbound, now: datetime) -> Turn:
        session = held.session
        engine = self._engine(session)
        active = None
        if session is not None and session.handoff is not None and self.handoffs is not None:
            # Only a conversation that had a handoff at its last turn can have one now (a handoff
            # opens in the person's own turn), so most turns skip this read. The table is the
            # truth: an advocate may have claimed, released or closed it since.
            active = self.handoffs.active(held.cursor, held.id)
            session = replace(session, handoff=active.status if active else None)
        # Lines may wait for this person: they chose to check back rather than be written to, or
        # an advocate handed the chat back since they last wrote.
        waiting_lines = session is not None and (session.handed_back or (active is not None and not active.may_write))
        # Silent longer than a handoff is kept open for (an advocate's notes keep it open, not the
        # person): whoever writes now may not be them, and what waited is dropped, never shown.
        away = waiting_lines and now.timestamp() - session.last_active > self.handoff_settings.abandon_hours * 3600
        turn = engine.resume(session, inbound, now)
        if turn.session is None or turn.restarted:
            carried = held.channel_state if turn.restarted else {}
            held.erase()  # nothing may be kept, or a new conversation: new key, old one shredded
            held.channel_state = carried  # a restart still lets a later quick exit delete the chat
        if turn.session is not None:
            if inbound.message_ref is not None:
                self.kept.remember(inbound.channel, held.channel_state, inbound.message_ref, now)
            held.save(turn.session, now + engine.flow.idle_timeout, self.kept.keep_until(held.channel_state))
            if self.handoffs is not None:
                turn, active = self._handoff_turn(held, inbound, turn, None if turn.restarted else active, now)
                if waiting_lines and not turn.restarted and not any(isinstance(e, ConversationExpired) for e in turn.events):
                    turn = self._with_waiting_lines(held, turn, drop=away)
                status = active.status if active else None
                if turn.session.handoff != status:  # a handoff opened in this turn: remember it
                    turn = Turn(replace(turn.session, handoff=status), turn.outputs, turn.events)
                    held.save(turn.session, now + engine.flow.idle_timeout, self.kept.keep_until(held.channel_state))
        # No log of the turn, at any level: which steps someone moved through, with a timestamp,
        # could be matched against a provider's delivery logs that hold their number.
        return turn

    # -- handing the chat to a person ------------------------------------------------------------------

    def _handoff_turn(self, held, inbound: Inbound, turn: Turn, active: Active | None, now: datetime) -> tuple[Turn, Active | None]:
        """The handoff side of a turn, in its transaction: open one when the person asked (telling
        them the wait, or the 24/7 line out of hours), and while one is open keep the transcript.
        Returns the turn (with any added text) and the handoff open after it."""
        language = turn.session.language
        extra: str | None = None
        if any(isinstance(e, HandoffRequested) for e in turn.events):
            if active is not None:
                extra = self._text("handoff.already_waiting", language)
            else:
                request = next(e for e in turn.events if isinstance(e, HandoffRequested))
                urgent = request.urgent
                if not self.limits.may_open(held.cursor, urgent):
                    # The queue is full (SAFEHARBOR_LIMIT_WAITING_HANDOFFS): not added, and told so
                    # with the 24/7 line in place of "you asked to talk with a person".
                    log.warning("the advocates' queue is full: a%s request got the 24/7 line instead", "n urgent" if urgent else "")
                    *rest, last = turn.outputs
                    full = Outbound(self._text("handoff.full", language), last.choices, last.offer)
                    return Turn(turn.session, (*rest, full), turn.events), None
                chat = self.handoff_settings.advocate_telegram_chat
                active = self.handoffs.open(
                    held.cursor, held.id, inbound.channel.value, language, inbound.address, urgent, now, new_label(), request.may_write,
                    noticed=not chat,
                )
                open_now = self.office_hours.open_at(now)
                extra = self._text("handoff.waiting" if open_now else "handoff.after_hours", language, minutes=self.handoff_settings.wait_minutes)
                log.info("a chat is waiting for an advocate%s", " (urgent)" if urgent else "")
                self._notify_advocates(held.cursor, now)
                self.handoffs.record(held.cursor, active, "system", "The person asked to talk with someone." + (" Urgent." if urgent else "") + (
                    " They may be written to here." if request.may_write else " They will check back: what you write waits for their next message."
                ), now)
                return self._with_extra(turn, extra, active, held, inbound, now), active
        if active is None:
            return turn, None
        if any(isinstance(e, EmergencyDetected) for e in turn.events):
            self.handoffs.mark_urgent(held.cursor, active, now)
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
        outputs = list(turn.outputs)
        if extra:
            if outputs:  # in the same message, above its choices
                last = outputs[-1]
                outputs[-1] = Outbound(f"{last.text}\n\n{extra}" if last.text else extra, last.choices, last.offer)
            else:
                outputs.append(Outbound(extra))
        lines = []
        if inbound.kind is InboundKind.MEDIA:
            lines.append(("system", "The person sent a photo, file or voice message (not kept)."))
        replies = [("bot", render_plain(output)) for output in outputs]
        if inbound.text:  # within the transcript's caps, or not kept and the person told
            self.handoffs.record_lines(held.cursor, active, lines, now)
            if not self.limits.keep_person_line(held.cursor, active, inbound.text, replies, now):
                outputs = self._not_kept(tuple(outputs), turn.session.language)
        else:
            self.handoffs.record_lines(held.cursor, active, lines + replies, now)
        return Turn(turn.session, tuple(outputs), turn.events)

    def _notify_advocates(self, cursor, now: datetime) -> bool:
        """Tell the advocates' group, if configured, of the chats waiting it was not
        told of (labels only, never content), a few notices a minute (``Limits.notice``), in the
        caller's transaction. Returns whether one was queued."""
        chat = self.handoff_settings.advocate_telegram_chat
        text = self.limits.notice(cursor, now) if chat else None
        if text:
            # On a stream of its own: a slow or failing group must not hold up the person's replies.
            payload = {"to": chat, "text": text, "choices": [], "offer": None, "notice": True}
            self.store.statements.enqueue.run(cursor, **new_message(self.store.keys, NOTICE_STREAM, NOTICES_CHANNEL.value, "send", payload, now))
        return bool(text)

    def flush_notices(self) -> bool:
        """The worker, at each new minute: one notice naming the chats that started waiting while
        the notices of the minute before were used up. Returns whether one was queued."""
        if self.handoffs is None or not self.handoff_settings.advocate_telegram_chat or not self.handoffs.any_unnoticed():
            return False
        with self.store.transaction() as cursor:
            queued = self._notify_advocates(cursor, self.clock())
        if queued and self.on_enqueued:
            self.on_enqueued()
        return queued

    def _payload(self, address: str, output: Outbound, language: str) -> dict:
        """What the worker needs to send ``output`` to ``address`` (an outbox payload)."""
        return {"to": address, **encode_output(output), "alphabet": self.content.catalog.locales[language].sms_alphabet}

    def _text(self, key: str, language: str, **values) -> str:
        flow_vars = self.content.engines[DEFAULT_FLOW].flow.vars
        return self.content.catalog.text(key, language, **{**flow_vars, **values})

    # The console's calls (through bot/service/console.py), each checked there for who may make it, and again
    # in the transaction that acts (the row may have changed since).

    def claim_handoff(self, handoff_id: str, user_id: int, actor: str) -> Handoff:
        """Take a waiting chat; the person is told someone is here, once per handoff (by its first
        claim), the way they chose: now, or in the reply to their next message."""
        handoff, tell = self.handoffs.claim(handoff_id, user_id, actor, self.clock())
        if tell:
            text = self._text("handoff.joined", handoff.language)
            try:
                self._message_person(handoff, text, "system", None, actor, status=Status.HELD, holder=user_id)
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
        self._message_person(handoff, text, "advocate", user_id, actor, status=Status.HELD, holder=user_id)

    def _message_person(self, handoff: Handoff, text: str, sender: str, user_id: int | None, actor: str, *, status: Status, holder: int | None = None) -> None:
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
            payload = {**self._payload(address, Outbound(text), handoff.language), "quiet": True}
            row = new_message(self.store.keys, handoff.conversation_id, handoff.channel, "send", payload, now)
        self.handoffs.add(handoff.id, sender, text, user_id, actor, now, send=row, status=status, holder=holder, pending=row is None)
        if row is not None and self.on_enqueued:
            self.on_enqueued()

    def end_handoff(self, handoff: Handoff, how: str, actor: str, by: int | None = None, tell_person: bool = True) -> None:
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
            engine = self.content.engines.get(held.session.flow) or self.content.engines[DEFAULT_FLOW]
            session = replace(
                held.session, state=engine.flow.menu, return_to=None, handoff=None, advocate_requested=False, handed_back=True
            )
            held.save(session, now + engine.flow.idle_timeout, self.kept.keep_until(held.channel_state))
            self.handoffs.record(held.cursor, active, "system", self._text("handoff.back", session.language), now, pending=True)

    def remind_waiting(self) -> int:
        """People waiting longer than the configured wait, not yet told: sent the 24/7 line
        (they may keep waiting). Returns how many were told."""
        if self.handoffs is None:
            return 0
        now = self.clock()
        told = 0
        for handoff_id, _conversation_id in self.handoffs.due_reminders(timedelta(minutes=self.handoff_settings.wait_minutes), now):
            handoff = self.handoffs.get(handoff_id)
            if handoff is None:
                continue
            try:
                self._message_person(handoff, self._text("handoff.reminder", handoff.language), "system", None, "system", status=Status.WAITING)
                told += 1
            except HandoffError:
                continue  # claimed or left in between
        return told

    def close_abandoned(self) -> int:
        """Close handoffs with nothing new for ``abandon_hours`` (nothing is sent: after that
        long the phone may be in other hands); their conversations then expire as any other."""
        if self.handoffs is None:
            return 0
        closed = 0
        for handoff_id, _conversation_id in self.handoffs.abandoned(timedelta(hours=self.handoff_settings.abandon_hours), self.clock()):
            handoff = self.handoffs.get(handoff_id)
            if handoff is None:
                continue
            try:
                self.end_handoff(handoff, "close", "system", tell_person=False)
                closed += 1
            except HandoffError:
                continue
        return closed
    def record_status(
        self, provider: str, message_id: str, status: str, error_code: str | None,
        channel: Channel | str | None = None, address: str | None = None,
    ) -> bool:
        """A provider's delivery outcome for one of our messages, once per (message, status),
        with no content. Returns False for a repeat.

        With ``channel`` and ``address`` (whom a message went to, when its provider keeps copies:
        a status callback's ``To``) the id is also kept with that person's conversation, or, with
        none kept (the line after a quick exit, a reply to someone of whom nothing is kept), its
        deletion at the provider is queued (``message_sent``). This is how the ids of replies sent
        in a webhook's answer are learned."""
        new = self.store.record_status(
            self.pseudonyms.of(f"sent:{provider}", message_id), status[:24], (error_code or None) and str(error_code)[:12], self.clock()
        )
        if channel is not None and address and self.kept.copies(channel) is not None:
            self.message_sent(Channel(channel).value, address, message_id)
        return new

    def message_sent(self, channel: str, address: str, message_id: int | str) -> None:
        """Message ``message_id`` went to ``address``: keep its id (sealed) so that the end of
        the conversation, or a quick exit, can delete it. If nothing of the conversation is kept
        (a quick exit while it was on its way, or after), delete it now.

        ``message_id``: ``Sent.deletable_id`` of the worker's sends, or the id in a status
        callback (``record_status``). For a provider that keeps copies, an id already kept costs
        no write, and one with no conversation is queued for deletion once (a claim in
        ``deliveries``: its ``sent`` and ``delivered`` callbacks queue one deletion)."""
        adapter = self.kept.of(channel)
        copies = adapter.keeps_copies
        if copies and self.kept.copies(channel) is None:
            return
        now = self.clock()
        queued = False
        with self.store.conversation(self.pseudonyms.of(channel, address), now) as held:
            if held.id is not None:
                if copies and message_id in adapter.kept(held.channel_state):
                    return
                adapter.remember_sent(held.channel_state, message_id, now)
                if copies and len(adapter.kept(held.channel_state)) > adapter.MAX_KEPT:
                    queued = self.kept.delete_copies(held, channel, adapter.forget_oldest(held.channel_state, 1))
                held.save_channel_state(self.kept.keep_until(held.channel_state))
            elif copies:
                if held.record_delivery(f"{adapter.name}-delete", self.pseudonyms.of(f"delete:{adapter.name}", message_id), None):
                    queued = self.kept.delete_copies(held, channel, [message_id])
            else:
                held.enqueue(channel, "delete", adapter.delete_now(address, message_id))
                queued = True
        if queued and self.on_enqueued:
            self.store.after_commit(self.on_enqueued)

    def close(self) -> None:
        """Finish what the store has pending (the last erasure's shredding) and close it."""
        close = getattr(self.store, "close", None)
        if close is not None:
            close()

    def ping(self) -> None:
        """Raise unless the database answers (for ``GET /healthz``)."""
        self.store.ping()

    def opted_out(self, channel: Channel | str, address: str) -> None:
        """The person opted out at the carrier (on a send or in a status callback): keep nothing,
        send nothing more, and delete what the provider keeps of the conversation."""
        channel = Channel(channel)
        with self.store.conversation(self.pseudonyms.of(channel.value, address), self.clock()) as held:
            ids = self.kept.kept_copies(channel, held.channel_state)
            held.erase()
            queued = self.kept.delete_copies(held, channel, ids)
        if queued and self.on_enqueued:
            self.store.after_commit(self.on_enqueued)

    def purge_expired(self) -> int:
        """Erase the conversations idle past their expiry (and their handoffs); returns how many.
        The ids of the copies providers keep are read before their rows go, and their deletions
        queued, in the same transaction."""
        if self.kept.deletes_copies:
            return self.store.purge_expired(self.clock(), deletions=self.kept.deletion_jobs)
        return self.store.purge_expired(self.clock())

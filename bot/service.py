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
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Protocol

from bot.config import HandoffSettings, LimitSettings, Settings
from bot.channels.base import Delivery
from bot.domain.events import ConversationExpired, EmergencyDetected, HandoffRequested, HeldBack, LinesDelivered
from bot.domain.messages import Channel, ChoiceView, Inbound, InboundKind, Outbound, render_plain
from bot.domain.problems import ContentInvalid, Problem, errors
from bot.engine import Engine, Turn
from bot.flowdef import Flow, inspect, read_flows
from bot.flowdef.inspect import carrier_words_taught, lock_screen_preview, revealing_words
from bot.i18n import Catalog, read_catalog
from bot.handoff import (
    Active, Handoff, HandoffError, HandoffGone, HandoffRecords, NotYours, OfficeHours, RevealingOpening, Status, TeachesOptOut,
    new_label,
)
from bot.limits import Limits, not_kept
from bot.store import Directory, KeyRing, Pseudonyms, SessionStore, open_database, read_directory
from bot.store import schema
from bot.store.accounts import Accounts
from bot.store.limits import Windows
from bot.store.outbox import TWILIO_DELETES, new_message, sid_batches

log = logging.getLogger("safeharbor.service")

DEFAULT_FLOW = "main"

# Sent when a turn fails: bilingual, neutral first lines, the 24/7 alternatives (DESIGN rule 6).
# Plain text rather than the catalog, so it still goes out when the failure is in the content.
FALLBACK_TEXT = (
    "Sorry, something went wrong. / Lo siento, hubo un error.\n"
    "Please try again. / Intenta de nuevo.\n"
    "24/7: {hotline_phone}, text/texto {hotline_text}. {emergency_number}."
)


# Channels whose replies are sent by the background work (the outbox) rather than in the
# webhook's response.
QUEUED_CHANNELS = frozenset({Channel.TELEGRAM})
NOTICE_STREAM = "advocates-notices"  # the outbox stream of messages to the advocates' group
# Telegram lets a bot delete both sides of a private chat for 48 hours: keep ids that long.
DELETABLE_FOR = timedelta(hours=48)
MAX_KEPT_MESSAGES = 300
# Twilio keeps every message (body and numbers) until it is deleted through its API, whenever
# that is: the SIDs of a conversation's messages are kept (sealed, in its ``channel_state``)
# until it ends, then deleted at Twilio by the outbox. Past this many, the oldest are deleted
# at once, so the sealed state stays small.
TWILIO_CHANNELS = frozenset({Channel.SMS, Channel.WHATSAPP})
MAX_KEPT_SIDS = 500


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class _Redelivery(Exception):
    """Raised inside a turn's transaction when its delivery was applied before: rolls it back."""


@dataclass(frozen=True)
class Reception:
    """What a delivery produced. ``outputs``: the replies (in the webhook's answer for SMS; for
    Telegram already queued). ``alphabet``: the conversation language's SMS alphabet.
    ``failed``: the turn failed and ``outputs`` is the fallback."""

    outputs: tuple[Outbound, ...]
    alphabet: str = "gsm7"
    queued: bool = False
    failed: bool = False
    enqueued: bool = False  # other work for the outbox (deletions at Twilio): wake the worker
    personal: bool = False  # outputs carry words someone wrote (an advocate's): never cache them


def encode_output(output: Outbound) -> dict:
    return {"text": output.text, "choices": [[c.number, c.label] for c in output.choices], "offer": output.offer}


def decode_output(data: dict) -> Outbound:
    return Outbound(data["text"], tuple(ChoiceView(n, label) for n, label in data.get("choices", ())), data.get("offer"))


def decode_outputs(blob: bytes) -> tuple[Outbound, ...]:
    return tuple(decode_output(item) for item in json.loads(blob))


def keep_until(channel_state: dict) -> datetime | None:
    """Until when the conversation's Telegram message ids must be kept: 48 h after the newest.
    Twilio SIDs set no such time: Twilio keeps the messages until they are deleted, so their SIDs
    go with the conversation (``kept_sids``), each one deleted at Twilio then."""
    messages = channel_state.get("messages")
    if not messages:
        return None
    return datetime.fromtimestamp(max(ts for _, ts in messages), timezone.utc) + DELETABLE_FOR


def remember_message(channel_state: dict, message_id: int | str, now: datetime) -> None:
    """Add a message id to the kept list. A Telegram id (int): only those still deletable, at
    most the last few hundred. A Twilio SID (str): every one, once (``kept_sids``)."""
    if isinstance(message_id, str):
        sids = channel_state.setdefault("sids", [])
        if message_id not in sids:
            sids.append(message_id)
        return
    cutoff = int((now - DELETABLE_FOR).timestamp())
    kept = [m for m in channel_state.get("messages", []) if m[1] > cutoff]
    kept.append([int(message_id), int(now.timestamp())])
    channel_state["messages"] = kept[-MAX_KEPT_MESSAGES:]


def kept_sids(channel_state: dict) -> list[str]:
    """The Twilio SIDs of the conversation's messages, oldest first (inbound and outbound).

    >>> state = {}
    >>> remember_message(state, "SM" + "a" * 32, utc_now()); remember_message(state, "SM" + "a" * 32, utc_now())
    >>> kept_sids(state) == ["SM" + "a" * 32]
    True
    """
    return list(channel_state.get("sids", ()))


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

    def grouped(self): ...

    async def settled(self) -> None: ...

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
        # Whether what Twilio keeps is deleted through its REST API (account SID and token set:
        # ``from_settings``); off, no SID is kept and no deletion queued. Needs the SQL store.
        self.twilio_deletes: bool = False
        # Whether a turn waits on nothing but this machine (SQLite, memory), see web.webhooks.
        self.local_database: bool = getattr(store, "local", False)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], datetime] = utc_now) -> Service:
        service = cls(load_content(settings), open_store(settings), Pseudonyms(settings.pepper), clock, settings.handoff, settings.limits)
        # The worker deletes with the sender it builds for these settings (runtime.build_senders).
        service.twilio_deletes = settings.channels.twilio_sends
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

        The delivery is claimed, the turn run, the state saved and (Telegram) the replies written
        to the outbox, all in one transaction holding that person's lock. A redelivery gets the
        reply recorded the first time (SMS) or nothing new (Telegram: its replies are queued).
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

    def grouped(self):
        """Deliveries received inside this share their commit with others of the moment (SQLite,
        on the web app's event loop); await ``settled`` before answering (``web.webhooks``)."""
        return self.store.grouped()

    async def settled(self) -> None:
        """Until what this task's deliveries wrote is committed; raises if that failed (their
        answers must then not go out: the caller answers with ``fallback``)."""
        await self.store.settled()

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
        queued = inbound.channel in QUEUED_CHANNELS
        twilio = self.twilio_deletes and inbound.channel in TWILIO_CHANNELS
        if not twilio and isinstance(inbound.message_ref, str):
            inbound = replace(inbound, message_ref=None)  # nothing is deleted at Twilio: keep no SID
        inbound_sid = [inbound.message_ref] if twilio and inbound.message_ref else []
        deleting = False
        with self.store.conversation(pseudonym, now) as held:
            if inbound.kind is InboundKind.OPT_OUT:
                sids = kept_sids(held.channel_state) + inbound_sid
                held.erase()  # the carrier blocked the number: nothing can reach them, keep nothing
                deleting = self._delete_at_twilio(held, sids)  # what Twilio keeps of it too, STOP included
                if not held.record_delivery(delivery.provider, key, None):
                    raise _Redelivery
                return Reception((), enqueued=deleting)
            kept_ids = [message_id for message_id, _ in held.channel_state.get("messages", [])]
            sids = kept_sids(held.channel_state) if twilio else []
            if len(sids) >= MAX_KEPT_SIDS:  # a very long conversation: the oldest go now
                spill = len(sids) - MAX_KEPT_SIDS + 1
                deleting = self._delete_at_twilio(held, sids[:spill])
                sids = held.channel_state["sids"] = sids[spill:]
            language = held.session.language if held.session else self.content.catalog.resolve(inbound.language_hint) or self.content.catalog.default
            held_back = self.limits.held_back(held, inbound, self._engine(held.session), language, now)
            if held_back is not None and held_back.new:
                # Past the minute's new conversations: a static answer, in the webhook's own
                # response on either channel (nothing queued, no receipt: nothing here to apply
                # twice), and Twilio's copy of the message deleted, as nothing of it is kept.
                deleting = self._delete_at_twilio(held, inbound_sid) or deleting
                busy = Outbound(self._text("limits.busy", language))
                return Reception((busy,), self.content.catalog.locales[language].sms_alphabet, enqueued=deleting)
            if held_back is not None:
                turn = self._held_back_turn(held, inbound, held_back, language, now)
            else:
                turn = self._turn(held, inbound, now)  # keeps the inbound's SID when it keeps the conversation
            if twilio and turn.session is None:
                # Nothing of the conversation is kept now (a quick exit, an end, or nothing to keep
                # at all): nor at Twilio. Its replies' SIDs, learned later from their status
                # callbacks, find no conversation and are deleted then (``message_sent``).
                deleting = self._delete_at_twilio(held, sids + inbound_sid) or deleting
            language = turn.session.language if turn.session else self.content.catalog.default
            if queued:
                channel = inbound.channel.value
                if delivery.callback_id:  # after the turn: a restart must not drop it with the old stream
                    held.enqueue(channel, "answer", {"callback_id": delivery.callback_id})
                if turn.erased:  # quick exit: both sides of the chat, as far as still deletable
                    ids = kept_ids + ([inbound.message_ref] if inbound.message_ref is not None else [])
                    if ids:
                        held.enqueue(channel, "delete", {"to": inbound.address, "message_ids": ids})
                for output in turn.outputs:
                    # after a quick exit, its one line must stay on the phone: not kept for deletion
                    held.enqueue(channel, "send", {"to": inbound.address, "after_exit": turn.erased, **encode_output(output)})
            reply = None if queued else json.dumps([encode_output(o) for o in turn.outputs]).encode()
            if not held.record_delivery(delivery.provider, key, reply):
                raise _Redelivery  # applied before: roll this turn back whole
        alphabet = self.content.catalog.locales[language].sms_alphabet
        personal = any(isinstance(e, LinesDelivered) for e in turn.events)
        return Reception(turn.outputs, alphabet=alphabet, queued=queued, enqueued=deleting, personal=personal)

    def _delete_at_twilio(self, held, sids: list[str]) -> bool:
        """Queue the deletion at Twilio of messages ``sids`` in ``held``'s transaction (sealed in
        the outbox, each batch on a stream of its own: an erasure of the conversation must not
        take its deletions with it, and one message not yet deletable must not hold up the
        others). Returns whether anything was queued."""
        sids = list(dict.fromkeys(sid for sid in sids if isinstance(sid, str)))
        if not self.twilio_deletes or not sids:
            return False
        for batch in sid_batches(sids):
            held.enqueue(TWILIO_DELETES, "delete", {"sids": batch}, stream=secrets.token_hex(16))
        return True

    def _held_back_turn(self, held, inbound: Inbound, held_back: HeldBack, language: str, now: datetime) -> Turn:
        """A message over the person's limit: no engine turn. Its id is still kept (a later quick
        exit deletes it from the chat), and inside a handoff the line still goes to the advocate's
        transcript; the first one of the minute is told to wait (nothing more while an advocate
        holds the chat: what they write is read)."""
        if inbound.message_ref is not None:
            remember_message(held.channel_state, inbound.message_ref, now)
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
        held.save_channel_state(keep_until(held.channel_state))
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
                remember_message(held.channel_state, inbound.message_ref, now)
            held.save(turn.session, now + engine.flow.idle_timeout, keep_until(held.channel_state))
            if self.handoffs is not None:
                turn, active = self._handoff_turn(held, inbound, turn, None if turn.restarted else active, now)
                if waiting_lines and not turn.restarted and not any(isinstance(e, ConversationExpired) for e in turn.events):
                    turn = self._with_waiting_lines(held, turn, drop=away)
                status = active.status if active else None
                if turn.session.handoff != status:  # a handoff opened in this turn: remember it
                    turn = Turn(replace(turn.session, handoff=status), turn.outputs, turn.events)
                    held.save(turn.session, now + engine.flow.idle_timeout, keep_until(held.channel_state))
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
        """Tell the advocates' Telegram group, if configured, of the chats waiting it was not
        told of (labels only, never content), a few notices a minute (``Limits.notice``), in the
        caller's transaction. Returns whether one was queued."""
        chat = self.handoff_settings.advocate_telegram_chat
        text = self.limits.notice(cursor, now) if chat else None
        if text:
            # On a stream of its own: a slow or failing group must not hold up the person's replies.
            payload = {"to": chat, "text": text, "choices": [], "offer": None, "notice": True}
            self.store.statements.enqueue.run(cursor, **new_message(self.store.keys, NOTICE_STREAM, "telegram", "send", payload, now))
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

    # The console's calls (through bot/console.py), each checked there for who may make it, and again
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
            # Not an answer to anything the person just wrote: on Telegram it arrives without a sound.
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
            held.save(session, now + engine.flow.idle_timeout, keep_until(held.channel_state))
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

        With ``channel`` and ``address`` (whom a Twilio message went to: its status callback's
        ``To``) the SID is also kept with that person's conversation, or, with none kept (the
        line after a quick exit, a reply to someone of whom nothing is kept), its deletion at
        Twilio is queued (``message_sent``). This is how the SIDs of TwiML replies are learned."""
        new = self.store.record_status(
            self.pseudonyms.of(f"sent:{provider}", message_id), status[:24], (error_code or None) and str(error_code)[:12], self.clock()
        )
        if provider == "twilio" and self.twilio_deletes and channel is not None and address:
            self.message_sent(Channel(channel).value, address, message_id)
        return new

    def message_sent(self, channel: str, address: str, message_id: int | str) -> None:
        """Message ``message_id`` went to ``address``: keep its id (sealed) so that the end of
        the conversation can delete it. If nothing of the conversation is kept (a quick exit
        while it was on its way, or after), delete it now.

        ``message_id``: a Telegram message id (int; the worker's sends), or a Twilio SID (str;
        the worker's REST sends, and every status callback, ``record_status``). A SID already
        kept costs no write, and one with no conversation is queued for deletion once (a claim
        in ``deliveries``: its ``sent`` and ``delivered`` callbacks queue one deletion)."""
        twilio = isinstance(message_id, str)
        if twilio and not self.twilio_deletes:
            return
        now = self.clock()
        queued = False
        with self.store.conversation(self.pseudonyms.of(channel, address), now) as held:
            if held.id is not None:
                if twilio and message_id in kept_sids(held.channel_state):
                    return
                remember_message(held.channel_state, message_id, now)
                if twilio and len(kept_sids(held.channel_state)) > MAX_KEPT_SIDS:
                    queued = self._delete_at_twilio(held, [held.channel_state["sids"].pop(0)])
                held.save_channel_state(keep_until(held.channel_state))
            elif twilio:
                if held.record_delivery("twilio-delete", self.pseudonyms.of("delete:twilio", message_id), None):
                    queued = self._delete_at_twilio(held, [message_id])
            else:
                held.enqueue(channel, "delete", {"to": address, "message_ids": [message_id]})
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
        """The person opted out at the carrier (Twilio 21610, on a send or in a status callback):
        keep nothing, send nothing more, and delete what Twilio keeps of the conversation."""
        channel = Channel(channel)
        with self.store.conversation(self.pseudonyms.of(channel.value, address), self.clock()) as held:
            sids = kept_sids(held.channel_state) if channel in TWILIO_CHANNELS else []
            held.erase()
            queued = self._delete_at_twilio(held, sids)
        if queued and self.on_enqueued:
            self.store.after_commit(self.on_enqueued)

    def purge_expired(self) -> int:
        """Erase the conversations idle past their expiry (and their handoffs); returns how many.
        The Twilio SIDs they kept are read before their rows go, and their deletions queued, in
        the same transaction."""
        if self.twilio_deletes:
            return self.store.purge_expired(self.clock(), twilio_deletes=True)
        return self.store.purge_expired(self.clock())

"""The one orchestrator, a thin facade: a message in, replies out, state saved, nothing leaked.

    service = Service.from_settings(Settings.from_env())
    replies = service.handle(Inbound(Channel.SMS, "+15551234567", "hola"))

``Service`` composes the parts, each a module with one job, and each given its collaborators
explicitly:

- ``turn``: the turn (dedupe, lock, load, ``Engine.resume``, save, dispatch), ``Reception``;
- ``handoff_turn``: the handoff side of a turn; ``desk``: the handoff desk (the console's
  actions, reminders, abandonment); ``notices``: the advocates' group's notices;
- ``receipts``: what providers report after a send (statuses, sent ids, carrier opt-outs);
- ``kept``: what providers keep of a conversation and when it is deleted; ``limits``: abuse and
  cost limits; ``console``: the console facade over this one;
- ``wiring``: the stores, the records only the SQL store has, the content a process starts
  with (the published revision, ``bot.content``), and what the settings open.

Content is ``bot.content.LiveContent``: the published revision, switched between turns when
another is published (``watcher``, run by the web app and the worker); ``studio`` edits it.

The outbox's wire form is beside ``Outbound`` (``bot.domain.messages``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from bot.channels.base import ChannelAdapter, Delivery
from bot.channels.registry import build_adapters, by_channel, default_adapters
from bot.config import HandoffSettings, LimitSettings, Settings
from bot.domain.messages import Channel, Inbound, Outbound, decode_output, decode_outputs, encode_output
from bot.engine import Turn
from bot.handoff import Handoff, OfficeHours
from bot.content import DEFAULT_FLOW, FALLBACK_TEXT, Content, ContentWatcher, LiveContent, Studio, load_content, read_content
from bot.service.desk import HandoffDesk
from bot.service.handoff_turn import HandoffSide
from bot.service.kept import Kept
from bot.service.limits import Limits
from bot.service.notices import NOTICE_STREAM, Notices
from bot.service.receipts import Receipts
from bot.service.turn import Reception, Turns
from bot.service.wiring import (
    EPOCH_SHARE, content_of, open_studio, ConversationStore, Records, Wakeup, key_ring, open_accounts, open_store, schema_revisions, upgrade_database,
)
from bot.store import Pseudonyms

# The names other packages import from here, wherever they live in the package.
__all__ = [
    "DEFAULT_FLOW", "EPOCH_SHARE", "FALLBACK_TEXT", "NOTICE_STREAM", "Content", "ConversationStore", "LiveContent", "Reception", "Records",
    "Service", "decode_output", "decode_outputs", "encode_output", "key_ring", "load_content", "open_accounts", "open_store", "open_studio", "read_content",
    "schema_revisions", "upgrade_database", "utc_now",
]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Service:
    """``records``: what only the SQL store keeps (handoffs, accounts, the limits' counters);
    by default ``Records.of(store)``, None on the memory store: then no handoff desk, no console,
    and the limits count nothing."""

    def __init__(
        self,
        content: Content | LiveContent,
        store: ConversationStore,
        pseudonyms: Pseudonyms,
        clock: Callable[[], datetime] = utc_now,
        handoff: HandoffSettings | None = None,
        limits: LimitSettings | None = None,
        adapters: tuple[ChannelAdapter, ...] | None = None,
        *,
        records: Records | None = None,
        studio: Studio | None = None,
        watcher: ContentWatcher | None = None,
    ):
        content = content if isinstance(content, LiveContent) else LiveContent(content)
        self.content = content
        self.studio = studio  # None: content from the files, not editable (the memory store)
        self.watcher = watcher
        self.store = store
        self.pseudonyms = pseudonyms
        self.clock = clock
        self.handoff_settings = handoff or HandoffSettings()
        self.office_hours = OfficeHours.parse(self.handoff_settings.office_hours, self.handoff_settings.office_timezone)
        if records is None:
            records = Records.of(store, self.handoff_settings, pseudonyms)
        self.records = records
        self.handoffs = records.handoffs if records else None
        self.accounts = records.accounts if records else None  # the console's people and sessions
        self.limits = Limits(limits or LimitSettings(), records.windows if records else None, self.handoffs)
        self.fallback = Outbound(content.fallback_text())
        self.wakeup = Wakeup()  # ``on_enqueued``
        # What each channel keeps of a conversation's messages, and whether the copies a provider
        # keeps are deleted (``kept.deletes_copies``: credentials set, ``from_settings``; needs
        # the SQL store).
        self.kept = Kept(by_channel(adapters or default_adapters()))
        self.desk: HandoffDesk | None = None
        self.notices: Notices | None = None
        side = None
        if records is not None:
            self.notices = Notices(records, self.limits, self.handoff_settings.advocate_telegram_chat, clock, self.wakeup)
            self.desk = HandoffDesk(content, records, self.kept, self.handoff_settings, clock, self.wakeup)
            side = HandoffSide(content, records, self.limits, self.notices, self.handoff_settings, self.office_hours)
        self.turns = Turns(content, store, pseudonyms, clock, self.kept, self.limits, side, self.wakeup, self.fallback)
        self.receipts = Receipts(store, pseudonyms, clock, self.kept, self.wakeup)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], datetime] = utc_now) -> Service:
        adapters = build_adapters(settings, senders=False)  # what each channel does; the worker sends
        store = open_store(settings)
        pseudonyms = Pseudonyms(settings.pepper)
        live, revisions = content_of(settings, store, clock)
        service = cls(
            live, store, pseudonyms, clock, settings.handoff, settings.limits, adapters,
            records=Records.of(store, settings.handoff, pseudonyms),
            studio=Studio(revisions, settings.regions, clock, live, settings.content_poll_seconds) if revisions else None,
            watcher=ContentWatcher(revisions, live, settings.regions) if revisions else None,
        )
        # The worker deletes with the senders it builds for these settings.
        service.kept.deletes_copies = any(a.keeps_copies and a.deletes for a in adapters)
        return service

    @property
    def on_enqueued(self) -> Callable[[], None] | None:
        """Wakes an in-process worker when something was queued (``bot.runtime`` sets it)."""
        return self.wakeup.callback

    @on_enqueued.setter
    def on_enqueued(self, callback: Callable[[], None] | None) -> None:
        self.wakeup.callback = callback

    # -- turns (``bot.service.turn``) ---------------------------------------------------------------

    def handle(self, inbound: Inbound) -> list[Outbound]:
        """Replies to ``inbound``, in order. Never raises for anything a person can send."""
        return self.turns.handle(inbound)

    def run_turn(self, inbound: Inbound) -> Turn:
        """One turn, committed; raises when it cannot be completed (nothing is then saved)."""
        return self.turns.run_turn(inbound)

    def receive(self, delivery: Delivery) -> Reception:
        """Apply a provider's delivery once; never raises for anything a provider can send.

        The delivery is claimed, the turn run, the state saved and (a ``queued`` channel) the
        replies written to the outbox, all in one transaction holding that person's lock. A
        redelivery gets the reply recorded the first time, or nothing new (queued replies).
        Needs the SQL store (``SessionStore``).
        """
        return self.turns.receive(delivery)

    async def turn(self, function: Callable, *args):
        """``function(*args)`` (a call of this service that writes) from the event loop, returned
        once what it wrote is committed; raises if that failed (the caller answers with
        ``fallback``). The store decides how (``SessionStore.turn``)."""
        return await self.store.turn(function, *args)

    # -- the handoff desk (``bot.service.desk``), called through ``bot.service.console`` -----------

    def claim_handoff(self, handoff_id: str, user_id: int, actor: str) -> Handoff:
        return self.desk.claim(handoff_id, user_id, actor)

    def answer(self, handoff: Handoff, text: str, user_id: int, actor: str) -> None:
        self.desk.answer(handoff, text, user_id, actor)

    def end_handoff(self, handoff: Handoff, how: str, actor: str, by: int | None = None, tell_person: bool = True) -> None:
        self.desk.end(handoff, how, actor, by, tell_person)

    def remind_waiting(self) -> int:
        """The worker: the 24/7 line to people waiting long. Returns how many were told."""
        return self.desk.remind_waiting() if self.desk else 0

    def close_abandoned(self) -> int:
        """The worker: close handoffs with nothing new for ``abandon_hours``. Returns how many."""
        return self.desk.close_abandoned() if self.desk else 0

    def flush_notices(self) -> bool:
        """The worker, at each new minute: the notice the minute before had no room for."""
        return self.notices.flush() if self.notices else False

    # -- what providers report (``bot.service.receipts``) -------------------------------------------

    def record_status(
        self, provider: str, message_id: str, status: str, error_code: str | None,
        channel: Channel | str | None = None, address: str | None = None,
    ) -> bool:
        return self.receipts.record_status(provider, message_id, status, error_code, channel, address)

    def message_sent(self, channel: str, address: str, message_id: int | str) -> None:
        self.receipts.message_sent(channel, address, message_id)

    def opted_out(self, channel: Channel | str, address: str) -> None:
        self.receipts.opted_out(channel, address)

    # -- housekeeping --------------------------------------------------------------------------------

    def purge_expired(self) -> int:
        """Erase the conversations idle past their expiry (and their handoffs); returns how many.
        The ids of the copies providers keep are read before their rows go, and their deletions
        queued, in the same transaction."""
        if self.kept.deletes_copies:
            return self.store.purge_expired(self.clock(), deletions=self.kept.deletion_jobs)
        return self.store.purge_expired(self.clock())

    def close(self) -> None:
        """Finish what the SQL store has pending (the last erasure's shredding) and close it."""
        if self.records is not None:
            self.records.store.close()

    def ping(self) -> None:
        """Raise unless the database answers (for ``GET /healthz``)."""
        self.store.ping()

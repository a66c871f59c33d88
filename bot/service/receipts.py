"""What providers report after a send: a delivery status, the id of a message sent (kept so that
the conversation's end, or a quick exit, can delete it at the provider), a carrier opt-out.
Called by the webhooks' status callbacks and by the worker, through ``Service``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.domain.messages import Channel
from bot.service.kept import Kept
from bot.service.wiring import ConversationStore, Wakeup
from bot.store import Pseudonyms


class Receipts:
    def __init__(self, store: ConversationStore, pseudonyms: Pseudonyms, clock: Callable[[], datetime], kept: Kept, wakeup: Wakeup):
        self.store = store
        self.pseudonyms = pseudonyms
        self.clock = clock
        self.kept = kept
        self.wakeup = wakeup

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
        if queued:
            self.wakeup.after_commit(self.store)

    def opted_out(self, channel: Channel | str, address: str) -> None:
        """The person opted out at the carrier (on a send or in a status callback): keep nothing,
        send nothing more, and delete what the provider keeps of the conversation."""
        channel = Channel(channel)
        with self.store.conversation(self.pseudonyms.of(channel.value, address), self.clock()) as held:
            ids = self.kept.kept_copies(channel, held.channel_state)
            held.erase()
            queued = self.kept.delete_copies(held, channel, ids)
        if queued:
            self.wakeup.after_commit(self.store)

"""Notices to the advocates' group: a chat started waiting (labels only, never content), a few a
minute (``Limits.notice``), each in the transaction that opened the handoff or, for the chats
past the minute's notices, in the worker's next minute (``flush``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.channels.registry import NOTICES_CHANNEL
from bot.domain.messages import Outbound, send_payload
from bot.service.limits import Limits
from bot.service.wiring import Records, Wakeup
from bot.store.outbox import new_message

NOTICE_STREAM = "advocates-notices"  # the outbox stream of messages to the advocates' group


class Notices:
    """``chat``: the advocates' Telegram group (``SAFEHARBOR_ADVOCATE_TELEGRAM_CHAT``), or None:
    then nobody is told and every handoff opens as noticed."""

    def __init__(self, records: Records, limits: Limits, chat: str | None, clock: Callable[[], datetime], wakeup: Wakeup):
        self.records = records
        self.limits = limits
        self.chat = chat
        self.clock = clock
        self.wakeup = wakeup

    def notify(self, cursor, now: datetime) -> bool:
        """Tell the advocates' group, if configured, of the chats waiting it was not told of, in
        the caller's transaction. Returns whether a notice was queued."""
        text = self.limits.notice(cursor, now) if self.chat else None
        if text:
            # On a stream of its own: a slow or failing group must not hold up the person's replies.
            payload = send_payload(self.chat, Outbound(text), notice=True)
            store = self.records.store
            store.statements.enqueue.run(cursor, **new_message(store.keys, NOTICE_STREAM, NOTICES_CHANNEL.value, "send", payload, now))
        return bool(text)

    def flush(self) -> bool:
        """The worker, at each new minute: one notice naming the chats that started waiting while
        the notices of the minute before were used up. Returns whether one was queued."""
        if not self.chat or not self.records.handoffs.any_unnoticed():
            return False
        with self.records.store.transaction() as cursor:
            queued = self.notify(cursor, self.clock())
        if queued:
            self.wakeup.now()
        return queued

"""What the service keeps of a conversation's messages at their providers, through the adapters.

A conversation's ``channel_state`` (sealed with it) holds what its channel's adapter needs to
delete its messages later: the ids a quick exit deletes from the person's chat
(``deletes_chat``), and the ids of the copies a provider keeps until they are deleted through
its API (``keeps_copies``). The format is the adapter's (``remember_sent``), and the deletion
jobs are the adapter's too (``deletion_jobs``); this module only decides when, in the caller's
transaction.

``Kept(adapters)``; ``kept.deletes_copies`` says whether copies are deleted at all (the
settings give the credentials to: ``Service.from_settings``). Off, no copy's id is kept and no
deletion queued.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from bot.channels.base import ChannelAdapter
from bot.domain.messages import Channel


class Kept:
    """``adapters``: by channel value (``bot.channels.registry.by_channel``)."""

    def __init__(self, adapters: dict[str, ChannelAdapter]):
        self.adapters = adapters
        self.deletes_copies = False
        self._unique = tuple({id(a): a for a in adapters.values()}.values())

    def of(self, channel: Channel | str) -> ChannelAdapter:
        return self.adapters[Channel(channel).value]

    def copies(self, channel: Channel | str) -> ChannelAdapter | None:
        """The adapter of ``channel`` when the copies its provider keeps are deleted, else None."""
        adapter = self.of(channel)
        return adapter if self.deletes_copies and adapter.keeps_copies else None

    def keep_until(self, channel_state: dict) -> datetime | None:
        """Until when ``channel_state`` must outlive its conversation (the latest any adapter
        asks: a chat still deletable), or None."""
        times = [t for t in (a.keep_until(channel_state) for a in self._unique) if t is not None]
        return max(times) if times else None

    def remember(self, channel: Channel | str, channel_state: dict, message_id, now: datetime) -> None:
        self.of(channel).remember_sent(channel_state, message_id, now)

    def kept_copies(self, channel: Channel | str, channel_state: dict) -> list:
        """The ids of the copies ``channel``'s provider keeps of this conversation (none when
        they are not deleted)."""
        adapter = self.copies(channel)
        return adapter.kept(channel_state) if adapter is not None else []

    def delete_copies(self, held, channel: Channel | str, ids) -> bool:
        """Queue the deletion at the provider of the copies ``ids`` in ``held``'s transaction
        (sealed in the outbox, each batch on a stream of its own: an erasure of the conversation
        must not take its deletions with it, and one message not yet deletable must not hold up
        the others). Returns whether anything was queued."""
        adapter = self.copies(channel)
        if adapter is None or not ids:
            return False
        jobs = adapter.deletion_jobs(ids)
        for job_channel, kind, payload in jobs:
            held.enqueue(job_channel, kind, payload, stream=secrets.token_hex(16))
        return bool(jobs)

    def deletion_jobs(self, channel_state: dict) -> list[tuple[str, str, dict]]:
        """Every job deleting the copies ``channel_state`` names (a purged conversation's)."""
        return [job for a in self._unique if a.keeps_copies for job in a.deletion_jobs(a.kept(channel_state))]

"""The abuse and cost limits (``SAFEHARBOR_LIMIT_*``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from bot.config.values import whole_number


@dataclass(frozen=True)
class LimitSettings:
    """Abuse and cost limits (README "Limits" says why each default). Each is a whole number of
    at least 1; there is no "off": a deployment that wants none sets a number it never reaches.

    ``SAFEHARBOR_LIMIT_NEW_CONVERSATIONS_PER_MINUTE`` (30): conversations started per clock
    minute, across every process; past it a new number gets one short static answer.
    ``SAFEHARBOR_LIMIT_MESSAGES_PER_PERSON_PER_MINUTE`` (20): one person's messages answered per
    clock minute. ``SAFEHARBOR_LIMIT_WAITING_HANDOFFS`` (20): chats waiting for an advocate,
    counted apart for urgent and other requests. ``SAFEHARBOR_LIMIT_TRANSCRIPT_LINES`` (200) and
    ``SAFEHARBOR_LIMIT_TRANSCRIPT_KB`` (64): what one handoff keeps of the person's own lines.
    ``SAFEHARBOR_LIMIT_NOTICES_PER_MINUTE`` (2): messages to the advocates' group; the chats
    that wait past it are named together in the next one. ``SAFEHARBOR_LIMIT_TELEGRAM_PER_SECOND``
    (25): Bot API calls of all workers together, below Telegram's "30 or so" because sends
    arrive with some jitter, so a second can see more than were reserved for it (bench/NOTES.md).
    Emergency words and the quick exit are never limited.
    """

    new_conversations_per_minute: int = 30
    messages_per_person_per_minute: int = 20
    waiting_handoffs: int = 20
    transcript_lines: int = 200
    transcript_kb: int = 64
    notices_per_minute: int = 2
    telegram_per_second: int = 25

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LimitSettings:
        return cls(**{
            name: whole_number(env, f"SAFEHARBOR_LIMIT_{name.upper()}", default)
            for name, default in ((f.name, f.default) for f in fields(cls))
        })

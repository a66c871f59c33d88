"""Handing chats to advocates, and the console's sessions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.config.values import ConfigError, whole_number


@dataclass(frozen=True)
class HandoffSettings:
    """Handing chats to advocates, and the console.

    ``SAFEHARBOR_HANDOFF_WAIT_MINUTES`` (10): the wait a person is told, and after which, unclaimed,
    they are sent the 24/7 alternative. ``SAFEHARBOR_OFFICE_HOURS`` (empty: always staffed, e.g.
    ``mon-fri 09:00-17:00; sat 10:00-14:00``) in ``SAFEHARBOR_OFFICE_TIMEZONE`` (UTC).
    ``SAFEHARBOR_TRANSCRIPT_RETENTION_HOURS`` (72): a closed handoff's transcript is shredded
    after that. ``SAFEHARBOR_CONSOLE_IDLE_MINUTES`` (30) and ``SAFEHARBOR_CONSOLE_SESSION_HOURS``
    (12): console sessions end after that long idle, or that long after login.
    ``SAFEHARBOR_ADVOCATE_TELEGRAM_CHAT``: a Telegram chat id of the advocates' group, told the
    label (never content) of each new waiting chat; unset, nothing is sent.
    ``SAFEHARBOR_HANDOFF_ABANDON_HOURS`` (24): a waiting or held chat with nothing new for that
    long is closed (nothing sent), so no request or silent bot lasts for ever.
    """

    wait_minutes: int = 10
    office_hours: str = ""
    office_timezone: str = "UTC"
    transcript_retention_hours: int = 72
    console_idle_minutes: int = 30
    console_session_hours: int = 12
    advocate_telegram_chat: str | None = None
    abandon_hours: int = 24

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> HandoffSettings:
        def number(name: str, default: int) -> int:
            return whole_number(env, name, default)

        settings = cls(
            wait_minutes=number("SAFEHARBOR_HANDOFF_WAIT_MINUTES", 10),
            office_hours=env.get("SAFEHARBOR_OFFICE_HOURS", "").strip(),
            office_timezone=env.get("SAFEHARBOR_OFFICE_TIMEZONE", "").strip() or "UTC",
            transcript_retention_hours=number("SAFEHARBOR_TRANSCRIPT_RETENTION_HOURS", 72),
            console_idle_minutes=number("SAFEHARBOR_CONSOLE_IDLE_MINUTES", 30),
            console_session_hours=number("SAFEHARBOR_CONSOLE_SESSION_HOURS", 12),
            advocate_telegram_chat=env.get("SAFEHARBOR_ADVOCATE_TELEGRAM_CHAT", "").strip() or None,
            abandon_hours=number("SAFEHARBOR_HANDOFF_ABANDON_HOURS", 24),
        )
        from bot.handoff.hours import OfficeHours, ScheduleError

        try:
            OfficeHours.parse(settings.office_hours, settings.office_timezone)
        except ScheduleError as exc:
            raise ConfigError(f"SAFEHARBOR_OFFICE_HOURS / SAFEHARBOR_OFFICE_TIMEZONE: {exc}") from None
        return settings

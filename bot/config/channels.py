"""The channels' settings: the public URL providers call, Twilio's and Telegram's credentials."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.config.values import ConfigError


@dataclass(frozen=True)
class ChannelSettings:
    """Twilio and Telegram: present only when configured (a channel without credentials is off).

    ``public_url`` is the base URL Twilio signs against (``SAFEHARBOR_PUBLIC_URL``): signatures
    are checked against it plus the path, never against a Host header a client could set.
    """

    public_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_webhook_shared_key: str | None = field(default=None, repr=False)
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_base_url: str = "https://api.twilio.com"
    telegram_bot_token: str | None = field(default=None, repr=False)
    telegram_webhook_secret: str | None = field(default=None, repr=False)
    telegram_api_base_url: str = "https://api.telegram.org"

    @property
    def twilio_receives(self) -> bool:
        return bool(self.twilio_auth_token and self.public_url)

    @property
    def twilio_sends(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and (self.twilio_from_number or self.twilio_messaging_service_sid))

    @property
    def telegram_sends(self) -> bool:
        return bool(self.telegram_bot_token)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ChannelSettings:
        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        public_url = get("SAFEHARBOR_PUBLIC_URL")
        if public_url and not public_url.startswith(("https://", "http://")):
            raise ConfigError("SAFEHARBOR_PUBLIC_URL must start with https:// (or http:// for local tests): the URL Twilio calls")
        for name in ("TWILIO_API_BASE_URL", "TELEGRAM_API_BASE_URL"):
            value = get(name)
            if value and not value.startswith(("https://", "http://")):
                raise ConfigError(f"{name} must be an http(s) URL")
        secret = get("TELEGRAM_WEBHOOK_SECRET")
        if secret and not all(c.isalnum() or c in "_-" for c in secret) or (secret and not 1 <= len(secret) <= 256):
            raise ConfigError("TELEGRAM_WEBHOOK_SECRET: 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return cls(
            public_url=public_url.rstrip("/") if public_url else None,
            twilio_account_sid=get("TWILIO_ACCOUNT_SID"),
            twilio_auth_token=get("TWILIO_AUTH_TOKEN"),
            twilio_webhook_shared_key=get("TWILIO_WEBHOOK_SHARED_KEY"),
            twilio_from_number=get("TWILIO_FROM_NUMBER"),
            twilio_messaging_service_sid=get("TWILIO_MESSAGING_SERVICE_SID"),
            twilio_api_base_url=(get("TWILIO_API_BASE_URL") or "https://api.twilio.com").rstrip("/"),
            telegram_bot_token=get("TELEGRAM_BOT_TOKEN"),
            telegram_webhook_secret=secret,
            telegram_api_base_url=(get("TELEGRAM_API_BASE_URL") or "https://api.telegram.org").rstrip("/"),
        )

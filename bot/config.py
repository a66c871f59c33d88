"""Configuration from the environment (names as in DESIGN "Public interface").

Keys: ``SAFEHARBOR_ENCRYPTION_KEYS`` (comma-separated Fernet keys, newest first) and
``SAFEHARBOR_PEPPER``. When either is absent outside production, development keys are generated
once into ``$SAFEHARBOR_HOME/dev-keys.json`` (``.safeharbor/`` by default, ignored by git) with a
warning; with ``SAFEHARBOR_ENV=production`` the service refuses to start instead.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from cryptography.fernet import Fernet

log = logging.getLogger("safeharbor.config")

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # holds flows/ and locales/ in a checkout
ENVIRONMENTS = ("development", "test", "production")


class ConfigError(Exception):
    """The configuration cannot be used; the message says which variable and what to do."""


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


def whole_number(env: Mapping[str, str], name: str, default: int) -> int:
    """``env[name]`` as a whole number of at least 1, ``default`` when unset or empty."""
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{name}={text!r}: a whole number of at least 1")
    return int(text)


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
    (25): Bot API calls of all workers together (Telegram allows "30 or so"; sends arrive with
    some jitter, so 30 reserved a second were seen as 33 in one second, bench/limits.py).
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


@dataclass(frozen=True)
class Settings:
    env: str
    database_url: str
    encryption_keys: tuple[str, ...] = field(repr=False)
    pepper: bytes = field(repr=False)
    home: Path
    content_dir: Path
    regions: tuple[str, ...] | None
    dev_keys: bool  # True when the keys were generated for development
    # The epoch keys' directory (``SAFEHARBOR_KEY_STORE``, default ``$SAFEHARBOR_HOME/keys``),
    # and how long after an erasure nothing of it opens with any key the service holds
    # (``SAFEHARBOR_ERASURE_BOUND_MINUTES``, default 60; decimals allowed).
    key_store: Path = Path(".safeharbor/keys")
    erasure_bound_minutes: float = 60.0
    channels: ChannelSettings = field(default_factory=ChannelSettings)
    handoff: HandoffSettings = field(default_factory=HandoffSettings)
    # SAFEHARBOR_TRUSTED_PROXIES: the peers whose X-Forwarded-For is believed (addresses or
    # networks); empty, the connecting address is the client's, whatever a header says.
    trusted_proxies: tuple[str, ...] = ()
    limits: LimitSettings = field(default_factory=LimitSettings)

    @property
    def flows_dir(self) -> Path:
        return self.content_dir / "flows"

    @property
    def locales_dir(self) -> Path:
        return self.content_dir / "locales"

    @property
    def resources_dir(self) -> Path:
        return self.flows_dir / "resources"

    @staticmethod
    def content_dir_from_env(environ: Mapping[str, str] | None = None) -> Path:
        """Where flows/ and locales/ are, without needing keys (for ``flows check``)."""
        env_vars = os.environ if environ is None else environ
        return Path(env_vars.get("SAFEHARBOR_CONTENT_DIR", str(PACKAGE_ROOT))).expanduser()

    @staticmethod
    def regions_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, ...] | None:
        """``SAFEHARBOR_REGIONS`` as a tuple, or None for every region file."""
        text = (os.environ if environ is None else environ).get("SAFEHARBOR_REGIONS")
        regions = tuple(r.strip() for r in text.split(",") if r.strip()) if text else ()
        return regions or None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env_vars = os.environ if environ is None else environ
        env = env_vars.get("SAFEHARBOR_ENV", "development").strip() or "development"
        if env not in ENVIRONMENTS:
            raise ConfigError(f"SAFEHARBOR_ENV={env!r}: use one of {', '.join(ENVIRONMENTS)}")
        home = Path(env_vars.get("SAFEHARBOR_HOME", ".safeharbor")).expanduser()
        content = cls.content_dir_from_env(env_vars)
        database_url = env_vars.get("DATABASE_URL") or f"sqlite:///{(home / 'safeharbor.db').as_posix()}"
        keys_text, pepper_text = env_vars.get("SAFEHARBOR_ENCRYPTION_KEYS"), env_vars.get("SAFEHARBOR_PEPPER")
        dev_keys = not (keys_text and pepper_text)
        if dev_keys:
            if env == "production":
                missing = [n for n, v in (("SAFEHARBOR_ENCRYPTION_KEYS", keys_text), ("SAFEHARBOR_PEPPER", pepper_text)) if not v]
                raise ConfigError(
                    f"{' and '.join(missing)} not set: production never uses generated keys. "
                    "Generate them with `safeharbor keys generate` and keep them outside the database."
                )
            keys_text, pepper_text = _development_keys(home, keys_text, pepper_text)
        keys = tuple(k.strip() for k in keys_text.split(",") if k.strip())
        for position, key in enumerate(keys, 1):
            try:
                Fernet(key)
            except (ValueError, TypeError):
                raise ConfigError(f"SAFEHARBOR_ENCRYPTION_KEYS: key {position} is not a Fernet key") from None
        if not keys:
            raise ConfigError("SAFEHARBOR_ENCRYPTION_KEYS holds no key")
        pepper = pepper_text.encode()
        if len(pepper) < 32:
            raise ConfigError("SAFEHARBOR_PEPPER must be at least 32 characters (use `safeharbor keys generate`)")
        return cls(
            env=env,
            database_url=database_url,
            encryption_keys=keys,
            pepper=pepper,
            home=home,
            content_dir=content,
            regions=cls.regions_from_env(env_vars),
            dev_keys=dev_keys,
            key_store=Path(env_vars.get("SAFEHARBOR_KEY_STORE", "").strip() or home / "keys").expanduser(),
            erasure_bound_minutes=_erasure_bound(env_vars.get("SAFEHARBOR_ERASURE_BOUND_MINUTES", "")),
            channels=ChannelSettings.from_env(env_vars),
            handoff=HandoffSettings.from_env(env_vars),
            trusted_proxies=trusted_proxies_from_env(env_vars),
            limits=LimitSettings.from_env(env_vars),
        )


def _erasure_bound(text: str) -> float:
    text = text.strip()
    if not text:
        return 60.0
    try:
        minutes = float(text)
    except ValueError:
        minutes = -1.0
    if not 0 < minutes <= 24 * 60:
        raise ConfigError(f"SAFEHARBOR_ERASURE_BOUND_MINUTES={text!r}: minutes, more than 0 and at most 1440 (a day)")
    return minutes


TRUSTED_PROXIES_ENV = "SAFEHARBOR_TRUSTED_PROXIES"


def trusted_proxies_from_env(env: Mapping[str, str]) -> tuple[str, ...]:
    """``SAFEHARBOR_TRUSTED_PROXIES`` as normalized addresses and networks (``10.0.0.0/8``);
    empty by default: no peer, not even 127.0.0.1, may say where a request came from.

    ``*`` is refused: behind a proxy that appends to the header a client already sent, trusting
    every peer would take the client's own first entry as its address, which is what a guesser
    rotates. Name the proxies (or their network) instead."""
    text = env.get(TRUSTED_PROXIES_ENV, "").strip()
    trusted = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if item == "*":
            raise ConfigError(
                f"{TRUSTED_PROXIES_ENV}: '*' would let any client choose its address; list the proxies' addresses or network (e.g. 10.0.0.0/8)"
            )
        try:
            trusted.append(str(ipaddress.ip_network(item, strict=False)) if "/" in item else str(ipaddress.ip_address(item)))
        except ValueError:
            raise ConfigError(f"{TRUSTED_PROXIES_ENV}: {item!r} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8)") from None
    return tuple(trusted)


def generate_keys() -> dict[str, str]:
    """A new key-encryption key and pepper, as the environment variables want them."""
    return {"SAFEHARBOR_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "SAFEHARBOR_PEPPER": secrets.token_urlsafe(48)}


def _development_keys(home: Path, keys_text: str | None, pepper_text: str | None) -> tuple[str, str]:
    path = home / "dev-keys.json"
    if path.exists():
        stored = json.loads(path.read_text())
    else:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        stored = generate_keys()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(stored, handle)
        log.warning("generated development keys in %s", path)
    log.warning(
        "using development keys from %s: fine for trying safeharbor, never for real people "
        "(set SAFEHARBOR_ENCRYPTION_KEYS and SAFEHARBOR_PEPPER)", path
    )
    return keys_text or stored["SAFEHARBOR_ENCRYPTION_KEYS"], pepper_text or stored["SAFEHARBOR_PEPPER"]

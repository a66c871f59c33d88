"""``Settings``: the whole configuration, read from the environment at start."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.config.channels import ChannelSettings
from bot.config.handoff import HandoffSettings
from bot.config.keys import keys_from_env
from bot.config.limits import LimitSettings
from bot.config.values import ConfigError

PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent  # holds flows/ and locales/ in a checkout

ENVIRONMENTS = ("development", "test", "production")


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
    # SAFEHARBOR_CONTENT_POLL_SECONDS: how often each process looks for a newly published content
    # revision (one indexed row); a publish reaches every process within about this long.
    content_poll_seconds: float = 2.0

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
        keys, pepper, dev_keys = keys_from_env(env_vars, env, home)
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
            content_poll_seconds=_poll_seconds(env_vars.get("SAFEHARBOR_CONTENT_POLL_SECONDS", "")),
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


def _poll_seconds(text: str) -> float:
    text = text.strip()
    if not text:
        return 2.0
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0.05 <= seconds <= 300:
        raise ConfigError(f"SAFEHARBOR_CONTENT_POLL_SECONDS={text!r}: seconds, from 0.05 to 300")
    return seconds


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

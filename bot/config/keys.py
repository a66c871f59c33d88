"""The key-encryption keys and the pepper: read, checked, or generated for development."""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet

from bot.config.values import ConfigError

log = logging.getLogger("safeharbor.config")


def generate_keys() -> dict[str, str]:
    """A new key-encryption key and pepper, as the environment variables want them."""
    return {"SAFEHARBOR_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "SAFEHARBOR_PEPPER": secrets.token_urlsafe(48)}


def keys_from_env(env_vars: Mapping[str, str], env: str, home: Path) -> tuple[tuple[str, ...], bytes, bool]:
    """``SAFEHARBOR_ENCRYPTION_KEYS`` and ``SAFEHARBOR_PEPPER``, checked, and whether they are
    development keys (either unset outside production: generated once into ``home``)."""
    keys_text, pepper_text = env_vars.get("SAFEHARBOR_ENCRYPTION_KEYS"), env_vars.get("SAFEHARBOR_PEPPER")
    dev_keys = not (keys_text and pepper_text)
    if dev_keys:
        if env == "production":
            missing = [n for n, v in (("SAFEHARBOR_ENCRYPTION_KEYS", keys_text), ("SAFEHARBOR_PEPPER", pepper_text)) if not v]
            raise ConfigError(
                f"{' and '.join(missing)} not set: production never uses generated keys. "
                "Generate them with `safeharbor keys generate` and keep them outside the database."
            )
        keys_text, pepper_text = development_keys(home, keys_text, pepper_text)
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
    return keys, pepper, dev_keys


def development_keys(home: Path, keys_text: str | None, pepper_text: str | None) -> tuple[str, str]:
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

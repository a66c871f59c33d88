"""What every part of the configuration shares: the error a bad value raises, and reading a
whole number."""

from __future__ import annotations

from collections.abc import Mapping


class ConfigError(Exception):
    """The configuration cannot be used; the message says which variable and what to do."""


def whole_number(env: Mapping[str, str], name: str, default: int) -> int:
    """``env[name]`` as a whole number of at least 1, ``default`` when unset or empty."""
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{name}={text!r}: a whole number of at least 1")
    return int(text)

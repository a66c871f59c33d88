"""Webhook authenticity: the secret token Telegram echoes in a header."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from ._constants import SECRET_HEADER


def is_authentic(headers: Mapping[str, str], secret: str | None) -> bool:
    """Whether a webhook request carries the secret given to setWebhook.

    Called by the web app before it reads the body. ``headers`` may be any mapping (Starlette's
    ``Headers`` or a plain dict); the header name is matched without regard to case. Returns
    False when no secret is configured (``None`` or ``""``): a bot must not accept
    unauthenticated webhooks. The comparison takes the same time whatever the header holds.

    >>> is_authentic({"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"}, "s3cret-Token_1")
    True
    >>> is_authentic({"x-telegram-bot-api-secret-token": "guess"}, "s3cret-Token_1")
    False
    >>> is_authentic({"X-Telegram-Bot-Api-Secret-Token": ""}, "")
    False
    """
    if not secret:
        return False
    given = _header(headers, SECRET_HEADER)
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8"))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)  # case-insensitive already for Starlette / httpx headers
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == wanted), None)
    return value if isinstance(value, str) else None

"""Keep chat ids, message text and the bot token out of the logs of the libraries we call.

python-telegram-bot logs every call's parameters (chat id, text) at DEBUG on ``telegram.Bot``,
the Bot API URL (which contains the token) when a ``Bot`` is created, and unparseable updates at
CRITICAL; httpx logs each request URL (again with the token) at INFO on ``httpx``. A filter on
each of those loggers replaces the arguments of PTB's records with ``<redacted>`` and the token
in httpx's with ``<token>``; the record itself (what happened, when) is kept.
"""

from __future__ import annotations

import logging
import threading

PTB_LOGGERS = ("telegram.Bot", "telegram.request.BaseRequest", "telegram.request.HTTPXRequest")
HTTP_LOGGERS = ("httpx",)
REDACTED = "<redacted>"

_lock = threading.Lock()
_tokens: set[str] = set()


class _RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name in PTB_LOGGERS:
            if record.args:
                record.args = (
                    {key: REDACTED for key in record.args}
                    if isinstance(record.args, dict)
                    else tuple(REDACTED for _ in record.args)
                )
            record.msg = _scrub(str(record.msg))
        elif record.args:
            if isinstance(record.args, tuple):
                record.args = tuple(_scrub(str(arg)) if _has_token(str(arg)) else arg for arg in record.args)
        return True


_FILTER = _RedactFilter()


def redact_token_in_logs(token: str) -> None:
    """Install the filter (once) and remember ``token`` to hide it. Call before creating a Bot."""
    with _lock:
        _tokens.add(token)
        for name in PTB_LOGGERS + HTTP_LOGGERS:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)


def scrub(text: str) -> str:
    """``text`` with every known bot token replaced by ``<token>``."""
    return _scrub(text)


def _has_token(text: str) -> bool:
    return any(token in text for token in _tokens)


def _scrub(text: str) -> str:
    for token in _tokens:
        text = text.replace(token, "<token>")
    return text

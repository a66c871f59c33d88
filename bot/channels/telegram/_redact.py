"""Keep chat ids and message text out of the logs of python-telegram-bot, and the token out of
every log.

python-telegram-bot logs every call's parameters (chat id, text) at DEBUG on ``telegram.Bot``,
the Bot API URL (which contains the token) when a ``Bot`` is created, and unparseable updates at
CRITICAL; httpx logs each request URL (again with the token) at INFO on ``httpx``. A filter on
PTB's loggers replaces the arguments of their records with ``<redacted>``; the token is
``<token>`` in every record (``bot.channels.redaction``, the one filter for every channel's
secrets). The record itself (what happened, when) is kept.
"""

from __future__ import annotations

import logging
import threading

from bot.channels.redaction import redact_secrets
from bot.channels.redaction import scrub as scrub  # re-exported for the sender's error reasons

PTB_LOGGERS = ("telegram.Bot", "telegram.request.BaseRequest", "telegram.request.HTTPXRequest")
REDACTED = "<redacted>"

_lock = threading.Lock()


class _ArgumentsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = (
                {key: REDACTED for key in record.args} if isinstance(record.args, dict) else tuple(REDACTED for _ in record.args)
            )
        return True


_FILTER = _ArgumentsFilter()


def redact_token_in_logs(token: str) -> None:
    """Install the filter (once) and hide ``token`` everywhere. Call before creating a Bot."""
    redact_secrets([token], "<token>")
    with _lock:
        for name in PTB_LOGGERS:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)

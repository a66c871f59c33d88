"""One logging filter for every channel's secrets (courier's ``RedactValues``).

``redact_secrets(values)`` registers secret values (a bot token, an auth token, a webhook
secret: each adapter's ``secrets``); from then on every log record made in this process, by any
logger (ours, httpx, python-telegram-bot, twilio), has them replaced in its message and its
string arguments, before any handler or formatter sees it. The record itself (what happened,
when) is kept. Installed as a wrapper of the log record factory, because a filter on a logger
does not see the records of its child loggers, and one on a handler misses handlers added later.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

REDACTED = "<redacted>"

_lock = threading.Lock()
_secrets: dict[str, str] = {}  # value -> what replaces it
_installed = False


def redact_secrets(values: Iterable[str | None], replacement: str = REDACTED) -> None:
    """Hide each non-empty value of ``values`` from every log record from now on."""
    global _installed
    with _lock:
        for value in values:
            if value and len(value) >= 4:  # a one-letter "secret" would redact every word
                _secrets.setdefault(value, replacement)
        if not _installed and _secrets:
            previous = logging.getLogRecordFactory()

            def factory(*args, **kwargs) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                _scrub_record(record)
                return record

            logging.setLogRecordFactory(factory)
            _installed = True


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced."""
    for value, replacement in tuple(_secrets.items()):
        if value in text:
            text = text.replace(value, replacement)
    return text


def _has_secret(text: str) -> bool:
    return any(value in text for value in tuple(_secrets))


def _scrub_record(record: logging.LogRecord) -> None:
    if isinstance(record.msg, str) and _has_secret(record.msg):
        record.msg = scrub(record.msg)
    args = record.args
    if isinstance(args, tuple) and args:
        if any(isinstance(arg, str) and _has_secret(arg) or not isinstance(arg, (str, int, float)) and _has_secret(str(arg)) for arg in args):
            record.args = tuple(scrub(str(arg)) if _has_secret(str(arg)) else arg for arg in args)
    elif isinstance(args, dict) and args:
        record.args = {key: scrub(value) if isinstance(value, str) else value for key, value in args.items()}

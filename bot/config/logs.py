"""``SAFEHARBOR_LOG_LEVEL``: how much the service logs (``WARNING`` by default), to stderr, the
same in every process (the command, and each web process ``serve --workers N`` starts)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

from bot.config.values import ConfigError

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(environ: Mapping[str, str] | None = None) -> None:
    """Set up the root logger from ``SAFEHARBOR_LOG_LEVEL``; ``ConfigError`` for an unknown level."""
    level = (os.environ if environ is None else environ).get("SAFEHARBOR_LOG_LEVEL", "WARNING").upper()
    if level not in LEVELS:
        raise ConfigError(f"SAFEHARBOR_LOG_LEVEL={level!r}: use DEBUG, INFO, WARNING or ERROR")
    logging.basicConfig(level=level, format=FORMAT, stream=sys.stderr)

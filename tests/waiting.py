"""Waiting for what the service promises within a time bound, rather than at once."""

from __future__ import annotations

import time
from collections.abc import Callable

# SessionStore empties SQLite's write-ahead log of erased pages within 1 s of an erasure
# (bot/store/database.py, JournalShredder); tests allow this much on a loaded machine.
SHREDDED_WITHIN = 3.0


def eventually(check: Callable[[], bool], within: float = SHREDDED_WITHIN, every: float = 0.02) -> bool:
    """True as soon as ``check()`` is; False if it is still false after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True

"""Understanding what a person wrote: from (text, language) to an intent, with no I/O.

``Understander(catalog).understand(text, language)`` -> ``Understanding``; see ``understand.py``
for the order (quick exit, crisis, then needs), ``words.py`` for normalization, ``phrases.py``
for the deterministic key phrases and ``examples.py`` for the nearest-examples classifier.
"""

from bot.understanding.understand import (
    CRISIS,
    DANGER,
    EXIT,
    GREETING,
    NONE,
    NOTHING,
    SELF_HARM,
    Understander,
    Understanding,
)

__all__ = ["CRISIS", "DANGER", "EXIT", "GREETING", "NONE", "NOTHING", "SELF_HARM", "Understander", "Understanding"]

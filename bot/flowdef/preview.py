"""What a lock screen shows of a message, and the words in it that could reveal the service."""

from __future__ import annotations

import re
import unicodedata

from bot.domain.text import fold_text
from bot.i18n import fold

# What a lock screen shows of a new message: iOS "4 lines of text or 178 characters" (the largest
# common preview; Android shows less), https://bestconnections.org/ios-notifications-show-previews/
# (secondary source, checked 2026-12-01). Everything in this many characters must be neutral.
PREVIEW_CHARS = 178


def lock_screen_preview(text: str) -> str:
    """What a lock screen or notification may show of ``text``: its first ``PREVIEW_CHARS``
    visible characters, lines joined, to the end of the word they cut.

    Invisible format characters (zero-width spaces and joiners, direction marks) take no room on
    a screen, so they are dropped before counting, as are compatibility forms (NFKC).

    >>> lock_screen_preview("Hi.\nHere are\u200b some options.")
    'Hi. Here are some options.'
    """
    visible = "".join(ch for ch in unicodedata.normalize("NFKC", text) if not _takes_no_room(ch))
    flat = " ".join(visible.split())
    if len(flat) <= PREVIEW_CHARS:
        return flat
    end = flat.find(" ", PREVIEW_CHARS)
    return flat if end < 0 else flat[:end]


def _takes_no_room(ch: str) -> bool:
    """Characters a screen draws inside or over their neighbour, so the preview's count skips
    them: format characters, combining marks (accents, emoji variation selectors), modifier
    symbols (skin tones), and regional indicators (two make one flag). A zero-width-joined
    emoji sequence still counts each emoji: the preview read is then a little shorter, never
    longer, than what shows."""
    category = unicodedata.category(ch)
    return category in ("Cf", "Mn", "Me", "Sk") or "\U0001F1E6" <= ch <= "\U0001F1FF"


def _digits_joined(folded: str) -> str:
    """``folded`` with what separates digits removed (``1 888 3737 888`` -> ``18883737888``)."""
    return re.sub(r"(?<=\d)[^a-z0-9]+(?=\d)", "", folded)


def revealing_words(line: str, stems: tuple[str, ...]) -> list[str]:
    """The ``stems`` (folded, as ``Catalog.reveal_words`` gives them) that start a word of
    ``line``, read as a person would: invisible characters dropped, look-alike letters of other
    scripts mapped to Latin, case, accents and punctuation folded (``Sh\u200belter``,
    ``ѕhelter`` with a Cyrillic ``ѕ``, ``1‑888‑373‑7888`` all show their stems).

    A number stem (digits, spaces or dashes) is also found inside a run of digits however it is
    written (``18883737888``, ``+1 888 3737 888``); one of fewer than five digits (``911``) only
    as a whole number, so a longer number merely containing it is not flagged.

    >>> revealing_words("Call 1-888-373-7888 about the Sh\u200belter", ("shelter", "373 7888", "visa"))
    ['shelter', '373 7888']
    >>> revealing_words("Call +1 888 3737 888 or 18883737888", ("373 7888", "911"))
    ['373 7888']
    """
    folded = fold(fold_text(line))
    joined = None
    found = []
    for stem in stems:
        if re.search(rf"(?<![a-z0-9]){re.escape(stem)}", folded):
            found.append(stem)
            continue
        digits = re.sub(r"[\s-]", "", stem)
        if digits.isdigit():
            joined = _digits_joined(folded) if joined is None else joined
            pattern = re.escape(digits) if len(digits) >= 5 else rf"(?<!\d){re.escape(digits)}(?!\d)"
            if re.search(pattern, joined):
                found.append(stem)
    return found

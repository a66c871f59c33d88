"""Text folded the way people's messages are read and checked: compatibility forms (NFKC),
invisible format characters dropped (zero-width spaces and joiners, direction marks:
``Sh\\u200belter`` is one word), look-alike letters of other scripts mapped to the Latin letter
they imitate (Unicode's confusables, from ``confusable_homoglyphs``' data file: a Cyrillic ``ѕ``
reads as ``s``), case folded, accents and apostrophes removed, runs of three or more of one
letter squeezed to one.

    >>> fold_text("Sh\u200beltеr")   # a zero-width space and a Cyrillic e
    'shelter'

Used by understanding (what a message means) and by the lock-screen and opt-out checks (what a
text shows): both must see through the same disguises. Standard library only.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import unicodedata
from functools import cache

# Characters of a message looked at: more than an SMS (1,600) or a Telegram message (4,096)
# holds, so crisis words at the end of a long message are still seen.
MAX_CONSIDERED = 5000
_APOSTROPHES = dict.fromkeys(map(ord, "'’‘`´ʼʻ"), None)
_REPEATED = re.compile(r"([^\W\d_])\1{2,}")


@cache
def _skeleton() -> dict[int, str]:
    """Code point -> the ASCII letter or digit it is confusable with (about 1,300 entries).

    Built from the library's table of Unicode's confusables.txt, read as a file rather than
    imported: the module keeps the whole table (16 MB) in memory, this map needs a few hundred KB.
    """
    table = importlib.resources.files("confusable_homoglyphs").joinpath("confusables.json")
    with table.open("rb") as source:
        data = json.load(source)
    mapping: dict[int, str] = {}
    for character, homoglyphs in data.items():
        if len(character) != 1 or character.isascii():
            continue
        for homoglyph in homoglyphs:
            target = homoglyph["c"]
            if len(target) == 1 and target.isascii() and target.isalnum():
                mapping[ord(character)] = target.lower()
                break
    return mapping


def fold_text(text: str) -> str:
    """The message folded as described above, before it is split into words."""
    text = text[:MAX_CONSIDERED]
    if text.isascii():  # most messages: no look-alikes, accents or invisible characters to fold
        return _REPEATED.sub(r"\1", text.lower().translate(_APOSTROPHES))
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = text.translate(_skeleton()).casefold().translate(_APOSTROPHES)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return _REPEATED.sub(r"\1", text)

"""A message as the words it is understood by: normalized the same way for messages and data.

    >>> words("Heeelp!! my boss tiene mi pasaporte 😭")
    ('help', 'my', 'boss', 'tiene', 'mi', 'pasaporte', '😭')

In order: Unicode compatibility forms folded (NFKC: full-width letters, ligatures), invisible
format characters dropped (zero-width spaces and joiners, direction marks: ``Sh\\u200belter``
is one word), look-alike letters of other scripts mapped to the Latin letter they imitate
(Unicode's confusables, from ``confusable_homoglyphs``: a Cyrillic ``ѕ`` reads as ``s``),
case folded, accents removed, apostrophes removed (``don't`` -> ``dont``), runs of three or more
of one letter squeezed to one (``pleeease`` -> ``please``, ``ayudaaa`` -> ``ayuda``, ``plzzz`` ->
``plz``; the data goes through the same). Letters and digits form words;
every pictograph (emoji) is a word of its own. Then texting abbreviations are expanded from the
language's data (``xq`` -> ``porque``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.domain.text import MAX_CONSIDERED, fold_text

__all__ = ["MAX_CONSIDERED", "Abbreviations", "fold_text", "words"]

_WORD = re.compile(r"[^\W_]+|[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF]", re.UNICODE)
Abbreviations = Mapping[str, tuple[str, ...]]


def words(text: str, abbreviations: Abbreviations | None = None) -> tuple[str, ...]:
    """The words of ``text``, normalized, with ``abbreviations`` (folded word -> words) expanded."""
    found = _WORD.findall(fold_text(text))
    if not abbreviations:
        return tuple(found)
    expanded: list[str] = []
    for word in found:
        expanded.extend(abbreviations.get(word, (word,)))
    return tuple(expanded)

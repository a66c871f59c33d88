"""The carrier opt-out words: Twilio blocks a number whose whole message is one of them, so no
text may teach one and no match word may be one (DESIGN rule 4)."""

from __future__ import annotations

# The normalization free text is understood by (NFKC, format characters dropped, confusables
# mapped), so the check reads a message exactly as understanding reads one.
from bot.domain.text import fold_text
from bot.domain.sms import CARRIER_OPT_OUT_WORDS
from bot.i18n import fold

__all__ = ["CARRIER_OPT_OUT_WORDS", "carrier_words_taught", "teaches"]


def carrier_words_taught(text: str) -> list[str]:
    """The carrier opt-out words (``CARRIER_OPT_OUT_WORDS``) that ``text`` contains as words of
    their own, lowercase, in order of first appearance.

    Twilio blocks a number whose whole message is one of these words, in any case, so a text that
    uses one at all ("you can stop anytime", "Stop.", "send END") suggests a reply that silently
    cuts the person off (DESIGN rule 4). Only whole words count: "depend", "stopped", "weekend",
    "cancelar" do not. The text is normalized first (invisible characters dropped, look-alike
    letters mapped, accents and case folded), so "ST\u200bOP" or a Cyrillic "ЕND" are caught.

    >>> carrier_words_taught("You can stop anytime, or send END.")
    ['stop', 'end']
    >>> carrier_words_taught("It depends; we stopped the weekend plan.")
    []
    """
    found = fold(fold_text(text)).split()
    return list(dict.fromkeys(word for word in found if word in CARRIER_OPT_OUT_WORDS))


def teaches(word: str) -> str:
    return (
        f"teaches the carrier opt-out word {word.upper()!r}: a person who sends it is blocked by the carrier "
        "and we never see it; say it another way"
    )

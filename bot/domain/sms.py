"""What a text costs as SMS: its encoding (GSM-7 or UCS-2) and how many segments carriers bill.

The rules are those of 3GPP TS 23.038 as Twilio applies them: a message that fits the GSM-7
default alphabet (characters of the extension table count twice) is 160 septets in one segment,
153 per segment when split; anything else is UCS-2, 70 UTF-16 units in one segment, 67 per segment
when split (an emoji is two units). Twilio does not split a character across segments.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Twilio's default opt-out keywords (SMS STOP filtering), lowercase. Twilio blocks the sender's
# number when one of these, in any case, is the whole message, so nothing sent afterwards arrives:
# the SMS adapter reads one as an opt-out, and ``flows check`` refuses content that teaches one.
CARRIER_OPT_OUT_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"})

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
GSM7 = GSM7_BASIC | GSM7_EXTENSION

# Characters word processors put in that push a whole message into UCS-2 (and so cost 2-3x as much)
# although a plain equivalent exists. The SMS adapter replaces them before sending.
SMS_REPLACEMENTS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2212": "-", "\u2026": "...", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2007": " ",
    "\u2022": "-", "\u00b7": "-",
}
_TRANSLATE = str.maketrans(SMS_REPLACEMENTS)


@dataclass(frozen=True, slots=True)
class SmsCost:
    """``encoding`` is ``"GSM-7"`` or ``"UCS-2"``; ``units`` are septets or UTF-16 code units."""

    encoding: str
    units: int
    segments: int


def normalize_for_sms(text: str) -> str:
    """Replace typographic quotes, dashes, ellipses and odd spaces by their plain forms.

    >>> normalize_for_sms("It\u2019s \u201cfine\u201d \u2014 really\u2026")
    'It\\'s "fine" - really...'
    """
    return text.translate(_TRANSLATE)


def is_gsm7(text: str) -> bool:
    return GSM7.issuperset(text)  # one pass in C: this runs on every SMS reply


def sms_cost(text: str) -> SmsCost:
    """The encoding and segment count of ``text`` sent as it is (no normalization).

    >>> sms_cost("a" * 160), sms_cost("a" * 161)
    (SmsCost(encoding='GSM-7', units=160, segments=1), SmsCost(encoding='GSM-7', units=161, segments=2))
    >>> sms_cost("ó" * 70).segments, sms_cost("ó" * 71).segments
    (1, 2)
    """
    if not text:
        return SmsCost("GSM-7", 0, 0)
    if is_gsm7(text):
        widths = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        return SmsCost("GSM-7", sum(widths), _segments(widths, single=160, multi=153))
    widths = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return SmsCost("UCS-2", sum(widths), _segments(widths, single=70, multi=67))


def _segments(widths: list[int], *, single: int, multi: int) -> int:
    total = sum(widths)
    if total <= single:
        return 1
    segments, used = 1, 0
    for width in widths:  # a two-unit character never straddles two segments
        if used + width > multi:
            segments, used = segments + 1, 0
        used += width
    return segments


# Letters a ``gsm7`` language keeps although they carry a mark: in Spanish ñ is a letter of its
# own, not an accented n ("año" is a year, "ano" is not), and GSM-7 has it. Every other accent is
# folded, including those GSM-7 has (é, ü): a Spanish message then shows no accents at all rather
# than half of them ("¿Que te gustaria saber?", not "¿Qué te gustaria saber?"), which reads as a
# choice instead of a machine's mistake. The rule fits the languages written with it (en, es); a
# language whose GSM-7 letters are letters of their own (German ä ö ü, Danish å) needs its own
# ``sms_alphabet`` value when it is added.
KEPT_LETTERS = frozenset("ñÑ")


def prepare_sms(text: str, alphabet: str = "gsm7") -> str:
    """The text as the SMS adapter sends it for a language whose ``sms_alphabet`` is ``alphabet``.

    Typographic characters are always replaced. For a ``gsm7`` language every letter with an
    accent loses it (``á`` -> ``a``, ``é`` -> ``e``), except ``ñ`` (``KEPT_LETTERS``), so Spanish is
    GSM-7 (153 characters a segment instead of 67) and consistently unaccented. ``¿`` and ``¡`` are
    GSM-7 and stay. A character with no GSM-7 base (an emoji) is kept as it is.

    >>> prepare_sms("¿Qué te gustaría saber? Sí, ahí, año.")
    '¿Que te gustaria saber? Si, ahi, año.'
    """
    text = normalize_for_sms(text)
    if alphabet != "gsm7" or text.isascii():
        return text
    return "".join(ch if ch.isascii() else _fold_char(ch) for ch in text)


@lru_cache(maxsize=512)
def _fold_char(ch: str) -> str:
    if ch in KEPT_LETTERS:
        return ch
    base = unicodedata.normalize("NFD", ch)[0]
    return base if base != ch and base in GSM7_BASIC else ch


def non_gsm7(text: str) -> str:
    """The distinct characters of ``text`` outside GSM-7, in order of appearance."""
    return "".join(dict.fromkeys(ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION))

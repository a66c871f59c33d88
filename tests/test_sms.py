"""``bot.domain.sms``: encoding detection, segment counting as carriers bill it, and the text the SMS
adapter really sends (typographic characters replaced, accents folded where GSM-7 lacks them)."""

from __future__ import annotations

import pytest

from bot.domain.sms import (
    CARRIER_OPT_OUT_WORDS,
    SMS_REPLACEMENTS,
    SmsCost,
    is_gsm7,
    non_gsm7,
    normalize_for_sms,
    prepare_sms,
    sms_cost,
)

EMOJI = "\U0001F600"  # outside the BMP: two UTF-16 units


# -- encoding ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["Hello, world!", "¿Estas bien? Si.", "é ñ ü à Ñ ¡ ¿ £ € [ ] ~ ^ |", "line\nline"],
)
def test_gsm7_text_is_detected(text):
    assert is_gsm7(text)
    assert sms_cost(text).encoding == "GSM-7"


@pytest.mark.parametrize("text", ["á", "í", "ó", "ú", "ç", "\u2019", "\u2014", EMOJI, "Привет", "中文"])
def test_one_character_outside_gsm7_makes_it_ucs2(text):
    message = f"Plain text then {text}"

    assert not is_gsm7(message)
    assert sms_cost(message).encoding == "UCS-2"


def test_empty_text_costs_nothing():
    assert sms_cost("") == SmsCost("GSM-7", 0, 0)


def test_non_gsm7_lists_distinct_offending_characters_in_order():
    assert non_gsm7("óa\u2019bó\u2019é") == "ó\u2019"


# -- segment boundaries ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "segments"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)]
)
def test_gsm7_is_160_in_one_segment_and_153_per_segment_when_split(length, segments):
    assert sms_cost("a" * length) == SmsCost("GSM-7", length, segments)


@pytest.mark.parametrize(("length", "segments"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)])
def test_ucs2_is_70_in_one_segment_and_67_per_segment_when_split(length, segments):
    assert sms_cost("ó" * length) == SmsCost("UCS-2", length, segments)


@pytest.mark.parametrize("char", sorted("^{}\\[~]|€"))
def test_extension_characters_count_two_septets(char):
    assert sms_cost(char).units == 2
    assert sms_cost(char * 80) == SmsCost("GSM-7", 160, 1)
    assert sms_cost(char * 80 + "a") == SmsCost("GSM-7", 161, 2)


def test_extension_character_is_not_split_across_segments():
    # 306 septets would fit two segments of 153, but the euro sign (escape + code) cannot straddle.
    text = "a" * 152 + "€" + "a" * 152

    assert sms_cost(text) == SmsCost("GSM-7", 306, 3)


def test_emoji_counts_two_ucs2_units():
    assert sms_cost(EMOJI) == SmsCost("UCS-2", 2, 1)
    assert sms_cost(EMOJI * 35) == SmsCost("UCS-2", 70, 1)
    assert sms_cost(EMOJI * 35 + "a") == SmsCost("UCS-2", 71, 2)


def test_emoji_is_never_split_across_segments():
    # 134 units would fit two segments of 67, but the surrogate pair cannot straddle.
    assert sms_cost("a" * 66 + EMOJI + "a" * 66) == SmsCost("UCS-2", 134, 3)
    assert sms_cost("a" * 65 + EMOJI + "a" * 67) == SmsCost("UCS-2", 134, 2)


# -- what the adapter sends -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typographic", "plain"),
    [
        ("It\u2019s", "It's"),
        ("\u2018quoted\u2019", "'quoted'"),
        ("\u201cquoted\u201d", '"quoted"'),
        ("\u00abcomillas\u00bb", '"comillas"'),
        ("a \u2014 b \u2013 c \u2212 d", "a - b - c - d"),
        ("wait\u2026", "wait..."),
        ("24\u00a0h", "24 h"),
        ("1\u202f000", "1 000"),
        ("\u2022 item", "- item"),
    ],
)
def test_normalize_for_sms_writes_typographic_characters_plainly(typographic, plain):
    assert normalize_for_sms(typographic) == plain
    assert is_gsm7(normalize_for_sms(typographic))


def test_every_replacement_is_gsm7():
    assert all(is_gsm7(plain) for plain in SMS_REPLACEMENTS.values())


def test_normalize_for_sms_keeps_everything_else():
    text = "¿Qué tal? Ñandú, 100 €, 😀"

    assert normalize_for_sms(text) == text


def test_prepare_sms_folds_every_accent_but_keeps_n_tilde_and_spanish_punctuation():
    sent = prepare_sms("¡Hola! ¿Estás aquí? Sí, ahí. Acción, menú. Él, año, qué, pingüino, Ñandú.", "gsm7")

    # é and ü are GSM-7 but fold too, so no message shows half its accents; ñ is a letter of
    # its own ("año" is not "ano") and stays, as do ¿ and ¡
    assert sent == "¡Hola! ¿Estas aqui? Si, ahi. Accion, menu. El, año, que, pinguino, Ñandu."
    assert sms_cost(sent).encoding == "GSM-7"


def test_prepare_sms_folds_e_acute_even_when_the_text_is_otherwise_gsm7():
    # "¿Qué te gustaría saber?" used to reach the phone as "¿Qué te gustaria saber?"
    assert prepare_sms("¿Qué te gustaría saber?", "gsm7") == "¿Que te gustaria saber?"
    assert prepare_sms("¿Qué tal?", "gsm7") == "¿Que tal?"


def test_prepare_sms_folds_capital_accents():
    assert prepare_sms("ÁREA ÍNDICE ÓRGANO ÚLTIMO", "gsm7") == "AREA INDICE ORGANO ULTIMO"


def test_prepare_sms_replaces_typographic_characters_before_deciding():
    assert prepare_sms("It\u2019s OK \u2014 sí", "gsm7") == "It's OK - si"


def test_prepare_sms_keeps_characters_it_cannot_fold():
    sent = prepare_sms("Sí 😀", "gsm7")

    assert sent == "Si 😀"
    assert sms_cost(sent).encoding == "UCS-2"


def test_prepare_sms_leaves_plain_gsm7_text_unchanged():
    text = "Hola, ¿como estas? Es bueno, año 2026, 10 € [ok]. ¡Ñu!"

    assert prepare_sms(text, "gsm7") == text


def test_prepare_sms_leaves_accents_of_ucs2_languages_alone():
    text = "Sí, ahí está. Привет. Tiếng Việt."

    assert prepare_sms(text, "ucs2") == text


def test_prepare_sms_still_replaces_typographic_characters_for_ucs2_languages():
    assert prepare_sms("Tiếng Việt \u2014 \u201cxin chào\u201d", "ucs2") == 'Tiếng Việt - "xin chào"'


def test_folding_spanish_costs_gsm7_segments_instead_of_ucs2():
    spanish = "Aquí tienes información sobre tus opciones. " * 4  # ~180 characters

    assert sms_cost(spanish).encoding == "UCS-2"
    assert sms_cost(spanish).segments == 3
    assert sms_cost(prepare_sms(spanish, "gsm7")) == SmsCost("GSM-7", len(spanish), 2)


# -- the carrier's opt-out words ------------------------------------------------------------------


def test_the_carrier_opt_out_words_are_one_set_for_the_adapter_and_for_flows_check():
    from bot.channels.twilio_sms import keyword_kind
    from bot.domain.messages import InboundKind
    from bot.flowdef import CARRIER_OPT_OUT_WORDS as CHECKED

    assert CHECKED == CARRIER_OPT_OUT_WORDS
    assert all(keyword_kind(word) is InboundKind.OPT_OUT and keyword_kind(word.upper()) is InboundKind.OPT_OUT for word in CARRIER_OPT_OUT_WORDS)

"""What a phone shows of a message, and the words a message must never teach.

``lock_screen_preview`` and ``revealing_words`` are what ``flows check`` runs on every message and
what ``Service.answer`` runs on an advocate's reply, so the normalization that defeats invisible
and look-alike characters is tested here, at the functions both use. ``carrier_words_taught`` is
the one check for opt-out words, for content and (through the integrator) for advocates.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.domain.messages import render_plain
from bot.domain.sms import prepare_sms, sms_cost
from bot.flowdef.inspect import PREVIEW_CHARS, carrier_words_taught, lock_screen_preview, revealing_words
from bot.i18n import read_catalog
from bot.service import read_content

REPO = Path(__file__).resolve().parent.parent
STEMS = ("shelter", "traffick", "373 7888", "233733", "green card", "papers")


# -- carrier opt-out words -------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "words"), [
    ("Reply STOP to end messages.", ["stop", "end"]),
    ("You can stop anytime.", ["stop"]),  # a verb still teaches it: carriers match the whole reply
    ("Quit? Cancel. Unsubscribe! stopall, Revoke, OptOut", ["quit", "cancel", "unsubscribe", "stopall", "revoke", "optout"]),
    ("ST\u200bOP", ["stop"]),  # a zero-width space does not hide it
    ("\uff33\uff34\uff2f\uff30", ["stop"]),  # full-width letters
    ("\u0405\u0422\u041e\u0420 now", ["stop"]),  # Cyrillic look-alikes of S T O P
    ("Stop, stop, STOP.", ["stop"]),  # each word once
])
def test_carrier_words_taught_finds_each_opt_out_word_in_any_case_and_disguise(text, words):
    assert carrier_words_taught(text) == words


@pytest.mark.parametrize("text", [
    "It depends on you.", "We stopped by at the weekend.", "An endless, unstoppable line.",
    "Puedes cancelar o quitar la cita cuando quieras.", "Escribe SALIR para borrar este chat.",
    "Quick exit: type EXIT.", "Send START to 88788.",
])
def test_carrier_words_taught_ignores_words_that_only_contain_one(text):
    assert carrier_words_taught(text) == []


def test_no_real_text_in_any_language_teaches_an_opt_out_word():
    catalog, _ = read_catalog(REPO / "locales")
    taught = {
        (code, key): carrier_words_taught(string)
        for code, data in catalog.locales.items()
        for key, value in data.text.items()
        for string in ([value] if isinstance(value, str) else value.values())
        if carrier_words_taught(string)
    }
    assert taught == {}


# -- the preview -----------------------------------------------------------------------------------


def test_the_preview_is_what_ios_shows():
    assert PREVIEW_CHARS == 178


def test_the_preview_runs_to_the_end_of_the_word_at_character_178():
    text = "word " * 35 + "shelterhouse and more"  # "shelterhouse" starts at character 175
    preview = lock_screen_preview(text)
    assert preview.endswith("shelterhouse")
    assert revealing_words(preview, STEMS) == ["shelter"]
    assert lock_screen_preview("word " * 36 + "shelter") == ("word " * 36).strip()  # starts at 180: not shown


def test_invisible_characters_take_no_room_in_the_preview():
    hidden = "\u200b" * 100
    assert lock_screen_preview(f"Here are some options.{hidden} Call the shelter.") == "Here are some options. Call the shelter."


@pytest.mark.parametrize("text", [
    "Call the Sh\u200belter now",  # zero-width space
    "Call the \u0455h\u0435lter now",  # Cyrillic dze and ie
    "Call the SHELTER now",
    "Call the sh\u00adelter now",  # soft hyphen
    "Call 1\u2011888\u2011373\u20117888",  # non-breaking hyphens
    "Text \uff12\uff13\uff13\uff17\uff13\uff13",  # full-width digits
    "Ask about a Green  Card",
])
def test_revealing_words_reads_text_as_a_phone_shows_it(text):
    assert revealing_words(lock_screen_preview(text), STEMS)


def test_revealing_words_needs_a_word_to_start_with_the_stem():
    assert revealing_words("The newspapers are here.", STEMS) == []
    assert revealing_words("No papers needed.", STEMS) == ["papers"]


# -- the real content ------------------------------------------------------------------------------

NEW_STEPS = (
    "rights", "rights_more", "rights_what", "rights_status", "rights_visas", "rights_presence", "rights_benefits",
    "rights_wages", "rights_debt", "rights_documents", "rights_record", "rights_minors", "rights_work",
    "safety_tips", "safety_plan", "safety_no_phone", "safety_phone", "safety_delete", "emergency", "erased",
    "not_safe", "someone_else", "someone_else_reach", "main_menu", "find_help",
)


@pytest.fixture(scope="module")
def content():
    found, problems = read_content(REPO)
    assert found is not None, problems
    return found


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("step", NEW_STEPS)
def test_rights_and_safety_steps_are_neutral_on_a_lock_screen_and_fit_three_segments(content, step, language):
    message = render_plain(content.engines["main"].preview(step, language))
    preview = lock_screen_preview(message)
    assert revealing_words(preview, content.catalog.reveal_words(language)) == [], preview
    assert sms_cost(prepare_sms(message, "gsm7")).segments <= 3


def test_rights_say_not_legal_advice_once_in_the_intro_only(content):
    en = content.catalog.locales["en"].text
    rights = [key for key in en if key.startswith("rights.") and not key.startswith("rights.choice.")]
    assert [key for key in rights if "not legal advice" in en[key]] == ["rights.intro"]
    assert all("not advice" not in en[key] for key in rights)


def test_hotline_texts_promise_nothing_the_former_operator_promised(content):
    for data in content.catalog.locales.values():
        for key, value in data.text.items():
            lowered = str(value).lower()
            assert "does not ask for papers" not in lowered and "no pide papeles" not in lowered, key
            assert "will not text you back" not in lowered, key
    # wherever the text number is given to a person, its two languages are said
    for key in ("emergency.now", "canned.hotline"):
        assert "English or Spanish" in content.catalog.locales["en"].text[key]
        assert "español o inglés" in content.catalog.locales["es"].text[key]


# -- where the facts come from ---------------------------------------------------------------------

FACT_KEYS = (
    "emergency.now", "rights.status", "rights.what", "rights.visas", "rights.presence", "rights.benefits",
    "rights.documents", "rights.record", "rights.minors", "rights.work", "rights.debt", "rights.wages",
    "safety.plan", "safety.phone", "safety.no_phone", "someone_else.reach", "canned.hotline", "erased.text",
    "not_safe.text", "ended.copies_deleted",
)


def test_every_text_that_states_a_fact_names_its_sources_with_the_day_they_were_checked():
    document = yaml.safe_load((REPO / "locales" / "en.yaml").read_text(encoding="utf-8"))
    sources = document["sources"]
    assert sorted(set(FACT_KEYS) - set(sources)) == []
    for key, entries in sources.items():
        assert key in document["text"], key
        for entry in entries:
            assert entry["url"].startswith(("https://", "http://"))
            assert entry["checked"] == "2026-12-01"
            assert entry["quote"].strip()


def test_a_source_naming_no_text_is_a_warning_and_a_malformed_one_an_error(tmp_path):
    for name in ("en.yaml", "es.yaml"):
        (tmp_path / name).write_text((REPO / "locales" / name).read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / "en.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("\n  rights.record:\n", "\n  rights.gone:\n", 1), encoding="utf-8"
    )
    catalog, problems = read_catalog(tmp_path)
    assert catalog is not None
    assert [(p.where, p.severity) for p in problems] == [("locales/en.yaml: sources.rights.gone", "warning")]

    path.write_text(path.read_text(encoding="utf-8").replace('checked: "2026-12-01"', "checked: yesterday", 1), encoding="utf-8")
    catalog, problems = read_catalog(tmp_path)
    assert catalog is None
    assert any("checked" in p.where and p.severity == "error" for p in problems), problems

"""Safety checks are errors, never silence (issue 15): every language offered keeps a quick exit,
emergency and crisis words that are understood; no message teaches a carrier opt-out word; no
message's first lines reveal the service, in any language.

Each case copies the real ``flows/`` and ``locales/`` into a temporary folder, makes one edit an
editor could make, and reads it with ``read_content`` (what ``flows check`` and a publish run):
the content is refused, with an error at ``file: path``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bot.domain.problems import errors
from bot.i18n import fold
from bot.content import loaded as service_content
from bot.service import read_content

REPO = Path(__file__).resolve().parent.parent
FLOW = "flows/main.yaml"
EN = "locales/en.yaml"
ES = "locales/es.yaml"
UNDERSTOOD_EN = "locales/understanding/en.yaml"
UNDERSTOOD_ES = "locales/understanding/es.yaml"


@pytest.fixture
def content_copy(tmp_path) -> Path:
    shutil.copytree(REPO / "flows", tmp_path / "flows")
    shutil.copytree(REPO / "locales", tmp_path / "locales")
    return tmp_path


def edit_yaml(root: Path, relative: str, change: Callable[[dict], None]) -> None:
    path = root / relative
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


def error_lines(root: Path) -> list[str]:
    """The errors ``read_content`` finds in ``root``, as ``file: path: problem``; the content
    must be refused when there are any."""
    content, problems = read_content(root)
    found = [str(p) for p in errors(problems)]
    assert (content is None) == bool(found)
    return found


def assert_error(root: Path, where: str, *fragments: str) -> None:
    found = error_lines(root)
    matching = [line for line in found if line.startswith(f"{where}: ") and all(f in line for f in fragments)]
    assert matching, f"no error at {where} saying {fragments}; errors: {found}"


def _drop_word(intent: str, *words: str) -> Callable[[dict], None]:
    """Remove every phrase of ``intent`` (anywhere or alone) that has one of ``words`` in it."""

    def change(document: dict) -> None:
        body = document["intents"][intent]
        for part in ("phrases", "alone"):
            if part in body:
                body[part] = [p for p in body[part] if not set(fold(p).split()) & set(words)]

    return change


def _remove_phrase(intent: str, part: str, *phrases: str) -> Callable[[dict], None]:
    def change(document: dict) -> None:
        listed = document["intents"][intent][part]
        for phrase in phrases:
            listed.remove(phrase)

    return change


# -- the real content ------------------------------------------------------------------------------


def test_real_content_passes_every_safety_check():
    assert error_lines(REPO) == []


def test_every_language_of_the_real_content_lists_its_safety_words_in_words_of_its_own():
    content, _ = read_content(REPO)

    for data in content.catalog.locales.values():
        for intent in ("exit", "crisis.danger", "crisis.self_harm"):
            assert any(ch.isalpha() for message in data.match[intent] for ch in message), (data.code, intent)


# -- the quick exit (DESIGN rule 3) ----------------------------------------------------------------


def test_spanish_quick_exit_word_removed_from_understanding_is_an_error(content_copy):
    """Every phrase with "salir" in it goes, in both languages' data ("salir" alone is also read
    from "quiero salir", its filler word set aside, and the English data lists it too, since a
    person may write in either: removing one phrase leaves it understood, and passes)."""
    for relative in (UNDERSTOOD_ES, UNDERSTOOD_EN):
        edit_yaml(content_copy, relative, _drop_word("exit", "salir"))

    assert_error(content_copy, "locales/es.yaml: match.exit[0]", "'salir' is not understood as the quick exit")


def test_spanish_exit_words_removed_from_the_locale_is_an_error(content_copy):
    edit_yaml(content_copy, ES, lambda d: d["match"].pop("exit"))

    assert_error(content_copy, "locales/es.yaml: match.exit", "is missing", "Español")


def test_salir_removed_everywhere_is_caught_by_the_word_the_texts_teach(content_copy):
    """An editor who removes "salir" from the understanding data and from the listed words: the
    Spanish texts still say "Escribe SALIR", and no listed word is taught any more."""
    for relative in (UNDERSTOOD_ES, UNDERSTOOD_EN):
        edit_yaml(content_copy, relative, _drop_word("exit", "salir"))
    edit_yaml(content_copy, ES, lambda d: d["match"]["exit"].remove("salir"))

    assert_error(content_copy, "locales/es.yaml: match.exit", "no text of this file teaches one of these quick-exit words")


def test_spanish_exit_intent_removed_from_understanding_is_an_error_not_a_warning(content_copy):
    edit_yaml(content_copy, UNDERSTOOD_ES, lambda d: d["intents"].pop("exit"))

    assert_error(content_copy, "locales/understanding/es.yaml: intents.exit", "missing (routed at flows/main.yaml: intents.exit)")


def test_exit_intent_without_whole_message_phrases_is_an_error(content_copy):
    edit_yaml(content_copy, UNDERSTOOD_ES, lambda d: d["intents"]["exit"].pop("alone"))

    assert_error(content_copy, "locales/understanding/es.yaml: intents.exit", "has no `alone` phrases")


def test_a_listed_exit_word_that_the_carrier_blocks_is_an_error(content_copy):
    edit_yaml(content_copy, ES, lambda d: d["match"]["exit"].append("Quit"))

    assert_error(content_copy, "locales/es.yaml: match.exit[5]", "'Quit' is a carrier opt-out word")


# -- danger and thoughts of suicide (DESIGN rule 5) ------------------------------------------------


def test_spanish_emergency_words_removed_are_an_error(content_copy):
    """Wherever they are: the English data lists "peligro" too (a person may write in either),
    which keeps it understood when only the Spanish file loses it."""
    for relative in (UNDERSTOOD_ES, UNDERSTOOD_EN):
        edit_yaml(content_copy, relative, _drop_word("crisis.danger", "peligro"))

    assert_error(content_copy, "locales/es.yaml: match.crisis.danger[0]", "'peligro' is not understood as danger", "but as nothing")


def test_spanish_danger_intent_removed_is_an_error_not_a_warning(content_copy):
    edit_yaml(content_copy, UNDERSTOOD_ES, lambda d: d["intents"].pop("crisis.danger"))

    assert_error(content_copy, "locales/understanding/es.yaml: intents.crisis.danger", "missing")


def test_danger_with_only_examples_left_is_an_error(content_copy):
    """Examples are read only after a step's own choices: they do not answer danger at once."""

    def only_examples(document: dict) -> None:
        for part in ("phrases", "alone"):
            document["intents"]["crisis.danger"].pop(part)

    edit_yaml(content_copy, UNDERSTOOD_ES, only_examples)

    assert_error(content_copy, "locales/understanding/es.yaml: intents.crisis.danger", "has no `phrases` or `alone` phrases")


def test_emergency_words_that_are_only_numbers_are_an_error(content_copy):
    edit_yaml(content_copy, ES, lambda d: d["match"].__setitem__("crisis.danger", ["911"]))

    assert_error(content_copy, "locales/es.yaml: match.crisis.danger", "lists only numbers")


def test_spanish_suicide_words_removed_are_an_error(content_copy):
    edit_yaml(content_copy, UNDERSTOOD_ES, lambda d: d["intents"].pop("crisis.self_harm"))

    found = error_lines(content_copy)

    assert "locales/understanding/es.yaml: intents.crisis.self_harm: missing (routed at flows/main.yaml: intents.crisis.self_harm)" in found
    # what the English data still catches ("suicid*") passes; what it does not is named
    assert any(line.startswith("locales/es.yaml: match.crisis.self_harm[3]: 'me voy a matar' is not understood") for line in found), found


def test_self_harm_listed_but_read_as_danger_is_an_error(content_copy):
    """Thoughts of self-harm read as a threat get the emergency reply, not 988: named, not passed."""
    edit_yaml(content_copy, UNDERSTOOD_ES, _remove_phrase("crisis.self_harm", "phrases", "me quiero hacer dano"))

    assert_error(
        content_copy, "locales/es.yaml: match.crisis.self_harm[5]",
        "'me quiero hacer daño' is not understood as thoughts of suicide or self-harm", "but as crisis.danger",
    )


def test_a_new_language_without_safety_words_is_refused(content_copy):
    """A language offered with no understanding data of its own: an English fallback would answer
    "exit", but nobody writing French would be understood asking to leave or saying they are in
    danger."""
    (content_copy / "locales" / "fr.yaml").write_text(
        "language: fr\nname: Français\ntext:\n  menu.intro: \"Voici quelques options.\"\nmatch:\n  match.yes: [oui]\n",
        encoding="utf-8",
    )

    found = error_lines(content_copy)

    for where in ("locales/fr.yaml: match.exit", "locales/fr.yaml: match.crisis.danger", "locales/fr.yaml: match.crisis.self_harm",
                  "locales/understanding/fr.yaml: intents.exit", "locales/understanding/fr.yaml: intents.crisis.danger",
                  "locales/fr.yaml: reveal_words"):
        assert any(line.startswith(f"{where}: ") for line in found), (where, found)


# -- carrier opt-out words (DESIGN rule 4) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "text"),
    [
        # appended to the reply of a step that erases (an action's reply extra), Spanish only
        ("ended.copies_deleted", "Tambien se borran las copias. Si prefieres, responde STOP."),
        # sent on its own by the service, with the word hidden by a zero-width space
        ("limits.busy", "Un momento por favor. Para no recibir mas, envia ST\u200bOP."),
    ],
)
def test_spanish_text_teaching_a_carrier_word_is_an_error(content_copy, key, text):
    edit_yaml(content_copy, ES, lambda d: d["text"].__setitem__(key, text))

    assert_error(content_copy, f"locales/es.yaml: text.{key}", "teaches the carrier opt-out word 'STOP'")


# -- the lock screen (DESIGN rule 2) ---------------------------------------------------------------


def test_spanish_standalone_text_revealing_in_its_first_line_is_an_error(content_copy):
    edit_yaml(content_copy, ES, lambda d: d["text"].__setitem__("limits.busy", "Refugio: espera un momento y escribe de nuevo."))

    assert_error(content_copy, "flows/main.yaml: text.limits.busy (es)", "lock-screen preview", "refugio")


def test_a_spanish_word_in_an_english_message_reveals_too(content_copy):
    """The bilingual greeting of the English file: a Spanish reader holding the phone sees it."""
    edit_yaml(content_copy, EN, lambda d: d["text"].__setitem__(
        "welcome.greeting", d["text"]["welcome.greeting"].replace("Hola, gracias por escribir.", "Hola, somos un albergue.")
    ))

    assert_error(content_copy, "flows/main.yaml: steps.welcome (en)", "lock-screen preview", "albergue")


def test_a_changed_hotline_number_is_read_in_previews_without_editing_reveal_words(content_copy):
    edit_yaml(content_copy, FLOW, lambda d: d["vars"].__setitem__("hotline_phone", "1-800-555-0199"))
    edit_yaml(content_copy, EN, lambda d: d["text"].__setitem__("limits.busy", "Call {hotline_phone} or wait a minute."))

    assert_error(content_copy, "flows/main.yaml: text.limits.busy (en)", "lock-screen preview", "1 800 555 0199")


def test_a_language_without_reveal_words_is_an_error(content_copy):
    edit_yaml(content_copy, ES, lambda d: d.pop("reveal_words"))

    assert_error(content_copy, "locales/es.yaml: reveal_words", "missing")


def test_the_reply_to_a_failed_turn_is_read_for_the_lock_screen(content_copy, monkeypatch):
    monkeypatch.setattr(service_content, "FALLBACK_TEXT", "Shelter line: {hotline_phone}. Sorry, something went wrong.")

    assert_error(REPO, "bot.content.loaded: FALLBACK_TEXT (main)", "lock-screen preview", "shelter")


def test_the_reply_to_a_failed_turn_keeps_the_hotline_out_of_its_first_lines():
    content, _ = read_content(REPO)

    text = content.fallback_text()

    assert text.startswith("Sorry, something went wrong")
    assert content.engines["main"].flow.vars["hotline_phone"] in text  # still there, after the preview


# -- the command -----------------------------------------------------------------------------------


def test_flows_check_exits_1_naming_the_spanish_exit_word_not_understood(content_copy):
    for relative in (UNDERSTOOD_ES, UNDERSTOOD_EN):
        edit_yaml(content_copy, relative, _drop_word("exit", "salir"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEHARBOR_")}
    env["SAFEHARBOR_CONTENT_DIR"] = str(content_copy)

    result = subprocess.run(
        [sys.executable, "-m", "bot", "flows", "check"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert any(line.startswith("locales/es.yaml: match.exit[0]: 'salir' is not understood as the quick exit") for line in lines), result.stderr
    assert any(line.startswith("locales/es.yaml: match.exit[1]: 'quiero salir' is not understood") for line in lines), result.stderr
    assert "flows check: 2 error(s)" in result.stderr

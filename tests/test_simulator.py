"""The studio's "Try it" (``bot.service.simulator``, ``ContentDesk.try_it``): a draft's
conversation as SMS or Telegram shows it, with the step and what was understood; nothing stored,
sent or logged."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, inspect

from bot.config import Settings, generate_keys
from bot.content import Bundle
from bot.content.edit import apply_edits
from bot.domain.sms import sms_cost
from bot.handoff import NotAllowed
from bot.service import Service
from bot.service.content_desk import ContentDesk
from bot.service.simulator import MAX_MESSAGES, NotRunnable, Simulator
from testkit.databases import rows
from tests.conftest import REPO

PRIVATE = "mi jefe Miguel Ortega tiene mi pasaporte en la Calle 9"


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    return Bundle.from_directory(REPO)


@pytest.fixture(scope="module")
def simulator() -> Simulator:
    return Simulator()  # one for the module: loading content takes seconds, and is cached by digest


def who(role: str, languages=()):
    return SimpleNamespace(user=SimpleNamespace(role=role, is_admin=role == "admin", email=f"{role}@example.org", languages=languages))


def test_a_spanish_sms_conversation_shows_steps_choices_and_segments(simulator, bundle):
    result = simulator.run(bundle, "es", "sms", ["hola", "2", "1", "3"])
    steps = [e["step"] for e in result["exchanges"]]
    assert steps == ["welcome", "safe_check", "main_menu", "rights"]
    welcome, spanish, can_talk, rights = result["exchanges"]
    assert welcome["understood"]["as"].startswith("first message")
    assert spanish["understood"] == {"as": "choice", "choice": 2, "label": "Español"}
    assert spanish["language"] == "es"
    assert can_talk["understood"]["as"] == "choice" and can_talk["understood"]["choice"] == 1
    (menu,) = can_talk["replies"]
    # SMS shows the choices numbered, one a line, accents folded (GSM-7), and what it costs
    assert "\n1 " in menu["text"] and "\n3 Conocer mis derechos" in menu["text"]
    assert not set("áéíóú") & set(menu["text"])
    assert menu["encoding"] == "GSM-7"
    assert menu["segments"] == sms_cost(menu["text"]).segments >= 2
    assert rights["understood"]["label"] == "Conocer mis derechos"


def test_telegram_shows_buttons_and_a_pressed_button_answers_its_choice(simulator, bundle):
    first = simulator.run(bundle, "es", "telegram", ["hola"])["exchanges"][0]
    (reply,) = first["replies"]
    assert [b["text"] for b in reply["buttons"]] == ["1 English", "2 Español"]
    assert "\n1 English" not in reply["text"]  # the choices are buttons, not lines
    spanish = next(b for b in reply["buttons"] if b["text"] == "2 Español")
    second = simulator.run(bundle, "es", "telegram", ["hola", {"button": spanish["data"]}])["exchanges"][1]
    assert second["step"] == "safe_check" and second["language"] == "es"
    assert second["understood"]["choice"] == 2
    assert "día" in second["replies"][0]["text"]  # Telegram keeps the accents SMS folds


def test_the_quick_exit_ends_the_simulated_conversation(simulator, bundle):
    exchanges = simulator.run(bundle, "es", "sms", ["hola", "2", "SALIR", "hola"])["exchanges"]
    salir = exchanges[2]
    assert salir["ended"] == "erased" and salir["step"] is None
    assert salir["understood"]["as"] == "quick exit" and salir["understood"]["intent"] == "exit"
    assert "borrado" in salir["replies"][0]["text"]
    assert exchanges[3]["step"] == "welcome"  # a new conversation, as from a new phone


def test_a_carrier_opt_out_word_gets_no_reply(simulator, bundle):
    stop = simulator.run(bundle, "en", "sms", ["hi", "STOP"])["exchanges"][1]
    assert stop["replies"] == [] and stop["ended"] == "opted_out"


def test_a_drafts_changed_text_is_in_the_simulator_before_it_is_saved(simulator, bundle):
    es = apply_edits(bundle.files["locales/es.yaml"], [{"path": ["text", "safe_check.ask"], "value": "Pregunta nueva del borrador: ¿puedes hablar?"}])
    draft = bundle.replacing({"locales/es.yaml": es})
    reply = simulator.run(draft, "es", "sms", ["hola", "2"])["exchanges"][1]["replies"][0]
    assert reply["text"].startswith("Pregunta nueva del borrador: ¿puedes hablar?")
    # and the published content still says what it said
    assert "borrador" not in simulator.run(bundle, "es", "sms", ["hola", "2"])["exchanges"][1]["replies"][0]["text"]


def test_a_draft_with_errors_cannot_run_and_says_why(simulator, bundle):
    broken = bundle.replacing({"flows/main.yaml": bundle.files["flows/main.yaml"].replace("start: welcome", "start: nowhere")})
    with pytest.raises(NotRunnable) as caught:
        simulator.run(broken, "es", "sms", ["hola"])
    assert caught.value.problems and all(p.severity == "error" for p in caught.value.problems)
    assert any("nowhere" in p.what for p in caught.value.problems)


@pytest.mark.parametrize("messages, channel, language, said", [
    (["x"] * (MAX_MESSAGES + 1), "sms", "es", "at most 50 messages"),
    (["x" * 1601], "sms", "es", "at most 1600 characters"),
    (["hola"], "whatsapp", "es", "channel is one of"),
    (["hola"], "sms", "xx", "no language"),
    ([{"button": "choice:1"}], "sms", "es", "message 1"),
])
def test_requests_it_cannot_run_are_refused_clearly(simulator, bundle, messages, channel, language, said):
    with pytest.raises(NotRunnable, match=said):
        simulator.run(bundle, language, channel, messages)


def test_nothing_is_stored_nor_logged(tmp_path, database_url, caplog):
    caplog.set_level(logging.DEBUG)
    settings = Settings.from_env({
        "SAFEHARBOR_ENV": "test", "SAFEHARBOR_HOME": str(tmp_path), "SAFEHARBOR_CONTENT_DIR": str(REPO),
        "DATABASE_URL": database_url, **generate_keys(),
    })
    service = Service.from_settings(settings)
    try:
        desk = ContentDesk(service)
        tables = inspect(create_engine(database_url)).get_table_names()
        assert "content_revisions" in tables or len(tables) > 5

        def counts():
            return {t: rows(database_url, f'SELECT COUNT(*) FROM "{t}"')[0][0] for t in tables}

        before = counts()
        result = desk.try_it(who("admin"), 1, {}, "es", "telegram", ["hola", "2", "1", PRIVATE, "peligro", "SALIR"])
        assert [e["step"] for e in result["exchanges"]][:3] == ["welcome", "safe_check", "main_menu"]
        assert counts() == before
        assert PRIVATE not in caplog.text and "Miguel" not in caplog.text
        # a translator may try it too; an advocate may not
        assert desk.try_it(who("translator", ("es",)), 1, {}, "es", "sms", ["hola"])["exchanges"][0]["step"] == "welcome"
        with pytest.raises(NotAllowed):
            desk.try_it(who("advocate"), 1, {}, "es", "sms", ["hola"])
    finally:
        service.close()


def test_loaded_content_is_kept_per_bundle_and_bounded(bundle):
    simulator = Simulator()
    first = simulator.content(bundle)
    assert simulator.content(bundle) is first  # seconds the first time, at once after
    others = [bundle.replacing({"locales/es.yaml": bundle.files["locales/es.yaml"] + "\n" * n}) for n in (1, 2)]
    for other in others:
        assert simulator.content(other) is not first
    assert simulator.content(bundle) is not first  # pushed out: at most two are kept

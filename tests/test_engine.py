"""The engine on its own: pure turns over the real flow, with a fixed clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.domain import Channel, ConversationErased, EmergencyDetected, HandoffRequested, Inbound, render_plain
from bot.engine import FlowViolation, Session
from tests.conftest import START


@pytest.fixture
def engine(content):
    return content.engines["main"]


def say(engine, session, text, when=START, hint=None):
    return engine.resume(session, Inbound(Channel.SMS, "+15550000000", text, hint), when)


def walk(engine, *texts, when=START):
    session = None
    for text in texts:
        turn = say(engine, session, text, when)
        session = turn.session
    return session, turn


def at_menu(engine, language="1"):
    session, _ = walk(engine, "hi", language, "1")
    assert session.state == "main_menu"
    return session


@pytest.mark.parametrize("reply", ["2", " 2 ", "2.", "#2", "2)", "2 please", "\uff12", "find help", "Find Help!"])
def test_a_choice_is_picked_by_number_label_or_words(engine, reply):
    turn = say(engine, at_menu(engine), reply)
    assert turn.session.state == "find_help"


@pytest.mark.parametrize("reply", ["-1", "1.5", "2nd", "0", "8", "99", "1000", "", "   ", "\x00", "🙂"])
def test_numbers_out_of_range_and_noise_are_re_prompted_with_the_choices(engine, reply):
    menu = at_menu(engine)
    turn = say(engine, menu, reply)
    assert turn.session.state == "main_menu"
    (reply_message,) = turn.outputs
    assert reply_message.text.startswith("Let's try again.")
    assert [c.label for c in reply_message.choices][:2] == ["I need help now", "Find help"]


@pytest.mark.parametrize("state", ["welcome", "safe_check", "main_menu", "rights_visas", "help_legal", "advocate_intro", "change_language"])
@pytest.mark.parametrize("word", ["EXIT", "exit", "Salir", " SALIR "])
def test_quick_exit_works_from_every_kind_of_step_in_both_languages(engine, state, word):
    session = replace(at_menu(engine), state=state)
    turn = say(engine, session, word)
    assert turn.session is None
    assert isinstance(turn.events[-1], ConversationErased)
    assert "erase" in render_plain(turn.outputs[0]).lower() or "borrad" in render_plain(turn.outputs[0]).lower()


@pytest.mark.parametrize("text", ["exit plan", "quiero salir de aqui", "I want to exit the building"])
def test_quick_exit_is_only_the_whole_message(engine, text):
    turn = say(engine, at_menu(engine), text)
    assert turn.session is not None


@pytest.mark.parametrize("text", ["911", "please help me", "I AM IN DANGER!!", "peligro", "Ayúdame", "es una emergencia"])
def test_emergency_words_win_anywhere_in_the_message(engine, text):
    session = replace(at_menu(engine), state="rights_debt")
    turn = say(engine, session, text)
    assert turn.session.state == "emergency"
    assert turn.session.urgent
    assert any(isinstance(e, EmergencyDetected) for e in turn.events)
    assert "911" in turn.outputs[0].text and "1-888-373-7888" in turn.outputs[0].text


@pytest.mark.parametrize("text", ["a dangerous job", "the help menu", "helpful", "ayuda legal"])
def test_emergency_words_match_whole_words_not_parts(engine, text):
    turn = say(engine, at_menu(engine), text)
    assert turn.session.state != "emergency"


def test_the_first_reply_is_the_same_for_a_new_an_expired_and_an_erased_sender(engine):
    """DESIGN rule 8: nothing in the first reply reveals that this phone wrote before."""
    first = say(engine, None, "hi").outputs
    menu = at_menu(engine)
    after_expiry = say(engine, menu, "hi", when=START + timedelta(hours=2)).outputs
    erased, _ = walk(engine, "hi", "1", "1", "EXIT")
    assert erased is None
    after_erasure = say(engine, erased, "hi").outputs
    assert first == after_expiry == after_erasure


def test_idle_timeout_comes_from_the_flow(engine):
    menu = at_menu(engine)
    timeout = engine.flow.idle_timeout
    assert say(engine, menu, "2", when=START + timeout).session.state == "find_help"
    assert say(engine, menu, "2", when=START + timeout + timedelta(seconds=1)).session.state == "welcome"


def test_a_language_hint_picks_the_language_until_the_person_chooses(engine):
    turn = say(engine, None, "911", hint="es-MX")
    assert turn.session.language == "es"
    assert "¿En peligro ahora? Llama al 911" in turn.outputs[0].text
    chosen, _ = walk(engine, "hi", "1")
    assert say(engine, chosen, "peligro").session.language == "en"  # chosen beats the word's language


def test_the_session_given_to_resume_is_not_changed(engine):
    menu = at_menu(engine)
    before = replace(menu)
    say(engine, menu, "3")
    assert menu == before


def test_back_returns_to_the_remembered_step_and_otherwise_to_the_menu(engine):
    session = replace(at_menu(engine), state="rights_wages")
    helped = say(engine, session, "HELP").session
    assert helped.return_to == "rights_wages"
    assert say(engine, helped, "1").session.state == "rights_wages"
    fresh_help = say(engine, None, "help").session
    assert say(engine, fresh_help, "1").session.state == "main_menu"


def test_a_session_at_a_step_a_new_revision_removed_goes_on_from_the_menu_in_its_language(engine):
    stale = Session(flow="main", state="removed_step", language="es", last_active=int(START.timestamp()))
    turn = say(engine, stale, "2")  # written to the step that is gone: the menu, not the menu's choice 2
    assert turn.session.state == engine.flow.menu and not turn.restarted
    assert turn.session.language == "es"
    assert engine.catalog.text(engine.flow.steps[engine.flow.menu].say[0], "es").split("\n")[0][:20] in turn.outputs[0].text
    assert say(engine, stale, "SALIR").session is None  # the quick exit still works


def test_the_machine_is_shared_and_refuses_moves_the_flow_does_not_have(engine):
    machine = engine.machine
    for _ in range(50):
        walk(engine, "hi", "2", "1", "3")
    assert machine.machine.models == []  # attached for a turn, detached after
    with machine.attach("main_menu") as model:
        with pytest.raises(FlowViolation):
            machine.move(model, "advance", "rights_visas")  # not a choice of the menu
        assert model.state == "main_menu"


def test_every_step_renders_in_every_language(engine, content):
    for language in content.catalog.languages:
        for step_id in engine.flow.steps:
            reply = engine.preview(step_id, language)
            assert reply.text.strip(), (step_id, language)
            assert "{" not in reply.text, (step_id, language)  # no unfilled placeholder


def test_resource_lists_name_confirmed_numbers_and_come_national_first(engine):
    reply = engine.preview("help_shelter", "en")
    assert "National Human Trafficking Hotline: Call 1-888-373-7888, Text 233733 (24/7)" in reply.text
    # under "Free legal help:" only legal services (the hotline refers, it gives no legal help)
    legal = engine.preview("help_legal", "en").text
    assert "\n- LawHelp.org: www.lawhelp.org\n" in legal and "Hotline" not in legal


def test_opening_hours_are_shown_in_the_persons_language(engine):
    # the Department of Labor is listed under work (it enforces pay laws; it is not a lawyer), and
    # its name is given per language too
    assert "Wage and Hour Division (US Dept. of Labor): Call 1-866-487-9243 (Mon-Fri 8am-4:30pm local time)" in engine.preview("help_work", "en").text
    assert "División de Horas y Salarios (Depto. de Trabajo): Tel. 1-866-487-9243 (lun-vie 8am-4:30pm hora local)" in engine.preview("help_work", "es").text


@pytest.mark.parametrize("text", ["exit now", "Exit please!", "salir ya", "SALIR, por favor", "Salir ahora"])
def test_quick_exit_in_the_phrasings_the_locales_list_erases(engine, text):
    turn = say(engine, replace(at_menu(engine), state="rights_debt"), text)
    assert turn.session is None and isinstance(turn.events[-1], ConversationErased)


def test_a_greeting_mid_conversation_starts_anew_with_the_first_reply(engine):
    """DESIGN rule 8: "hola" on a shared phone must not show where the last person left off."""
    first = say(engine, None, "hola").outputs
    deep = replace(at_menu(engine), state="rights_visas", urgent=True, advocate_requested=True)
    turn = say(engine, deep, "hola")
    assert turn.outputs == first
    assert turn.restarted and turn.session.state == "welcome"
    assert not turn.session.urgent and not turn.session.advocate_requested


def test_emergency_words_at_the_end_of_a_long_message_are_seen(engine):
    text = "I have been thinking about how to write this. " * 30 + "Please help me, I am in danger."
    assert len(text) > 1400
    assert say(engine, at_menu(engine), text).session.state == "emergency"


@pytest.mark.parametrize("text, state", [
    ("y qué pasa con mi número?", "help"),  # "y" is Spanish "and", not "yes": a question about the service
    ("yes please", "advocate_requested"),
    ("sí, por favor", "advocate_intro"),  # two letters: only as the whole reply
    ("sí", "advocate_requested"),
])
def test_short_words_pick_a_choice_only_as_the_whole_reply(engine, text, state):
    intro = replace(at_menu(engine), state="advocate_intro")
    assert say(engine, intro, text).session.state == state


def test_choosing_in_danger_from_the_menu_marks_the_conversation_urgent(engine):
    turn = say(engine, at_menu(engine), "1")
    assert turn.session.state == "emergency" and turn.session.urgent
    assert any(isinstance(e, EmergencyDetected) for e in turn.events)
    consent = say(engine, say(engine, turn.session, "1").session, "1")
    assert consent.events[-1] == HandoffRequested(urgent=True)


def test_back_is_forgotten_once_the_person_moves_on(engine):
    session = replace(at_menu(engine), state="rights_what")
    session = say(engine, session, "HELP").session
    session = say(engine, session, "2").session  # Main menu, not Back
    session = say(engine, session, "7").session  # Language
    assert say(engine, session, "1").session.state == "main_menu"  # not the rights page of before


def test_a_route_may_go_back(content):
    """``@back`` works from a route as from a choice (the schema allows both)."""
    from dataclasses import replace as change

    from bot.engine import Engine
    from bot.flowdef import Route

    flow = content.flows["main"]
    help_step = change(flow.steps["help"], routes=(Route("match.back", "@back"),))
    patched = change(flow, steps={**flow.steps, "help": help_step})
    engine = Engine(patched, content.catalog, content.directory)
    session = say(engine, replace(at_menu(engine), state="rights_wages"), "HELP").session
    assert say(engine, session, "go back now").session.state == "rights_wages"


@pytest.mark.parametrize("caption, state", [("SALIR", None), ("help me", "emergency"), ("2", "main_menu"), ("", "main_menu")])
def test_a_photo_caption_is_read_for_commands_only(engine, caption, state):
    from bot.domain import InboundKind

    turn = engine.resume(at_menu(engine), Inbound(Channel.TELEGRAM, "1", caption, kind=InboundKind.MEDIA), START)
    assert (turn.session.state if turn.session else None) == state
    if state == "main_menu":
        assert turn.outputs[0].text.startswith("Thanks. I can only read text here")


def test_a_button_pressed_on_an_older_message_does_not_pick_the_current_steps_choice(engine):
    menu = at_menu(engine)
    welcome_offer = engine.preview("welcome", "en").offer
    menu_offer = say(engine, None, "hi").outputs[0].offer
    assert welcome_offer == menu_offer and welcome_offer != engine.offers["main_menu"]
    stale = engine.resume(menu, Inbound(Channel.TELEGRAM, "1", "1", offer=welcome_offer), START)  # "1 English"
    assert stale.session.state == "main_menu"  # not "1 I need help now"
    assert stale.outputs[0].text.startswith("Let's try again.")
    current = engine.resume(menu, Inbound(Channel.TELEGRAM, "1", "2", offer=engine.offers["main_menu"]), START)
    assert current.session.state == "find_help"
    assert "main_menu" not in engine.offers["main_menu"]  # no step name travels to the phone


@pytest.mark.parametrize("text, state", [("SALIR", None), ("2", "main_menu"), ("estoy en peligro", "emergency")])
def test_an_edited_message_gets_a_short_answer_and_only_commands_count(engine, text, state):
    from bot.domain import InboundKind

    turn = engine.resume(at_menu(engine), Inbound(Channel.TELEGRAM, "1", text, kind=InboundKind.EDIT), START)
    assert (turn.session.state if turn.session else None) == state
    if state == "main_menu":
        assert turn.outputs[0].text.startswith("Thanks. I only read new messages")

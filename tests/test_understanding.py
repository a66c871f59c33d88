"""Understanding free text: normalization, crisis and quick exit, needs, and the measured sets.

The figures asserted here are the ones reached on 2026-12-01 (see bench/understanding.py for the
full table); a change that lowers them fails.
"""

from __future__ import annotations

import pytest

from bot.domain import Channel, Inbound
from bot.understanding import CRISIS, DANGER, EXIT, GREETING, SELF_HARM
from bot.understanding.phrases import Phrase, PhraseIndex
from bot.understanding.words import words
from testkit.understanding_sets import LANGUAGES, crisis_recall, false_alarms, labelled, not_crisis, score
from tests.conftest import START

# Reached on the sets on 2026-12-01 (rounded down to the percent); the tests hold the line there.
DEV_ACCURACY = {"en": 0.79, "es": 0.77}
HELDOUT_ACCURACY = {"en": 0.85, "es": 0.74}
HELDOUT_CRISIS_RECALL = {"en": 0.91, "es": 0.95}
# Ordinary messages written to tempt a keyword matcher ("this heat is killing me") that still get
# the emergency reply: a false alarm costs little (it ends with the way back to the menu).
MAX_FALSE_ALARMS = {"dev": 0.28, "heldout": 0.40}


@pytest.fixture(scope="module")
def understander(content):
    return content.engines["main"].understander


@pytest.fixture(scope="module")
def engine(content):
    return content.engines["main"]


# -- normalization -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("HEEELP!!!", ("help",)),
        ("pleeeease", ("please",)),
        ("plsss", ("pls",)),
        ("Sh\u200belter", ("shelter",)),  # a zero-width space inside a word
        ("\u0455\u043e\u0455", ("sos",)),  # Cyrillic look-alikes of "sos"
        ("ＳＯＳ", ("sos",)),  # full-width letters
        ("don't", ("dont",)),
        ("I’m", ("im",)),
        ("ayúdameee", ("ayudame",)),
        ("9-1-1", ("9", "1", "1")),
        ("help🆘", ("help", "🆘")),
    ],
)
def test_messages_are_normalized_as_the_data_is(written, expected):
    assert words(written) == expected


def test_a_phrase_tolerates_typos_in_long_words_only_and_gaps_of_two_words():
    index = PhraseIndex([Phrase("legal", words("need a lawyer"), "need a lawyer", "en"), Phrase("kill", words("kill me"), "kill me", "en")])
    assert [m.phrase.label for m in index.find(words("i ned a lawer"))] == []  # "ned" is short: exact only
    assert [m.phrase.label for m in index.find(words("i need a lawer"))] == ["legal"]
    assert [m.phrase.label for m in index.find(words("i need a good immigration lawyer"))] == ["legal"]  # 2 words between
    assert [m.phrase.label for m in index.find(words("i need a really good immigration lawyer"))] == []  # 3
    assert [m.phrase.label for m in index.find(words("he will kill me"))] == ["kill"]
    assert [m.phrase.label for m in index.find(words("fill me in"))] == []  # "kill" is short: no typo


# -- crisis, quick exit, help ----------------------------------------------------------------------


def reply(engine, text, session=None):
    turn = engine.resume(session, Inbound(Channel.SMS, "+15550000000", text), START)
    return turn, "\n".join(o.text for o in turn.outputs)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_crisis_message_of_the_development_set_gets_911_or_988_first_and_at_the_menu(engine, language):
    missed = []
    for message in labelled("dev", language):
        if message.intent not in CRISIS:
            continue
        for session in (None, menu_session(engine, language)):
            turn, text = reply(engine, message.text, session)
            if "911" not in text and "988" not in text:
                missed.append((message.text, session.state if session else "first"))
    assert missed == []


def menu_session(engine, language):
    session = None
    for text in ("hi", "1" if language == "en" else "2", "1"):
        session = engine.resume(session, Inbound(Channel.SMS, "+15550000000", text), START).session
    assert session.state == "main_menu" and session.language == language
    return session


@pytest.mark.parametrize("language", LANGUAGES)
def test_crisis_recall_is_complete_in_a_conversation_of_the_other_language(understander, language):
    other = "es" if language == "en" else "en"
    assert crisis_recall(understander, labelled("dev", language), other).missed == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_crisis_recall_on_the_held_out_set_holds(understander, language):
    recall = crisis_recall(understander, labelled("heldout", language))
    assert recall.accuracy >= HELDOUT_CRISIS_RECALL[language], recall.missed


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("split", ["dev", "heldout"])
def test_few_ordinary_messages_get_the_emergency_reply(understander, language, split):
    alarms = false_alarms(understander, not_crisis(split, language), language)
    assert alarms.right / alarms.total <= MAX_FALSE_ALARMS[split], alarms.missed


@pytest.mark.parametrize(
    "text",
    ["I want to exit", "exit please", "quiero salir", "borra todo", "delete everything", "EXIT!!!", "salir ya", "erase all of this"],
)
def test_the_quick_exit_is_understood_as_people_say_it(understander, text):
    assert understander.understand(text, "en").intent == EXIT


@pytest.mark.parametrize(
    "text",
    [
        "I want to exit the country legally, what papers do I need",
        "how do I exit this job without losing my pay",
        "exit plan",
        "quiero salir de este trabajo pero me deben dinero",
    ],
)
def test_long_sentences_that_merely_contain_the_word_are_not_a_quick_exit(understander, text):
    assert understander.understand(text, "en").intent != EXIT


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("he is going to kill me", DANGER),
        ("he will hurt me", DANGER),  # danger, not medical care
        ("SOS", DANGER),
        ("9-1-1", DANGER),
        ("auxilio", DANGER),
        ("help me", DANGER),
        ("me va a matar", DANGER),
        ("i want to die", SELF_HARM),
        ("ya no quiero vivir", SELF_HARM),
        ("I'm not in danger, I just need a job", "need.work"),
        ("help me find a lawyer", "need.legal"),
    ],
)
def test_crisis_wins_and_negations_and_requests_do_not_alarm(understander, text, intent):
    assert understander.understand(text, "en").intent == intent


def test_a_crisis_while_an_advocate_holds_the_chat_is_answered_and_marked_urgent(engine):
    from dataclasses import replace

    from bot.domain import EmergencyDetected

    held = replace(menu_session(engine, "en"), handoff="held")
    turn, text = reply(engine, "he has a gun", held)
    assert "911" in text
    assert any(isinstance(e, EmergencyDetected) for e in turn.events)
    turn, text = reply(engine, "i want to kill myself", held)
    assert "988" in text and "911" in text
    assert any(isinstance(e, EmergencyDetected) for e in turn.events)


# -- needs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "state", "language"),
    [
        ("my boss has my passport", "rights_documents", "en"),
        ("no me pagan", "rights_wages", "es"),
        ("I have nowhere to sleep", "help_shelter", "en"),
        ("la migra", "help_immigration", "es"),
        ("is this a robot?", "advocate_intro", "en"),
        ("i ned a lawer", "help_legal", "en"),
        ("hola necesito ayuda con mi jefe no me paga", "rights_wages", "es"),
        ("no sé qué hacer", "feelings", "es"),
    ],
)
def test_a_need_as_the_first_message_goes_straight_to_its_step_in_its_language(engine, text, state, language):
    turn, _ = reply(engine, text)
    assert (turn.session.state, turn.session.language) == (state, language)


def test_a_greeting_alone_is_a_greeting(understander):
    for text in ("hi", "hellooo", "buenas tardes", "hola hola"):
        assert understander.understand(text, "en").intent == GREETING


# -- the measured sets ---------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_accuracy_on_the_development_set_holds(understander, language):
    scores = score(understander, labelled("dev", language))
    assert scores["all"].accuracy >= DEV_ACCURACY[language]


@pytest.mark.parametrize("language", LANGUAGES)
def test_accuracy_on_the_held_out_set_holds(understander, language):
    scores = score(understander, labelled("heldout", language))
    assert scores["all"].accuracy >= HELDOUT_ACCURACY[language]


# -- the engine around understanding -------------------------------------------------------------


def test_emoji_do_not_stop_a_choice_a_command_or_the_quick_exit(engine):
    menu = menu_session(engine, "en")
    assert reply(engine, "2 🙏", menu)[0].session.state == "find_help"
    assert reply(engine, "menu 🙏", replace_state(menu, "rights"))[0].session.state == "main_menu"
    assert reply(engine, "exit 👋", menu)[0].session is None


def replace_state(session, state):
    from dataclasses import replace

    return replace(session, state=state)


def test_a_steps_own_label_wins_over_the_quick_exit_words_it_contains(engine):
    tips = replace_state(menu_session(engine, "en"), "safety_tips")
    assert reply(engine, "Quick exit", tips)[0].session.state == "safety_exit"  # the page, not an erasure
    assert reply(engine, "exit", tips)[0].session is None


def test_after_an_offer_of_guesses_a_number_means_one_of_them_or_gets_the_offer_again(engine):
    menu = menu_session(engine, "en")
    turn, _ = reply(engine, "the money thing with the man", menu)
    offered = turn.session.offered
    assert offered and len(offered) <= 5 and turn.outputs[0].choices
    again, text = reply(engine, "8", turn.session)  # no such guess: not the menu's hidden 8th choice
    assert again.session.state == "main_menu" and again.session.offered == offered
    picked, _ = reply(engine, "2", turn.session)
    assert picked.session.state == engine.flow.intents[offered[1].split(":", 1)[1]]


def test_a_button_of_an_earlier_offer_on_the_same_step_is_not_taken_for_the_new_one(engine):
    menu = menu_session(engine, "en")
    first, _ = reply(engine, "the money thing with the man", menu)
    second, _ = reply(engine, "asdf qwerty zzz", first.session)
    old_tag = first.outputs[0].offer
    if second.outputs[0].offer == old_tag:
        pytest.skip("both offers happen to list the same options")
    stale = engine.resume(second.session, Inbound(Channel.TELEGRAM, "1", "1", offer=old_tag), START)
    assert stale.session.state == "main_menu" and stale.outputs[0].text.startswith("Let's try again.")


def test_with_nothing_to_guess_the_steps_own_numbers_stay_and_a_person_comes_last(engine):
    menu = menu_session(engine, "en")
    once, _ = reply(engine, "zzzz", menu)
    twice, _ = reply(engine, "qqqq", once.session)
    labels = [c.label for c in twice.outputs[0].choices]
    if twice.session.offered and all(o.startswith("choice:") or o == "intent:need.human" for o in twice.session.offered):
        assert labels[0] == "I need help now"
    assert "Talk to a person" in labels


def test_a_sentence_close_to_a_crisis_example_is_a_crisis_but_not_while_an_advocate_talks(engine):
    from dataclasses import replace

    menu = menu_session(engine, "en")
    text = "i keep imagining my own funeral and everyone being relieved"
    assert engine.understander.understand(text, "en").crisis
    assert "988" in reply(engine, text, menu)[1]
    # held: the advocate reads every sentence; only crisis phrases make the bot speak
    turn, said = reply(engine, text, replace(menu, handoff="held"))
    assert said == "" and turn.events[-1].name == "ForAdvocate"
    assert "988" in reply(engine, "i want to kill myself", replace(menu, handoff="held"))[1]


def test_the_shared_understander_gives_the_same_answers_from_many_threads(understander):
    from concurrent.futures import ThreadPoolExecutor

    texts = ["me quieren matarme", "compre pastillas para matarme", "they are killing her", "estoy encerrada"] * 50
    alone = [understander.understand(t, "en").intent for t in texts]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda t: understander.understand(t, "en").intent, texts))
    assert together == alone


@pytest.mark.parametrize(
    ("text", "language"),
    [("auxilio", "es"), ("socorro me pegan", "es"), ("no me pagan", "es"), ("la migra", "es"),
     ("he is gonna kill me", "en"), ("help me", "en"), ("my boss has my passport", "en")],
)
def test_a_first_message_is_answered_in_the_language_it_is_written_in(engine, text, language):
    turn, _ = reply(engine, text)
    assert turn.session.language == language

"""Random conversations: whatever is typed, in whatever order and after whatever pause, the
engine answers, never crashes, and never leaves the steps the flow has."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain import Channel, Inbound
from tests.conftest import START

WORDS = [
    "1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "10", "-1", "2.", "#3",
    "EXIT", "salir", "MENU", "menú", "LANGUAGE", "idioma", "HELP", "ayuda", "ADVOCATE", "persona",
    "yes", "sí", "no", "back", "English", "español", "911", "help me", "peligro", "lawyer", "abogado",
    "", " ", "STOP", "START", "🙂", "\u202eabc", "\x00", "'; DROP TABLE conversations;--",
]
messages = st.one_of(st.sampled_from(WORDS), st.text(max_size=80), st.text(alphabet="0123456789 .#-", max_size=5))
pauses = st.sampled_from([0, 0, 0, 1, 30, 59, 61, 600])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(st.tuples(messages, pauses), min_size=1, max_size=25), hint=st.sampled_from([None, "es", "en-US", "fr", "zz-ZZ"]))
def test_random_conversations_always_get_an_answer_and_stay_in_the_flow(content, script, hint):
    engine = content.engines["main"]
    steps = set(engine.flow.steps)
    session, now = None, START
    for text, pause in script:
        now += timedelta(minutes=pause)
        turn = engine.resume(session, Inbound(Channel.SMS, "+15550000000", text, hint), now)
        assert turn.outputs and all(o.text.strip() for o in turn.outputs)
        assert "{" not in turn.outputs[0].text
        if turn.session is not None:
            assert turn.session.state in steps
            assert turn.session.language in content.catalog.languages
            assert turn.session.return_to in steps | {None}
        session = turn.session


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(st.binary(max_size=60).map(lambda b: b.decode("utf-8", "replace")), min_size=1, max_size=8))
def test_random_bytes_through_the_service_never_reach_the_person_as_an_error(sql_service, script):
    for text in script:
        replies = sql_service.handle(Inbound(Channel.SMS, "+15550000001", text))
        assert replies and "went wrong" not in replies[0].text

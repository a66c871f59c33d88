"""Action types: each spec (``bot/flowdef/actions/``) has its executor (``bot/engine/actions/``),
and each executor does what its spec says, one table row per type (goflow's
``flows/actions/testdata`` pattern). A new type without a row here fails the last test.
"""

from __future__ import annotations

import pytest

from bot.domain.events import (
    ConversationEnded,
    ConversationErased,
    EmergencyDetected,
    HandoffRequested,
    LanguageChanged,
)
from bot.engine import Engine
from bot.engine.actions import EXECUTORS
from bot.engine.turn import TurnBuilder
from bot.flowdef.actions import SPECS, ActionSpec
from bot.flowdef.model import TERMINAL_ACTIONS, Action
from bot.flowdef.schema import ACTION_SCHEMAS
from tests.conftest import START

# type, fields, what the session has after it (None: nothing is kept), its events, its text
CASES = [
    ("set_language", {"language": "es"}, {"language": "es", "language_chosen": True}, [LanguageChanged("es")], ""),
    ("mark_urgent", {}, {"urgent": True}, [EmergencyDetected()], ""),
    ("request_advocate", {"replies": "write"}, {"advocate_requested": True}, [HandoffRequested(urgent=False, may_write=True)], ""),
    ("request_advocate", {}, {"advocate_requested": True}, [HandoffRequested(urgent=False, may_write=False)], ""),
    ("end", {}, None, [ConversationEnded()], ""),
    ("erase", {}, None, [ConversationErased()], ""),
    # with no directory, the 24/7 line instead of entries
    ("list_resources", {"category": "legal"}, {}, [], "Nothing is listed for this here yet.\nThe free 24/7 line"),
]


@pytest.mark.parametrize(("type_name", "fields", "session_after", "events", "text"), CASES)
def test_each_executor_does_what_its_type_says(content, type_name, fields, session_after, events, text):
    engine = Engine(content.engines["main"].flow, content.catalog)  # no directory
    session = engine.new_session(START)
    turn = TurnBuilder(engine, session)
    EXECUTORS[type_name](Action(type_name, tuple(sorted(fields.items()))), turn)
    turn.emit()
    result = turn.result()
    if session_after is None:
        assert result.session is None
    else:
        assert {name: getattr(result.session, name) for name in session_after} == session_after
    assert list(result.events) == events
    assert result.outputs[0].text.startswith(text)


@pytest.mark.parametrize("limit", [1, 2])
def test_list_resources_shows_its_limit_of_entries_from_the_directory(content, limit):
    engine = Engine(content.engines["main"].flow, content.catalog, content.directory)
    turn = TurnBuilder(engine, engine.new_session(START))
    EXECUTORS["list_resources"](Action("list_resources", (("category", "legal"), ("limit", limit))), turn)
    turn.emit()
    lines = turn.result().outputs[0].text.split("\n")
    assert len(lines) == limit
    assert lines[0].startswith("- LawHelp.org: www.lawhelp.org")  # the first national legal entry


def test_every_type_has_a_spec_an_executor_and_a_case():
    assert SPECS.keys() == EXECUTORS.keys() == ACTION_SCHEMAS.keys()
    assert {case[0] for case in CASES} == SPECS.keys()
    assert TERMINAL_ACTIONS == {"end", "erase"}  # steps with them need no choices


def test_a_spec_without_an_executor_stops_the_engine_from_starting(content, monkeypatch):
    monkeypatch.setitem(SPECS, "teleport", ActionSpec("teleport"))
    with pytest.raises(ValueError, match="no executor in bot/engine/actions/ for action type\\(s\\) \\['teleport'\\]"):
        Engine(content.engines["main"].flow, content.catalog)

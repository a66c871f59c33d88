"""The engine's rules one at a time: what ``classify`` makes of a message, over the real flow.

Each case is one rule of ``bot.engine.intents`` (the documented priority order); the turns
themselves are tested in ``test_engine`` and the golden journeys.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.domain import Channel, Inbound, InboundKind
from bot.engine.intents import (
    BackToMenu,
    Carried,
    Crisis,
    Edit,
    FirstMessage,
    ForAdvocate,
    GlobalCommand,
    Media,
    QuickExit,
    Reply,
    Restart,
    classify,
)
from tests.conftest import START

NOTHING_CARRIED = Carried(offered=None, misses=0, handed_back=False)


@pytest.fixture
def engine(content):
    return content.engines["main"]


def at_menu(engine, **changes):
    session = replace(engine.new_session(START), state="main_menu", language_chosen=True)
    return replace(session, **changes)


def intent(engine, session, text, kind=InboundKind.TEXT, fresh=False, carried=NOTHING_CARRIED):
    return classify(engine, session, Inbound(Channel.SMS, "+15550000000", text, kind=kind), fresh, carried)


@pytest.mark.parametrize(
    ("changes", "text", "kind", "expected"),
    [
        # 1. the quick exit and crises, in every state, even while an advocate holds the chat
        ({}, "SALIR", InboundKind.TEXT, QuickExit),
        ({"handoff": "held"}, "EXIT", InboundKind.TEXT, QuickExit),
        ({"handoff": "held"}, "i want to kill myself", InboundKind.TEXT, Crisis),
        ({}, "EXIT", InboundKind.MEDIA, QuickExit),  # a photo's caption
        ({"handoff": "held"}, "peligro", InboundKind.TEXT, Crisis),  # danger, by phrase
        # 2. an advocate holds the chat: everything else is theirs (the flow has no command
        # marked ``while_held``)
        ({"handoff": "held"}, "2", InboundKind.TEXT, ForAdvocate),
        ({"handoff": "held"}, "menu", InboundKind.TEXT, ForAdvocate),
        ({"handoff": "held"}, "hi", InboundKind.TEXT, ForAdvocate),
        # 3. a greeting while waiting for a person does not cancel the request
        ({"handoff": "waiting"}, "hi", InboundKind.TEXT, BackToMenu),
        ({"handoff": "waiting"}, "", InboundKind.RESTART, BackToMenu),
        # 4. a greeting or START in a live conversation begins anew
        ({}, "hi", InboundKind.TEXT, Restart),
        ({}, "", InboundKind.RESTART, Restart),
        # 5. global commands
        ({}, "menu", InboundKind.TEXT, GlobalCommand),
        # 7. a photo, an edit
        ({}, "", InboundKind.MEDIA, Media),
        ({}, "2", InboundKind.EDIT, Edit),
        # 8. an answer to the step
        ({}, "2", InboundKind.TEXT, Reply),
        ({"handoff": "waiting"}, "2", InboundKind.TEXT, Reply),
    ],
)
def test_each_rule_gives_its_intent(engine, changes, text, kind, expected):
    assert type(intent(engine, at_menu(engine, **changes), text, kind)) is expected


def test_the_first_message_is_a_need_or_the_start(engine):
    new = engine.new_session(START)
    need = intent(engine, new, "my boss has my passport", fresh=True)
    assert isinstance(need, FirstMessage) and need.need.intent == "need.documents"
    assert intent(engine, new, "hi", fresh=True) == FirstMessage(need=None)  # a greeting: the start step
    assert intent(engine, new, "", InboundKind.RESTART, fresh=True) == FirstMessage(need=None)
    assert intent(engine, new, "my boss has my passport", InboundKind.MEDIA, fresh=True) == FirstMessage(need=None)


def test_after_a_hand_back_the_next_message_gets_the_menu_unless_it_is_a_command(engine):
    handed_back = Carried(offered=None, misses=0, handed_back=True)
    assert type(intent(engine, at_menu(engine), "2", carried=handed_back)) is BackToMenu
    assert type(intent(engine, at_menu(engine), "menu", carried=handed_back)) is GlobalCommand
    assert type(intent(engine, at_menu(engine), "EXIT", carried=handed_back)) is QuickExit


def test_a_reply_keeps_what_the_previous_offer_meant(engine):
    offered = Carried(offered=["intent:need.wages", "menu"], misses=1, handed_back=False)
    reply = intent(engine, at_menu(engine), "1", carried=offered)
    assert isinstance(reply, Reply)
    assert (reply.raw, reply.offered, reply.misses) == ("1", ["intent:need.wages", "menu"], 1)

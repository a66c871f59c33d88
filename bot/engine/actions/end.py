"""Executor of ``end`` (spec: ``bot.flowdef.actions.end``): nothing about the conversation is
kept after this turn (``ConversationEnded``); the next message starts a new one.
"""

from bot.domain.events import ConversationEnded
from bot.engine.actions import action


@action("end")
def run(act, turn) -> None:
    turn.finish(ConversationEnded())

"""``{type: end}``: the conversation is over; nothing about it is kept.

The next message starts a new conversation, exactly as for someone writing the first time.
"""

from bot.domain.events import ConversationEnded
from bot.engine.actions import action


@action("end")
def run(act, turn) -> None:
    turn.finish(ConversationEnded())

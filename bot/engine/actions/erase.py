"""Executor of ``erase``, the quick exit (spec: ``bot.flowdef.actions.erase``).

The step's message (how to delete the thread) is still sent; the service erases the stored
conversation when it sees ``ConversationErased``, in the same transaction as the turn.
"""

from bot.domain.events import ConversationErased
from bot.engine.actions import action


@action("erase")
def run(act, turn) -> None:
    turn.finish(ConversationErased())

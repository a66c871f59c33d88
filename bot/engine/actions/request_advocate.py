"""Executor of ``request_advocate`` (spec: ``bot.flowdef.actions.request_advocate``).

Records the request (urgent when emergency words came first, may be written to when
``replies: write``) as ``HandoffRequested``, for the service's handoff to pick up.
"""

from bot.domain.events import HandoffRequested
from bot.engine.actions import action


@action("request_advocate")
def run(act, turn) -> None:
    turn.session.advocate_requested = True
    turn.events.append(HandoffRequested(urgent=turn.session.urgent, may_write=act.get("replies") == "write"))

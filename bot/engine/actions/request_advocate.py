"""``{type: request_advocate}``: the person consented to talk to a person.

Records the request (urgent when emergency words came first) for the handoff to pick up.
"""

from bot.domain.events import HandoffRequested
from bot.engine.actions import action


@action("request_advocate")
def run(act, turn) -> None:
    turn.session.advocate_requested = True
    turn.events.append(HandoffRequested(urgent=turn.session.urgent))

"""``{type: request_advocate, replies: write | check_back}``: the person consented to talk to
a person, and chose how replies reach them: ``write`` ("you may write to me here") or
``check_back`` (the default: nothing is sent until they write again).

Records the request (urgent when emergency words came first) for the handoff to pick up.
"""

from bot.domain.events import HandoffRequested
from bot.engine.actions import action


@action("request_advocate")
def run(act, turn) -> None:
    turn.session.advocate_requested = True
    turn.events.append(HandoffRequested(urgent=turn.session.urgent, may_write=act.get("replies") == "write"))

"""Executor of ``mark_urgent`` (spec: ``bot.flowdef.actions.mark_urgent``): the session is
marked urgent, so a handoff asked for later is urgent, and ``EmergencyDetected`` tells the service
at once.
"""

from bot.domain.events import EmergencyDetected
from bot.engine.actions import action


@action("mark_urgent")
def run(act, turn) -> None:
    turn.session.urgent = True
    turn.events.append(EmergencyDetected())

"""``{type: mark_urgent}``: the person may be in danger (emergency words, or "I'm in danger now").

A handoff they then ask for is flagged urgent, and the service is told at once.
"""

from bot.domain.events import EmergencyDetected
from bot.engine.actions import action


@action("mark_urgent")
def run(act, turn) -> None:
    turn.session.urgent = True
    turn.events.append(EmergencyDetected())

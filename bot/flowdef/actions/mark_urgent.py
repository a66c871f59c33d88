"""``{type: mark_urgent}``: the person may be in danger (emergency words, or "I'm in danger now").

A handoff they then ask for is flagged urgent, and the service is told at once.
"""

from bot.flowdef.actions import ActionSpec

SPEC = ActionSpec("mark_urgent")

"""``{type: erase}``: quick exit; everything held about the person is destroyed now.

The step's message (how to delete the thread) is still sent. A step with it needs no choices.
"""

from bot.flowdef.actions import ActionSpec

SPEC = ActionSpec("erase", ends_conversation=True)

"""``{type: end}``: the conversation is over; nothing about it is kept.

The next message starts a new conversation, exactly as for someone writing the first time. A
step with it needs no choices.
"""

from bot.flowdef.actions import ActionSpec

SPEC = ActionSpec("end", ends_conversation=True)

"""``{type: erase}``: quick exit; everything held about the person is destroyed now.

The step's message (how to delete the thread) is still sent. A step with it needs no choices.
Where the copies the provider keeps are deleted (SMS with Twilio's REST API configured), the
service appends ``COPIES_DELETED`` to it, and only then: the step's own text must not claim it.
"""

from bot.flowdef.actions import COPIES_DELETED, ActionSpec

SPEC = ActionSpec("erase", ends_conversation=True, text_keys=(COPIES_DELETED,), reply_extras=(COPIES_DELETED,))

"""``{type: end}``: the conversation is over; nothing about it is kept.

The next message starts a new conversation, exactly as for someone writing the first time. A
step with it needs no choices. Like ``erase``, its reply gets ``COPIES_DELETED`` where the
provider's copies are deleted.
"""

from bot.flowdef.actions import COPIES_DELETED, ActionSpec

SPEC = ActionSpec("end", ends_conversation=True, text_keys=(COPIES_DELETED,), reply_extras=(COPIES_DELETED,))

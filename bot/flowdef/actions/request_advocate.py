"""``{type: request_advocate, replies: check_back}``: the person consented to talk to a person.

``replies: write``: they may be written to when an advocate answers; ``check_back`` (the
default): what the advocate writes waits for their next message. The service appends what
happens next (``handoff.waiting``, ``handoff.after_hours`` or ``handoff.already_waiting``) to
the step's reply, in the same message.
"""

from bot.flowdef.actions import ActionSpec

SPEC = ActionSpec(
    "request_advocate",
    schema={"properties": {"replies": {"enum": ["write", "check_back"]}}},
    reply_extras=("handoff.waiting", "handoff.after_hours", "handoff.already_waiting"),
)

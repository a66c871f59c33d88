"""The intent ids understanding answers with besides the needs a flow routes (``need.*``)."""

from __future__ import annotations

EXIT = "exit"
SELF_HARM = "crisis.self_harm"
DANGER = "crisis.danger"
HELP = "help"
GREETING = "greeting"
NONE = "none"
CRISIS = (SELF_HARM, DANGER)
# Intents found by phrases (crises also by a close example, as a fallback); the quick exit only
# by its phrases, never by resemblance.
DETERMINISTIC = frozenset({EXIT, SELF_HARM, DANGER})
# Intents that are not a need to route to (not offered as a guess).
NOT_NEEDS = frozenset({*DETERMINISTIC, GREETING, NONE})
NOT_GUESSED = frozenset({EXIT, GREETING, NONE})

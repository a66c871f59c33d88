"""An offer of guesses: what the numbers of an unsure reply mean (DESIGN rule 7).

When the engine cannot place a reply, it offers its best guesses as numbered choices, with
"talk to a person" and the menu (a person first on the second miss in a row); with nothing to
guess, the step's own choices keep their numbers. An option is a string kept in the session for
one reply, never what was written: ``"intent:need.wages"``, ``"choice:2"`` (the step's third
choice) or ``"menu"``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from bot.flowdef.model import BACK, Flow, Step

# The intent whose step is "talk to a person", offered with every set of guesses.
PERSON = "need.human"
MAX_NUMBER = 9  # choices are one digit each on SMS


def options(flow: Flow, step: Step, guessed: Sequence[str], misses: int) -> list[str] | None:
    """What to offer at ``step`` for a reply understood as the intents ``guessed`` (best first),
    after ``misses`` replies in a row not understood; None: repeat the step's choices instead
    (nothing to guess, first miss). At most ``MAX_NUMBER``; never two options to one step.

    >>> options(flow, flow.steps["main_menu"], ["need.wages"], 1)  # doctest: +SKIP
    ['intent:need.wages', 'intent:need.human']
    """
    intents = flow.intents
    guesses = [f"intent:{g}" for g in guessed if g in intents and intents[g] != step.id]
    if not guesses and misses < 2:
        return None
    person = [f"intent:{PERSON}"] if PERSON in intents and intents[PERSON] != step.id else []
    if guesses:
        rest = [*guesses, *person, "menu"] if misses < 2 else [*person, *guesses, "menu"]
    else:  # the step's own choices keep their numbers ("1" stays "I'm in danger now")
        rest = [*(f"choice:{i}" for i in range(len(step.choices))), *person] or ["menu"]
    targets: set[str] = set()
    offered = []
    for option in rest:  # two options leading to one step would be one choice twice
        goes_to = target(flow, step, option)
        if goes_to not in targets and not (option == "menu" and step.id == flow.menu):
            targets.add(goes_to)
            offered.append(option)
    return offered[:MAX_NUMBER]  # at most 9: a person last goes first


def tag(step_tag: str, offered: list[str]) -> str:
    """The offer's tag for buttons: the step's, and which options, so that a button of an
    earlier offer on the same step is not taken for one of this one."""
    return f"{step_tag}g{zlib.crc32('|'.join(offered).encode()) % 65536:x}"


def target(flow: Flow, step: Step, option: str) -> str:
    """Where ``option`` leads (a choice that does something on the way is its own target)."""
    kind, _, value = option.partition(":")
    if kind == "intent":
        return flow.intents[value]
    if kind == "choice":
        choice = step.choices[int(value)]
        # a choice that does something on the way (sets a language) is its own option
        return f"{step.id}#{value}" if choice.actions or choice.goto == BACK else choice.goto
    return flow.menu


def label(step: Step, option: str) -> str:
    """The text key ``option`` is shown with."""
    kind, _, value = option.partition(":")
    if kind == "intent":
        return f"intent.{value}"
    if kind == "choice":
        return step.choices[int(value)].label
    return "choice.menu"

"""The typed flow document: what ``flows/*.yaml`` says, after validation.

Everything here is immutable and shared by every conversation. Message, label and match values
are keys into the locale catalog, never text shown as written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bot.flowdef.actions import SPECS

BACK = "@back"  # a target meaning "the step the person was on before a `remember` command"


@dataclass(frozen=True, slots=True)
class Action:
    """A typed action. ``type`` picks the engine's executor; ``params`` are its validated fields.

    Each type's fields, texts and checks are in its module of ``bot/flowdef/actions/``.
    """

    type: str
    params: tuple[tuple[str, object], ...] = ()

    def get(self, name: str, default: object = None) -> object:
        for key, value in self.params:  # a few fields at most: a scan, no dict per call
            if key == name:
                return value
        return default


@dataclass(frozen=True, slots=True)
class Choice:
    label: str  # text key, shown numbered on SMS and as a button on Telegram
    goto: str  # step id or BACK
    match: str | None = None  # match-words key; the number and the label always match too
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True, slots=True)
class Route:
    """Free text containing one of the ``match`` words goes to ``goto``."""

    match: str
    goto: str


@dataclass(frozen=True, slots=True)
class Command:
    """A global command, checked in every step before the step's own choices.

    ``contains``: the words may appear anywhere in the message (emergencies), rather than being
    the whole message. ``remember``: ``@back`` later returns to the step the person was on.
    ``restart``: a new conversation begins (greetings): the same reply as to someone writing
    for the first time, so a returning phone shows nothing of before (DESIGN rule 8).
    ``while_held``: the bot still answers it while an advocate holds the chat (the quick exit,
    emergencies); every other message then goes to the advocate alone.
    """

    id: str
    match: str
    goto: str
    contains: bool = False
    remember: bool = False
    restart: bool = False
    while_held: bool = False


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    say: tuple[str, ...] = ()
    actions: tuple[Action, ...] = ()
    choices: tuple[Choice, ...] = ()
    routes: tuple[Route, ...] = ()

    @property
    def ends_conversation(self) -> bool:
        return any(action.type in TERMINAL_ACTIONS for action in self.actions)


TERMINAL_ACTIONS = frozenset(name for name, spec in SPECS.items() if spec.ends_conversation)


@dataclass(frozen=True)
class Flow:
    name: str
    file: str
    spec_version: int
    start: str
    menu: str
    reprompt: str
    text_only: str
    edited: str
    idle_timeout: timedelta
    commands: tuple[Command, ...]
    steps: dict[str, Step]
    vars: dict[str, str] = field(default_factory=dict)
    description: str = ""
    # intent id (understood from free text, ``locales/understanding/``) -> the step that answers it
    intents: dict[str, str] = field(default_factory=dict)
    # the answer when unsure what a person meant (with guesses), and the line a person waiting
    # for an advocate gets for a message the bot cannot place (the advocate will read it)
    unsure: str = "common.unsure"
    noted: str = "handoff.noted"

    def targets(self, step: Step) -> list[str]:
        """Every step id ``step`` can lead to by a choice or a route (``@back`` excluded)."""
        found = [c.goto for c in step.choices] + [r.goto for r in step.routes]
        return [t for t in dict.fromkeys(found) if t != BACK]

"""What an inbound message is, as one typed intent: the engine's rules in priority order.

``classify`` reads a message once and returns exactly one intent; ``Engine.resume`` only
dispatches on its type. The order is the engine's documented one (``bot.engine.engine``, DESIGN
rules 3, 5 and 7), and each numbered comment in ``classify`` is one rule:

1. ``QuickExit`` / ``Crisis``: the quick exit and crises by phrase, in every state, even while an
   advocate holds the chat (unless the reply is the step's own choice so labelled);
2. ``ForAdvocate``: an advocate holds the chat: everything else is theirs, except the commands
   that work while held (the quick exit and emergency words);
3. ``BackToMenu``: a greeting or restart while waiting for a person (it must not cancel the
   request), or the first message after an advocate handed the chat back without a command;
4. ``Restart``: SMS START, Telegram /start or a greeting in a live conversation: a new one,
   answered exactly as a first message;
5. ``GlobalCommand``: menu, language, help, a person, emergency words;
6. ``FirstMessage``: a new or expired conversation: a need understood from it, or the start;
7. ``Media`` / ``Edit``: a photo or voice note, an edited message (their caption or text was
   read above for rules 1-5 only);
8. ``Reply``: an answer to the step (its offer of guesses, choices, routes, a need, else unsure).

Every intent is a small value, never changed once made (not frozen: a frozen dataclass costs
three times as much to build, on every turn). No text of the message survives in it except in
``Reply``, which the step's matching needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.domain.messages import Inbound, InboundKind
from bot.engine.matching import CommandHit, normalize
from bot.engine.session import Session
from bot.understanding import CRISIS, EXIT, GREETING, NOTHING, Understanding

if TYPE_CHECKING:
    from bot.engine.engine import Engine

# Intents answered before anything else, in every state (DESIGN rules 3 and 5).
FIRST = (EXIT, *CRISIS)
# Kinds whose text is read: a photo's caption or an edit, for rules 1-5 only.
READ_KINDS = (InboundKind.TEXT, InboundKind.MEDIA, InboundKind.EDIT)


@dataclass(slots=True)
class Carried:
    """What the previous reply left for this one, taken off the session as the turn begins: an
    offer of guesses holds for one reply, as do the count of misses and a hand-back."""

    offered: list[str] | None
    misses: int
    handed_back: bool


@dataclass(slots=True)
class QuickExit:
    understood: Understanding
    fresh: bool


@dataclass(slots=True)
class Crisis:
    understood: Understanding
    fresh: bool


@dataclass(slots=True)
class ForAdvocate:
    """The bot stays silent; the advocate reads the message."""


@dataclass(slots=True)
class BackToMenu:
    """The menu, leaving a request for a person as it is."""


@dataclass(slots=True)
class Restart:
    language_hint: str | None  # the channel's, for the new conversation's language


@dataclass(slots=True)
class GlobalCommand:
    hit: CommandHit
    fresh: bool


@dataclass(slots=True)
class FirstMessage:
    need: Understanding | None  # a need the flow answers, understood from the message


@dataclass(slots=True)
class Media:
    """A photo or voice note: the flow's ``text_only`` answer and the step's choices."""


@dataclass(slots=True)
class Edit:
    """An edited message: the flow's ``edited`` answer and the step's choices."""


@dataclass(slots=True)
class Reply:
    raw: str  # as written, for numbers ("-1" is not 1)
    text: str  # normalized, for words
    understood: Understanding  # the first reading; a need is read from it only if nothing fits
    offered: list[str] | None
    misses: int


Intent = QuickExit | Crisis | ForAdvocate | BackToMenu | Restart | GlobalCommand | FirstMessage | Media | Edit | Reply


def readable(inbound: Inbound) -> str:
    """The text of ``inbound`` that understanding reads ("" for a restart or an opt-out)."""
    return inbound.text if inbound.kind in READ_KINDS else ""


def classify(engine: Engine, session: Session, inbound: Inbound, fresh: bool, carried: Carried) -> Intent:
    """The one intent of ``inbound`` for ``session`` (already renewed if ``fresh``), trying the
    rules of this module's docstring in their order; reads nothing twice, changes nothing.

    For example, "SALIR" is ``QuickExit`` in any state; "hola" is ``Restart`` in a live
    conversation, ``BackToMenu`` while waiting for a person and ``FirstMessage`` from a new
    number; "2" is ``ForAdvocate`` while an advocate holds the chat, and otherwise ``Reply``.
    """
    raw = readable(inbound)
    text = normalize(raw) if raw else ""
    understood = engine.understander.first(raw, session.language) if raw else NOTHING
    # 1. the quick exit and crises
    if _answered_first(engine, session, understood, raw, text, fresh):
        return (QuickExit if understood.intent == EXIT else Crisis)(understood, fresh)
    command = engine.commands.find(text, session.language) if text else None
    # 2. an advocate holds the chat
    if _held(session, command):
        return ForAdvocate()
    restart = inbound.kind is InboundKind.RESTART or _greeting(command, understood, inbound)
    # 3. waiting for a person, or just handed back
    if _back_to_menu(session, restart, carried, fresh, command):
        return BackToMenu()
    # 4. a new conversation in place of a live one
    if restart and not fresh:
        return Restart(inbound.language_hint)
    # 5. global commands (a restart command is rule 4, or rule 6 from a new number)
    if command is not None and not command.command.restart:
        return GlobalCommand(command, fresh)
    # 6. a first message
    if fresh:
        return FirstMessage(None if restart else _need(engine, understood, session, inbound))
    # 7. a photo or an edit
    if inbound.kind is InboundKind.MEDIA:
        return Media()
    if inbound.kind is InboundKind.EDIT:
        return Edit()
    # 8. an answer to the step
    return Reply(raw, text, understood, carried.offered, carried.misses)


def _answered_first(engine: Engine, session: Session, understood: Understanding, raw: str, text: str, fresh: bool) -> bool:
    """Whether rule 1 holds: the quick exit or a crisis the flow answers, except the quick exit
    as the step's own choice, as labelled ("Quick exit" among the safety tips)."""
    if understood.intent not in FIRST or understood.intent not in engine.flow.intents:
        return False
    return fresh or understood.intent != EXIT or engine.steps[session.state].choice(raw, text, session.language) is None


def _held(session: Session, command: CommandHit | None) -> bool:
    """Whether rule 2 holds: an advocate holds the chat and ``command`` (if any) is not one
    the bot still answers then."""
    return session.handoff == "held" and (command is None or not command.command.while_held)


def _back_to_menu(session: Session, restart: bool, carried: Carried, fresh: bool, command: CommandHit | None) -> bool:
    """Whether rule 3 holds: a greeting or restart while a request for a person is open, or a
    message without a command right after an advocate handed the chat back."""
    return bool(session.handoff and restart) or (carried.handed_back and not fresh and command is None)


def _greeting(command: CommandHit | None, understood: Understanding, inbound: Inbound) -> bool:
    """A command that starts anew, or (no command fitting) a greeting written as text."""
    if command is not None:
        return command.command.restart
    return inbound.kind is InboundKind.TEXT and understood.intent == GREETING


def _need(engine: Engine, understood: Understanding, session: Session, inbound: Inbound) -> Understanding | None:
    """A need the flow answers, understood from a first message written as text, or None."""
    if inbound.kind is not InboundKind.TEXT:
        return None
    need = engine.understander.need(understood, session.language)
    return need if need.intent in engine.flow.intents else None

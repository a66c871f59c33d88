"""What one turn produced, and the builder actions write into while it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.domain.events import (
    ConversationEnded,
    ConversationErased,
    ConversationExpired,
    ConversationRestarted,
    Event,
)
from bot.domain.messages import ChoiceView, Outbound
from bot.engine.session import Session

if TYPE_CHECKING:
    from bot.engine.engine import Engine


@dataclass(frozen=True)
class Turn:
    """The result of ``Engine.resume``.

    ``session`` is the state to store, or None when nothing may be kept (quick exit, end).
    ``outputs`` are the replies to send, in order; ``events`` what else happened (no personal data).
    """

    session: Session | None
    outputs: tuple[Outbound, ...]
    events: tuple[Event, ...] = field(default_factory=tuple)

    @property
    def erased(self) -> bool:
        """A quick exit: the channel should also delete what it can of the chat."""
        return any(isinstance(e, ConversationErased) for e in self.events)

    @property
    def restarted(self) -> bool:
        """The stored conversation was replaced by a new one: it expired, no longer fits the
        flow, or the person greeted again."""
        return any(isinstance(e, (ConversationExpired, ConversationRestarted)) for e in self.events)


class TurnBuilder:
    """Collects the reply being built: text parts, then one ``Outbound`` per ``emit``."""

    def __init__(self, engine: Engine, session: Session, inbound_offer: str | None = None):
        self.engine = engine
        self.session = session
        self.events: list[Event] = []
        self.outputs: list[Outbound] = []
        self._parts: list[str] = []
        self._finished = False
        self.inbound_offer = inbound_offer  # the offer a pressed button answers

    def text(self, key: str, **values: object) -> str:
        """The message ``key`` in the session's language, with the flow's vars and ``values``."""
        engine = self.engine
        if values:
            return engine.catalog.text(key, self.session.language, **{**engine.flow.vars, **values})
        cached = engine.texts.get((key, self.session.language))
        if cached is None:
            cached = engine.texts[key, self.session.language] = engine.catalog.text(key, self.session.language, **engine.flow.vars)
        return cached

    def say(self, key: str) -> None:
        self._parts.append(self.text(key))

    def add_lines(self, lines: list[str]) -> None:
        """Lines that belong under the previous part (a list under its heading)."""
        block = "\n".join(lines)
        if self._parts:
            self._parts[-1] = f"{self._parts[-1]}\n{block}"
        else:
            self._parts.append(block)

    def emit(self, choices: tuple[ChoiceView, ...] = (), offer: str | None = None) -> None:
        self.outputs.append(Outbound("\n\n".join(self._parts), choices, offer if choices else None))
        self._parts = []

    def finish(self, event: ConversationErased | ConversationEnded) -> None:
        """Nothing about this conversation is to be kept after this turn."""
        self._finished = True
        self.events.append(event)

    def result(self) -> Turn:
        return Turn(None if self._finished else self.session, tuple(self.outputs), tuple(self.events))

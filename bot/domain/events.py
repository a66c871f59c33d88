"""What a turn did besides answering, for the service to act on (store, channels, handoff).

Events carry no address and no message text: they are safe to log.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every event."""

    @property
    def name(self) -> str:
        return type(self).__name__


@dataclass(frozen=True, slots=True)
class LanguageChanged(Event):
    language: str


@dataclass(frozen=True, slots=True)
class HandoffRequested(Event):
    """The person consented to talk to a person; ``urgent`` when it follows emergency words.
    ``may_write``: they chose "you may write to me here"; otherwise nothing is sent to them
    until they write again (DESIGN rule 1)."""

    urgent: bool = False
    may_write: bool = False


@dataclass(frozen=True, slots=True)
class LinesDelivered(Event):
    """``count`` lines that waited for the person (an advocate's replies, "someone is here now",
    the hand-back note) went out with this turn's answer."""

    count: int


@dataclass(frozen=True, slots=True)
class EmergencyDetected(Event):
    """Emergency words were seen; emergency guidance was given whatever the state was."""


@dataclass(frozen=True, slots=True)
class ConversationErased(Event):
    """Quick exit: everything held about the person must be destroyed now."""


@dataclass(frozen=True, slots=True)
class ConversationEnded(Event):
    """The flow reached its end; nothing about the conversation needs keeping."""


@dataclass(frozen=True, slots=True)
class ConversationExpired(Event):
    """The conversation was idle past the flow's timeout and started over."""


@dataclass(frozen=True, slots=True)
class ConversationRestarted(Event):
    """The person greeted again (a restart command): a new conversation replaces the old one."""


@dataclass(frozen=True, slots=True)
class ForAdvocate(Event):
    """An advocate holds the chat: the person's message is theirs to answer; the bot stays silent."""


@dataclass(frozen=True, slots=True)
class HeldBack(Event):
    """Over a limit (``bot.service.limits``): the message got no full turn. ``new``: a new conversation
    past the minute's limit (a static answer, nothing kept); else a person writing faster than
    the limit, ``tell`` on the first such message of the minute (the one answered)."""

    new: bool = False
    tell: bool = False

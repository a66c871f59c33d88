"""The studio's "Try it": a draft's conversation replayed as SMS or Telegram would show it.

    simulator = Simulator(regions)
    result = simulator.run(bundle, language="es", channel="sms", messages=["hola", "2", "1"])
    result["exchanges"][2]
    # {"replies": [{"text": "...\\n1 ...", "encoding": "GSM-7", "characters": 212, "segments": 2}],
    #  "step": "main_menu", "language": "es", "ended": None, "events": [],
    #  "understood": {"as": "reply", "choice": 1, "label": "Sí, puedo hablar"}}

Keeping nothing: every call replays all the person's messages (oldest first) from a new
conversation through the pure engine (``bot.engine.Engine.resume``) of the bundle's own content,
on a simulated clock (``START``, one minute apart). Nothing touches the store, no adapter
sends, nothing is logged, no session outlives the call; closing the page forgets the conversation.
The person's messages are parsed by the channel's own parser (Twilio's form, a Telegram Update,
a pressed button's ``callback_data``) and the replies rendered by its own renderer
(``bot.channels.twilio_sms.sms_body``, ``bot.channels.telegram.render``), so what is shown is what
would be sent. What the service adds around a turn (limits, a handoff's queue, the line about the
provider's copies being deleted) is not simulated; a handoff shows as its event.

Loading content takes seconds, so the loaded ``Content`` of the last few bundles is kept here
(``CACHE_SIZE``, by ``Bundle.digest``); content holds no message of anyone.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.channels.simulated import SIMULATED, SimulatedMessageError, shown, simulated_inbound
from bot.content import Bundle
from bot.content.loaded import Content, read_content
from bot.domain.events import ConversationEnded, ConversationErased
from bot.domain.messages import InboundKind
from bot.domain.problems import Problem, errors
from bot.engine import guesses
from bot.engine import intents as kinds
from bot.engine.session import Session

__all__ = ["SIMULATED", "MAX_MESSAGE", "MAX_MESSAGES", "NotRunnable", "START", "Simulator"]

MAX_MESSAGES = 50
MAX_MESSAGE = 1600  # Twilio's longest inbound body
START = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)  # the simulated clock's first message
STEP = timedelta(minutes=1)


class NotRunnable(ValueError):
    """The bundle has errors: no conversation can run on it (``problems``, errors first), or the
    request is not one the simulator takes (``problems`` empty, ``str`` says why)."""

    def __init__(self, reason: str, problems: list[Problem] | None = None):
        self.problems = problems or []
        super().__init__(reason)


class Simulator:
    """Replays conversations on bundles' content; thread-safe. A bundle's content is loaded once
    and kept by digest (``bot.content.read_content`` keeps the last ones of the process)."""

    def __init__(self, regions: tuple[str, ...] | None = None):
        self.regions = regions

    def content(self, bundle: Bundle) -> Content:
        """``bundle`` loaded; ``NotRunnable`` with its errors when it cannot run."""
        content, problems = read_content(bundle.root(), self.regions)
        if content is None:
            found = errors(problems) or problems
            raise NotRunnable("the draft has errors; fix them to try it", found)
        return content

    def run(self, bundle: Bundle, language: str, channel: str, messages: list) -> dict:
        """The conversation of ``messages`` (each a string as typed, or ``{"button": data}`` for a
        pressed Telegram button) on ``bundle``, one exchange per message:
        ``{"language", "channel", "exchanges": [{"replies", "step", "language", "understood",
        "events", "ended"}]}``. ``ended`` is ``"erased"`` (quick exit), ``"ended"`` (the flow's
        end) or ``"opted_out"`` (a carrier word: no reply reaches the phone); the next message
        then starts a new conversation, as it would."""
        if channel not in SIMULATED:
            raise NotRunnable(f"channel is one of {', '.join(SIMULATED)}")
        if len(messages) > MAX_MESSAGES:
            raise NotRunnable(f"at most {MAX_MESSAGES} messages")
        content = self.content(bundle)
        if language not in content.catalog.languages:
            raise NotRunnable(f"no language {language!r} in this draft")
        session: Session | None = None
        exchanges = []
        for number, message in enumerate(messages):
            if isinstance(message, str) and len(message) > MAX_MESSAGE:
                raise NotRunnable(f"message {number + 1}: at most {MAX_MESSAGE} characters")
            try:
                inbound = simulated_inbound(channel, message, language, number)
            except SimulatedMessageError as exc:
                raise NotRunnable(str(exc)) from None
            now = START + number * STEP
            if inbound is None:
                exchanges.append(_exchange([], session, None, [], None))
                continue
            if inbound.kind is InboundKind.OPT_OUT:
                # The carrier blocks the number and answers itself; the service erases the conversation.
                session = None
                exchanges.append(_exchange([], None, {"as": "carrier opt-out word"}, [], "opted_out"))
                continue
            engine = content.engine_for(session)
            understood = _understood(engine, session, inbound, now)
            turn = engine.resume(session, inbound, now)
            session = turn.session
            shown_in = session.language if session else content.catalog.default
            replies = [shown(channel, output, content.alphabet(shown_in)) for output in turn.outputs]
            ended = "erased" if turn.erased else "ended" if any(isinstance(e, ConversationEnded) for e in turn.events) else None
            events = [e.name for e in turn.events if not isinstance(e, (ConversationErased, ConversationEnded))]
            exchanges.append(_exchange(replies, session, understood, events, ended))
        return {"language": language, "channel": channel, "exchanges": exchanges}


def _exchange(replies: list, session: Session | None, understood: dict | None, events: list, ended: str | None) -> dict:
    return {
        "replies": replies, "step": session.state if session else None, "language": session.language if session else None,
        "understood": understood, "events": events, "ended": ended,
    }


def _understood(engine, session: Session | None, inbound, now) -> dict:
    """What the engine made of ``inbound``: the rule that answered it and, where there is one,
    the intent id, the choice or the command; never any of the message's words."""
    intent = engine.understand(session, inbound, now)
    if isinstance(intent, (kinds.QuickExit, kinds.Crisis)):
        return {"as": "quick exit" if isinstance(intent, kinds.QuickExit) else "crisis", "intent": intent.understood.intent, "why": intent.understood.why}
    if isinstance(intent, kinds.GlobalCommand):
        return {"as": "command", "command": intent.hit.command.id}
    if isinstance(intent, kinds.FirstMessage):
        if intent.need is None:
            return {"as": "first message: the start step"}
        return {"as": "first message: a need", "intent": intent.need.intent, "why": intent.need.why}
    if isinstance(intent, kinds.Restart):
        return {"as": "a new conversation (greeting or restart)"}
    if isinstance(intent, kinds.BackToMenu):
        return {"as": "back to the menu"}
    if isinstance(intent, kinds.ForAdvocate):
        return {"as": "for the advocate"}
    if isinstance(intent, kinds.Media):
        return {"as": "a photo or voice note"}
    if isinstance(intent, kinds.Edit):
        return {"as": "an edited message"}
    return _reply(engine, session, inbound, intent)


def _reply(engine, session: Session, inbound, reply: kinds.Reply) -> dict:
    """The step's reading of an answer, in ``bot.engine.moves.Moves._reply``'s order."""
    index = engine.steps[session.state]
    expected = guesses.tag(engine.offers[session.state], reply.offered) if reply.offered else engine.offers[session.state]
    if inbound.offer is not None and inbound.offer != expected:
        return {"as": "a button of an older message: the step again"}
    if reply.offered and index.number(reply.raw, len(reply.offered)) is not None:
        return {"as": "one of the guesses offered", "option": reply.offered[index.number(reply.raw, len(reply.offered))]}
    hit = index.choice(reply.raw, reply.text, session.language)
    if hit is not None:
        choice = index.step.choices[hit.index]
        return {"as": "choice", "choice": hit.index + 1, "label": engine.catalog.text(choice.label, session.language, **engine.flow.vars)}
    hit = index.route(reply.text, session.language)
    if hit is not None:
        return {"as": "route", "route": hit.index + 1, "goto": index.step.routes[hit.index].goto}
    need = engine.understander.need(reply.understood, session.language)
    if need.intent in engine.flow.intents:
        return {"as": "a need", "intent": need.intent, "why": need.why}
    return {"as": "not understood: guesses", "guesses": list(need.guesses)}

"""The conversation engine: one turn of one conversation, with no I/O and no clock reads.

    engine = Engine(flow, catalog, directory)          # once per flow, at start-up
    turn = engine.resume(session_or_none, inbound, now)  # per message
    # turn.session: store it (None: keep nothing); turn.outputs: send them; turn.events: act on them

Order of understanding a reply (DESIGN rules 3 and 5: the quick exit and emergencies win):
1. global commands (quick exit, emergency words anywhere, a greeting that starts anew, menu,
   language, help, a person);
2. for a new or expired conversation, the flow's start step, whatever was written;
3. the step's choices (number, label, match word), then its free-text routes;
4. otherwise a gentle re-prompt with the step's choices.
A photo or voice note (``InboundKind.MEDIA``) gets the flow's ``text_only`` answer and the
choices, unless its caption is a command; an edited message (``EDIT``) likewise gets the flow's
``edited`` answer; ``InboundKind.RESTART`` (SMS START, Telegram /start) begins anew like a first message.
The quick exit by carrier word (``OPT_OUT``) is the service's: no reply can reach the person.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Protocol, Sequence

from bot.domain.events import ConversationExpired, ConversationRestarted, ForAdvocate
from bot.domain.messages import ChoiceView, Inbound, InboundKind, Outbound, Resource
from bot.engine.actions import EXECUTORS
from bot.engine.machine import Conversation, SharedMachine
from bot.engine.matching import CommandIndex, StepIndex, normalize
from bot.engine.session import Session, unix
from bot.engine.turn import Turn, TurnBuilder
from bot.flowdef.model import BACK, Command, Flow, Step
from bot.i18n import Catalog


class ResourceLookup(Protocol):
    """What the engine needs of the resource directory (the store's ``Directory`` is one)."""

    def find(self, category: str, language: str, limit: int) -> Sequence[Resource]: ...


class Engine:
    """Everything needed to run one flow, built once and shared (read-only) by all turns."""

    def __init__(self, flow: Flow, catalog: Catalog, directory: ResourceLookup | None = None):
        missing = {
            action.type
            for step in flow.steps.values()
            for action in (*step.actions, *(a for c in step.choices for a in c.actions))
        } - EXECUTORS.keys()
        if missing:
            raise ValueError(f"{flow.file}: no executor for action type(s) {sorted(missing)}")
        self.flow = flow
        self.catalog = catalog
        self.directory = directory
        self.machine = SharedMachine(flow)
        self.commands = CommandIndex(flow, catalog)
        self.steps = {step_id: StepIndex(step, catalog) for step_id, step in flow.steps.items()}
        # Each step's offer tag: its position in the flow, so no step name goes to a phone.
        self.offers = {step_id: f"s{position}" for position, step_id in enumerate(flow.steps)}
        # (key, language) -> the catalog text with the flow's vars filled in: the same few hundred
        # texts on every turn, so each is formatted once (``TurnBuilder.text``).
        self.texts: dict[tuple[str, str], str] = {}

    def new_session(self, now: datetime, language_hint: str | None = None) -> Session:
        """A conversation at the start step. The hint only picks a default language."""
        language = self.catalog.resolve(language_hint) or self.catalog.default
        return Session(flow=self.flow.name, state=self.flow.start, language=language, last_active=unix(now))

    def is_expired(self, session: Session, now: datetime) -> bool:
        return unix(now) - session.last_active > self.flow.idle_timeout.total_seconds()

    def resume(self, session: Session | None, inbound: Inbound, now: datetime) -> Turn:
        """Run one turn. ``session`` is not modified; the new state is in the returned ``Turn``.

        A session of another flow, or at a step this flow no longer has (the flow was edited),
        starts over, as does one idle past the flow's timeout.
        """
        expired = session is not None and (
            (self.is_expired(session, now) and not session.handoff)  # a person waiting for an advocate stays
            or session.flow != self.flow.name or session.state not in self.flow.steps
        )
        fresh = session is None or expired
        current = self.new_session(now, inbound.language_hint) if fresh else replace(session, last_active=unix(now))
        turn = TurnBuilder(self, current)
        turn.inbound_offer = inbound.offer
        if expired:
            turn.events.append(ConversationExpired())
        # A photo's caption or an edit is read for commands only (quick exit, emergency words).
        text = normalize(inbound.text) if inbound.kind in (InboundKind.TEXT, InboundKind.MEDIA, InboundKind.EDIT) else ""
        command = self.commands.find(text, current.language) if text else None
        if current.handoff == "held" and not (command is not None and command[0].while_held):
            # An advocate holds the chat: the bot stays silent; only the quick exit and
            # emergency words are still answered by it.
            turn.events.append(ForAdvocate())
            return turn.result()
        if current.handoff and (inbound.kind is InboundKind.RESTART or (command is not None and command[0].restart)):
            # A greeting while waiting for a person must not cancel the request: the menu instead.
            with self.machine.attach(current.state) as model:
                self._go(turn, model, "command", self.flow.menu)
                current.state = model.state
            return turn.result()
        if inbound.kind is InboundKind.RESTART and not fresh:  # SMS START, Telegram /start
            current, fresh = self.new_session(now, inbound.language_hint), True
            turn = TurnBuilder(self, current)
            turn.events.append(ConversationRestarted())
        elif command is not None and command[0].restart and not fresh:
            # A greeting: a new conversation, answered exactly as a first message would be.
            current, fresh = self.new_session(now, inbound.language_hint), True
            turn = TurnBuilder(self, current)
            turn.events.append(ConversationRestarted())
            command = None
        with self.machine.attach(current.state) as model:
            if command is not None and not command[0].restart:
                self._command(turn, model, *command, fresh=fresh)
            elif fresh:
                self._render(turn, self.flow.steps[self.flow.start])
            elif inbound.kind is InboundKind.MEDIA:
                self._reprompt(turn, self.flow.steps[current.state], self.flow.text_only)
            elif inbound.kind is InboundKind.EDIT:
                self._reprompt(turn, self.flow.steps[current.state], self.flow.edited)
            else:
                self._reply(turn, model, inbound.text, text)
            current.state = model.state
        return turn.result()

    def preview(self, step_id: str, language: str) -> Outbound:
        """The reply a person gets on entering ``step_id`` in ``language`` (for checks and costs)."""
        session = Session(flow=self.flow.name, state=step_id, language=language, last_active=0, language_chosen=True)
        turn = TurnBuilder(self, session)
        self._render(turn, self.flow.steps[step_id])
        return turn.outputs[0]

    # -- the parts of a turn -------------------------------------------------------------------

    def _command(self, turn: TurnBuilder, model: Conversation, command: Command, language: str | None, fresh: bool) -> None:
        session = turn.session
        if language and not session.language_chosen:
            session.language = language  # "SALIR" or "peligro" from a new number: answer in Spanish
        if not command.remember:
            session.return_to = None
        elif not fresh and session.state != command.goto:
            session.return_to = session.state
        self._go(turn, model, "command", command.goto)

    def _reply(self, turn: TurnBuilder, model: Conversation, raw: str, text: str) -> None:
        session = turn.session
        index = self.steps[session.state]
        step = index.step
        if turn.inbound_offer is not None and turn.inbound_offer != self.offers[session.state]:
            self._reprompt(turn, step)  # a button of an older message: its number means another choice
            return
        hit = index.choice(raw, text, session.language)
        if hit is not None:
            choice = step.choices[hit.index]
            for action in choice.actions:
                EXECUTORS[action.type](action, turn)
            self._follow(turn, model, choice.goto)
            return
        hit = index.route(text, session.language)
        if hit is not None:
            self._follow(turn, model, step.routes[hit.index].goto)
            return
        self._reprompt(turn, step)

    def _follow(self, turn: TurnBuilder, model: Conversation, goto: str) -> None:
        """Take a choice's or route's target; ``@back`` is the remembered step, else the menu.
        Any move forgets the remembered step: ``@back`` only means "right after the command"."""
        session = turn.session
        remembered, session.return_to = session.return_to, None
        if goto == BACK:
            self._go(turn, model, "back", remembered if remembered in self.flow.steps else self.flow.menu)
        else:
            self._go(turn, model, "advance", goto)

    def _go(self, turn: TurnBuilder, model: Conversation, event: str, target: str) -> None:
        self.machine.move(model, event, target)
        self._render(turn, self.flow.steps[target])

    def _render(self, turn: TurnBuilder, step: Step) -> None:
        for key in step.say:
            turn.say(key)
        for action in step.actions:
            EXECUTORS[action.type](action, turn)
        turn.emit(self._choices(turn, step), self.offers[step.id])

    def _reprompt(self, turn: TurnBuilder, step: Step, key: str | None = None) -> None:
        turn.say(key or self.flow.reprompt)
        if not step.choices:  # a routes-only step: repeat what it asked
            for key in step.say:
                turn.say(key)
        turn.emit(self._choices(turn, step), self.offers[step.id])

    @staticmethod
    def _choices(turn: TurnBuilder, step: Step) -> tuple[ChoiceView, ...]:
        return tuple(ChoiceView(i, turn.text(choice.label)) for i, choice in enumerate(step.choices, 1))

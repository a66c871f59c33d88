"""The parts of a turn the engine's answers are made of: moving to a step and rendering it, a
command, a need understood, a reply to the step (its choices, routes, an offer of guesses), and
the re-prompt. ``Engine`` has them (``Moves`` is one of its bases); each works on the turn's
``TurnBuilder`` and the model attached to the shared machine (``Engine._within``)."""

from __future__ import annotations

from bot.domain.messages import ChoiceView
from bot.engine import guesses
from bot.engine.actions import EXECUTORS
from bot.engine.intents import Reply
from bot.engine.machine import Conversation, SharedMachine
from bot.engine.matching import StepIndex
from bot.engine.turn import TurnBuilder
from bot.flowdef.model import BACK, Choice, Command, Flow, Step
from bot.understanding import Understander, Understanding


class Moves:
    """What ``Engine.__init__`` builds, read here: the flow, its machine, each step's index and
    offer tag, and the understander."""

    flow: Flow
    machine: SharedMachine
    steps: dict[str, StepIndex]
    offers: dict[str, str]
    understander: Understander

    def _start(self, turn: TurnBuilder, model: Conversation) -> None:
        self._render(turn, self.flow.steps[self.flow.start])

    def _command(self, turn: TurnBuilder, model: Conversation, command: Command, language: str | None, fresh: bool) -> None:
        session = turn.session
        if language and not session.language_chosen:
            session.language = language  # "SALIR" or "peligro" from a new number: answer in Spanish
        if not command.remember:
            session.return_to = None
        elif not fresh and session.state != command.goto:
            session.return_to = session.state
        self._go(turn, model, "command", command.goto)

    def _understood(self, turn: TurnBuilder, model: Conversation, understood: Understanding, fresh: bool) -> None:
        """Go to the step the flow gives for what was understood, in the language it was written
        in if the person has not chosen one."""
        session = turn.session
        if understood.language and not session.language_chosen:
            session.language = understood.language
        target = self.flow.intents[understood.intent]
        # A step that offers "go back" (help) returns to where the person was, as after a command.
        back = any(c.goto == BACK for c in self.flow.steps[target].choices)
        session.return_to = session.state if back and not fresh and session.state != target else None
        self._go(turn, model, "understood", target)

    def _reply(self, turn: TurnBuilder, model: Conversation, reply: Reply) -> None:
        """An answer to the step: after an offer of guesses, its numbers; then the step's
        choices, its routes, a need understood from free text; else unsure (or, while waiting
        for a person, a note that they will read it)."""
        raw, text, offered, misses = reply.raw, reply.text, reply.offered, reply.misses
        session = turn.session
        index = self.steps[session.state]
        step = index.step
        expected = guesses.tag(self.offers[step.id], offered) if offered else self.offers[session.state]
        if turn.inbound_offer is not None and turn.inbound_offer != expected:
            self._reprompt(turn, step)  # a button of an older message: its number means another choice
            return
        if offered and index.number(raw, guesses.MAX_NUMBER) is not None:
            # after an offer of guesses a number means one of them: any other number gets the
            # same offer again, never one of the step's own choices shown earlier
            picked = index.number(raw, len(offered))
            if picked is None:
                turn.session.misses = misses  # the same offer again: still the same misses
                self._offer(turn, step, offered)
            else:
                self._take_offered(turn, model, offered[picked])
            return
        hit = index.choice(raw, text, session.language)
        if hit is not None:
            self._choose(turn, model, step.choices[hit.index])
            return
        hit = index.route(text, session.language)
        if hit is not None:
            self._follow(turn, model, step.routes[hit.index].goto)
            return
        understood = self.understander.need(reply.understood, session.language)
        if understood.intent in self.flow.intents:
            self._understood(turn, model, understood, fresh=False)
            return
        if session.handoff:
            # Waiting for a person: the advocate will read this in the transcript; the person is
            # not told they were not understood.
            self._reprompt(turn, step, self.flow.noted)
            return
        self._unsure(turn, step, understood, misses + 1)

    def _unsure(self, turn: TurnBuilder, step: Step, understood: Understanding, misses: int) -> None:
        """The best guesses as numbered choices (``guesses.options``), or with nothing to guess
        on a first miss, the step's choices again."""
        turn.session.misses = misses
        offered = guesses.options(self.flow, step, understood.guesses, misses)
        if offered is None:
            self._reprompt(turn, step)
        else:
            self._offer(turn, step, offered)

    def _offer(self, turn: TurnBuilder, step: Step, offered: list[str]) -> None:
        """Reply with ``offered`` as numbered choices; their numbers hold for the next reply."""
        turn.session.offered = offered
        turn.say(self.flow.unsure)
        choices = tuple(ChoiceView(i, turn.text(guesses.label(step, o))) for i, o in enumerate(offered, 1))
        turn.emit(choices, guesses.tag(self.offers[step.id], offered))

    def _take_offered(self, turn: TurnBuilder, model: Conversation, option: str) -> None:
        session = turn.session
        kind, _, value = option.partition(":")
        choices = self.flow.steps[session.state].choices
        if kind == "intent" and value in self.flow.intents:
            self._understood(turn, model, Understanding(value), fresh=False)
        elif kind == "choice" and int(value) < len(choices):
            self._choose(turn, model, choices[int(value)])
        else:
            self._go(turn, model, "command", self.flow.menu)

    def _choose(self, turn: TurnBuilder, model: Conversation, choice: Choice) -> None:
        """Take one of the step's choices: its actions, then its target."""
        for action in choice.actions:
            EXECUTORS[action.type](action, turn)
        self._follow(turn, model, choice.goto)

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

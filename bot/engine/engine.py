"""The conversation engine: one turn of one conversation, with no I/O and no clock reads.

    engine = Engine(flow, catalog, directory)          # once per flow, at start-up
    turn = engine.resume(session_or_none, inbound, now)  # per message
    # turn.session: store it (None: keep nothing); turn.outputs: send them; turn.events: act on them

Order of understanding a reply (DESIGN rules 3, 5 and 7: the quick exit and crises win; never a
bare "I didn't get that"):
1. the quick exit and crisis (``bot.understanding``: thoughts of suicide, immediate danger), in
   every state, even while an advocate holds the chat;
2. global commands (a greeting that starts anew, menu, language, help, a person);
3. for a new or expired conversation: a need understood from the first message goes straight to
   the step that answers it (in the language it was written in); anything else gets the start step;
4. after an offer of guesses, its numbers; then the step's choices (number, label, match word),
   its free-text routes, and then a need understood from free text (the flow's ``intents``);
5. otherwise: while waiting for an advocate, a short note that they will read it; else the best
   guesses as numbered choices with "talk to a person" and the menu (a person first on the
   second miss in a row), or, with nothing to guess, the step's choices again.
A photo or voice note (``InboundKind.MEDIA``) gets the flow's ``text_only`` answer and the
choices, unless its caption is the quick exit, a crisis or a command; an edited message (``EDIT``)
likewise gets the flow's ``edited`` answer; ``InboundKind.RESTART`` (SMS START, Telegram /start)
begins anew like a first message.
The quick exit by carrier word (``OPT_OUT``) is the service's: no reply can reach the person.
``bot.engine.intents`` states these rules one by one as ``classify`` applies them (with what
an advocate's handoff changes); ``resume`` only answers the intent it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Protocol, Sequence

from bot.domain.events import ConversationExpired, ConversationRestarted
from bot.domain.events import ForAdvocate as ForAdvocateEvent
from bot.domain.messages import Inbound, Outbound, Resource
from bot.engine.actions import EXECUTORS
from bot.engine.intents import (
    FIRST,
    BackToMenu,
    Carried,
    Crisis,
    Edit,
    FirstMessage,
    ForAdvocate,
    GlobalCommand,
    Intent,
    Media,
    QuickExit,
    Reply,
    Restart,
    classify,
    readable,
)
from bot.engine.machine import SharedMachine
from bot.engine.matching import CommandIndex, StepIndex
from bot.engine.moves import Moves
from bot.engine.session import Session, unix
from bot.engine.turn import Turn, TurnBuilder
from bot.flowdef.actions import SPECS
from bot.flowdef.model import Flow
from bot.i18n import Catalog
from bot.understanding import Understander


class ResourceLookup(Protocol):
    """What the engine needs of the resource directory (the store's ``Directory`` is one)."""

    def find(self, category: str, language: str, limit: int, audience: str = "") -> Sequence[Resource]: ...


class Engine(Moves):
    """Everything needed to run one flow, built once and shared (read-only) by all turns."""

    def __init__(self, flow: Flow, catalog: Catalog, directory: ResourceLookup | None = None):
        missing = {
            action.type
            for step in flow.steps.values()
            for action in (*step.actions, *(a for c in step.choices for a in c.actions))
        } - EXECUTORS.keys()
        if missing:
            raise ValueError(f"{flow.file}: no executor for action type(s) {sorted(missing)}")
        if SPECS.keys() - EXECUTORS.keys():  # a type the flow files may use, which no step could run
            raise ValueError(f"no executor in bot/engine/actions/ for action type(s) {sorted(SPECS.keys() - EXECUTORS.keys())}")
        self.flow = flow
        self.catalog = catalog
        self.directory = directory
        self.machine = SharedMachine(flow)
        self.commands = CommandIndex(flow, catalog)
        self.understander = Understander(catalog)  # read-only, shared by every turn
        self.steps = {step_id: StepIndex(step, catalog) for step_id, step in flow.steps.items()}
        # Each step's offer tag: its position in the flow, so no step name goes to a phone.
        self.offers = {step_id: f"s{position}" for position, step_id in enumerate(flow.steps)}
        # (key, language) -> the catalog text with the flow's vars filled in: the same few hundred
        # texts on every turn, so each is formatted once (``TurnBuilder.text``).
        self.texts: dict[tuple[str, str], str] = {}
        # intent type -> its answer; every intent ``classify`` can return has one
        self._answers: dict[type, Callable[[TurnBuilder, object], Turn]] = {
            QuickExit: self._answer_first,
            Crisis: self._answer_first,
            ForAdvocate: self._answer_for_advocate,
            BackToMenu: self._answer_back_to_menu,
            Restart: self._answer_restart,
            GlobalCommand: self._answer_command,
            FirstMessage: self._answer_first_message,
            Media: self._answer_media,
            Edit: self._answer_edit,
            Reply: self._answer_reply,
        }

    def new_session(self, now: datetime, language_hint: str | None = None) -> Session:
        """A conversation at the start step. The hint only picks a default language."""
        return self._session_at(unix(now), language_hint)

    def _session_at(self, last_active: int, language_hint: str | None) -> Session:
        language = self.catalog.resolve(language_hint) or self.catalog.default
        return Session(flow=self.flow.name, state=self.flow.start, language=language, last_active=last_active)

    def is_expired(self, session: Session, now: datetime) -> bool:
        return unix(now) - session.last_active > self.flow.idle_timeout.total_seconds()

    def resume(self, session: Session | None, inbound: Inbound, now: datetime) -> Turn:
        """Run one turn. ``session`` is not modified; the new state is in the returned ``Turn``.

        A session of another flow starts over, as does one idle past the flow's timeout; one at
        a step this flow no longer has (a revision removed it) goes on from the menu. The message is then classified
        into one intent (``bot.engine.intents.classify``, in the order above) and answered.
        """
        turn, fresh, carried = self._begin(session, inbound, now)
        intent = classify(self, turn.session, inbound, fresh, carried)
        return self._answers[type(intent)](turn, intent)

    def understand(self, session: Session | None, inbound: Inbound, now: datetime) -> Intent:
        """The intent ``resume`` would answer for ``inbound`` (same reading, nothing changed):
        for the studio's simulator, which shows what the engine understood under each reply."""
        turn, fresh, carried = self._begin(session, inbound, now)
        return classify(self, turn.session, inbound, fresh, carried)

    def _begin(self, session: Session | None, inbound: Inbound, now: datetime) -> tuple[TurnBuilder, bool, Carried]:
        """The turn's builder over this turn's session (renewed if none, expired or foreign),
        whether it is new, and what the previous reply left for this one (taken off it)."""
        expired = session is not None and (
            (self.is_expired(session, now) and not session.handoff)  # a person waiting for an advocate stays
            or session.flow != self.flow.name
        )
        fresh = session is None or expired
        # A step that a newly published revision removed: the conversation goes on from the menu
        # (its language, a request for a person kept), and the message, written to a step the
        # person no longer sees, gets the menu, as after a hand-back (commands and crises win).
        removed = not fresh and session.state not in self.flow.steps
        current = self.new_session(now, inbound.language_hint) if fresh else replace(session, last_active=unix(now))
        if removed:
            current.state, current.return_to, current.handed_back = self.flow.menu, None, True
        turn = TurnBuilder(self, current, inbound.offer)
        if expired:
            turn.events.append(ConversationExpired())
        # An offer of guesses holds for one reply; the count of misses in a row ends with any
        # reply that is not a miss (``_unsure`` counts it on).
        carried = Carried(current.offered, current.misses, current.handed_back)
        current.offered, current.misses, current.handed_back = None, 0, False
        return turn, fresh, carried

    def answers_first(self, inbound: Inbound, language: str) -> bool:
        """Whether ``inbound`` is the quick exit or a crisis, which every state answers before
        anything else (and no limit holds back): the same reading ``resume`` starts with."""
        raw = readable(inbound)
        if not raw:
            return False
        intent = self.understander.first(raw, language).intent
        return intent in FIRST and intent in self.flow.intents

    # -- the answer to each intent (``_answers``), in the order ``classify`` tries them ----------

    def _within(self, turn: TurnBuilder, part: Callable[..., None], *args: object) -> Turn:
        """Run ``part(turn, model, *args)`` with the session's state attached to the machine."""
        with self.machine.attach(turn.session.state) as model:
            part(turn, model, *args)
            turn.session.state = model.state
        return turn.result()

    def _answer_first(self, turn: TurnBuilder, intent: QuickExit | Crisis) -> Turn:
        return self._within(turn, self._understood, intent.understood, intent.fresh)

    def _answer_for_advocate(self, turn: TurnBuilder, intent: ForAdvocate) -> Turn:
        # An advocate holds the chat: the bot stays silent; only the quick exit and crises
        # by phrase are still answered by it. Not a resemblance to a crisis example: the
        # person talks with the advocate in whole sentences, and the advocate reads them.
        turn.events.append(ForAdvocateEvent())
        return turn.result()

    def _answer_back_to_menu(self, turn: TurnBuilder, intent: BackToMenu) -> Turn:
        # A greeting while waiting for a person must not cancel the request: the menu instead.
        # And after an advocate handed the chat back, the next message was written to them
        # (or to what the person last saw), not to a menu they never got: the menu. A command
        # ("advocate", "menu") says what they want and is followed.
        return self._within(turn, self._go, "command", self.flow.menu)

    def _answer_restart(self, turn: TurnBuilder, intent: Restart) -> Turn:
        # SMS START, Telegram /start, or a greeting: a new conversation, answered exactly as
        # a first message would be.
        turn = TurnBuilder(self, self._session_at(turn.session.last_active, intent.language_hint))
        turn.events.append(ConversationRestarted())
        return self._within(turn, self._start)

    def _answer_command(self, turn: TurnBuilder, intent: GlobalCommand) -> Turn:
        return self._within(turn, self._command, intent.hit.command, intent.hit.language, intent.fresh)

    def _answer_first_message(self, turn: TurnBuilder, intent: FirstMessage) -> Turn:
        if intent.need is None:
            return self._within(turn, self._start)
        return self._within(turn, self._understood, intent.need, True)  # a need as the first message

    def _answer_media(self, turn: TurnBuilder, intent: Media) -> Turn:
        self._reprompt(turn, self.flow.steps[turn.session.state], self.flow.text_only)
        return turn.result()

    def _answer_edit(self, turn: TurnBuilder, intent: Edit) -> Turn:
        self._reprompt(turn, self.flow.steps[turn.session.state], self.flow.edited)
        return turn.result()

    def _answer_reply(self, turn: TurnBuilder, intent: Reply) -> Turn:
        return self._within(turn, self._reply, intent)

    def preview(self, step_id: str, language: str) -> Outbound:
        """The reply a person gets on entering ``step_id`` in ``language`` (for checks and costs)."""
        session = Session(flow=self.flow.name, state=step_id, language=language, last_active=0, language_chosen=True)
        turn = TurnBuilder(self, session)
        self._render(turn, self.flow.steps[step_id])
        return turn.outputs[0]

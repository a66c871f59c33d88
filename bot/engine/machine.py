"""The flow's state machine, built once per flow with ``transitions`` and shared by every
conversation.

States are the flow's steps. Events, each with its target in the trigger's name
(``advance main_menu``), so a move runs the one transition it names and no condition is tried:
- ``advance``: the edges of the flow graph (a choice or route of step S leads to T);
- ``command``: a global command, from any step;
- ``back``: ``@back`` from a step that offers it, to the remembered step.
The machine refuses a move the flow does not have (the engine then raises, rather than put a
person in a state that is not in the flow).

A conversation's state is attached for one turn and detached after it (``attach``), never a
machine per message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from transitions import Machine, MachineError

from bot.flowdef.model import BACK, Flow

# transitions logs every state change at INFO: which page a person reached is not for logs.
logging.getLogger("transitions").setLevel(logging.WARNING)


class FlowMachine(Machine):
    """A ``Machine`` whose models get their state attribute and nothing else.

    ``Machine.add_model`` binds convenience methods (``is_<state>``, one per trigger, ...) on the
    model: O(states + events) per call, paid on every turn (bench/NOTES.md has the figure). The
    engine fires events through ``machine.events`` and calls no model methods, so attaching is
    only setting the state.
    """

    def add_model(self, model, initial=None):
        self.set_state(initial if initial is not None else self.initial, model=model)
        self.models.append(model)


class Conversation:
    """The model attached to the machine for one turn: it holds only ``state``."""

    __slots__ = ("state",)


def trigger(event: str, target: str) -> str:
    """The machine's trigger for ``event`` towards ``target``: one trigger per target, so that
    firing it runs exactly the one transition the flow has from the current step, or none."""
    return f"{event} {target}"


def build_machine(flow: Flow) -> FlowMachine:
    transitions = []
    for step in flow.steps.values():
        for target in flow.targets(step):
            transitions.append({"trigger": trigger("advance", target), "source": step.id, "dest": target})
        if BACK in {c.goto for c in step.choices} | {r.goto for r in step.routes}:
            for target in flow.steps:
                transitions.append({"trigger": trigger("back", target), "source": step.id, "dest": target})
    for target in dict.fromkeys([*(c.goto for c in flow.commands), flow.menu]):
        transitions.append({"trigger": trigger("command", target), "source": "*", "dest": target})
    # What free text is understood as leads to its step from anywhere (bot.understanding).
    for target in dict.fromkeys(flow.intents.values()):
        transitions.append({"trigger": trigger("understood", target), "source": "*", "dest": target})
    return FlowMachine(
        model=None,
        states=list(flow.steps),
        transitions=transitions,
        initial=flow.start,
        auto_transitions=False,
        send_event=True,
        name=f"flow {flow.name}: ",
    )


class SharedMachine:
    """Thread-safe use of one ``FlowMachine`` by many conversations, one turn at a time each."""

    def __init__(self, flow: Flow):
        self.machine = build_machine(flow)
        self._lock = threading.Lock()

    @contextmanager
    def attach(self, state: str) -> Iterator[Conversation]:
        model = Conversation()
        with self._lock:
            self.machine.add_model(model, initial=state)
        try:
            yield model
        finally:
            with self._lock:
                self.machine.remove_model(model)

    def move(self, model: Conversation, event: str, to: str) -> None:
        """Fire ``event`` towards ``to``; raise ``FlowViolation`` if the flow has no such move."""
        fired = self.machine.events.get(trigger(event, to))
        if fired is None:
            raise FlowViolation(f"no {event} to {to!r} anywhere in the flow")
        try:
            moved = fired.trigger(model)
        except MachineError as exc:
            raise FlowViolation(str(exc)) from None
        if not moved:
            raise FlowViolation(f"no {event} from {model.state!r} to {to!r}")


class FlowViolation(RuntimeError):
    """The engine asked for a move the flow does not have: a bug, never a person's input."""

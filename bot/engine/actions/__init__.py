"""Action executors, registered by the ``type`` a flow names (one module per type).

An executor is ``run(action, turn)``: it may add text to the reply being built, change the
session, and record events. It never does I/O; what must happen outside the engine (erasing
storage, notifying an advocate) is an event for the service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.flowdef.model import Action

if TYPE_CHECKING:
    from bot.engine.turn import TurnBuilder

Executor = Callable[[Action, "TurnBuilder"], None]
EXECUTORS: dict[str, Executor] = {}


def action(type_name: str) -> Callable[[Executor], Executor]:
    """Register the decorated function as the executor of ``type_name``."""

    def register(function: Executor) -> Executor:
        EXECUTORS[type_name] = function
        return function

    return register


# Import for registration; each module documents its type with an example.
from bot.engine.actions import (  # noqa: E402,F401
    end,
    erase,
    list_resources,
    mark_urgent,
    request_advocate,
    set_language,
)

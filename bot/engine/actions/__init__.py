"""Action executors, registered by the ``type`` a flow names (one module per type).

An executor is ``run(action, turn)``: it may add text to the reply being built, change the
session, and record events. It never does I/O; what must happen outside the engine (erasing
storage, notifying an advocate) is an event for the service. Each module registers its
function with ``@action("type")``; the modules are found with ``pkgutil`` (no list to edit). The
type's fields, texts and checks, with an example, are its spec in ``bot/flowdef/actions/``.
"""

from __future__ import annotations

import importlib
import pkgutil
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


for _module in pkgutil.iter_modules(__path__):  # each module registers its executor on import
    importlib.import_module(f"{__name__}.{_module.name}")

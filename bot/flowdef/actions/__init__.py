"""Action types as data: one module per type, each with its spec and a documented example.

A module here declares ``SPEC = ActionSpec(...)`` for one type: the JSON Schema of its fields,
the catalog texts the engine needs for it, whether it ends the conversation, and its check
against the catalog. Modules are found with ``pkgutil``, so adding a type is adding its module
here and its executor in ``bot/engine/actions/`` (the engine refuses to start without one):

    # bot/flowdef/actions/set_language.py
    SPEC = ActionSpec("set_language", schema={"required": ["language"], "properties": {...}}, check=_check)

``SPECS`` maps each type to its spec, in module-name order. The schema (``flowdef.schema``), the
steps that end a conversation (``flowdef.model``) and inspection (``flowdef.inspect``) read it
and never name a type.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.domain.problems import Problem

if TYPE_CHECKING:
    from bot.flowdef.model import Action
    from bot.i18n import Catalog


@dataclass(frozen=True, slots=True)
class ResourceQuery:
    """What a directory look-up is asked: a need, an audience, how many entries."""

    category: str
    audience: str
    limit: int


# Appended by the service to the reply that ends a conversation when the copies its provider keeps
# are being deleted (``bot.service.turn``), and only then: a step's own text cannot know whether
# they are (SMS without Twilio's REST API, Telegram), so it must not say so.
COPIES_DELETED = "ended.copies_deleted"


@dataclass(frozen=True)
class ActionSpec:
    """One action type as the flow file may use it.

    ``schema``: JSON Schema of the action's own fields (besides ``type``): ``properties``, and
    ``required`` or ``anyOf`` if any. ``text_keys``: catalog texts the engine uses when a step
    runs it (each must exist in the default language). ``placeholders``: names those texts may
    use, filled by the engine (so no flow var may take them). ``ends_conversation``: nothing is
    kept after the step (a step with it needs no choices). ``check(action, catalog, at)``: the
    problems of one use of it at ``at`` that the schema cannot see. ``reply_extras``: texts the
    service may append to the reply of a step that runs it, in the same message. ``resources``:
    the directory query it shows, for the checks of the directory.
    """

    type: str
    schema: dict = field(default_factory=lambda: {"properties": {}})
    text_keys: tuple[str, ...] = ()
    placeholders: tuple[str, ...] = ()
    ends_conversation: bool = False
    check: Callable[[Action, Catalog, str], list[Problem]] | None = None
    reply_extras: tuple[str, ...] = ()
    resources: Callable[[Action], ResourceQuery] | None = None

    def problems(self, action: Action, catalog: Catalog, at: str) -> Sequence[Problem]:
        return self.check(action, catalog, at) if self.check else ()


def _discover() -> dict[str, ActionSpec]:
    specs = {}
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            spec = importlib.import_module(f"{__name__}.{module.name}").SPEC
            if spec.type != module.name:
                raise ValueError(f"{__name__}.{module.name} declares the type {spec.type!r}: name the module after it")
            specs[spec.type] = spec
    return specs


SPECS: dict[str, ActionSpec] = _discover()

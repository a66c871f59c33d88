"""Inspection of a loaded flow against the catalog: what the schema cannot see.

Errors (the flow must not be used): a language in which the quick exit, danger or thoughts of
suicide are not understood (``safety_checks``), dead ends, keys missing in the default language, unknown
placeholders, carrier opt-out words taught (in any text, any case) or matched, a lock-screen
preview (the first ``PREVIEW_CHARS`` characters of any message the service or an advocate can
send, choices included, and the service's own ``FALLBACK_TEXT``) that shows a reveal word of any
language offered or the flow's hotline numbers, a language without reveal words of its own.
Warnings (``--strict`` fails on them): unreachable steps, keys or match words missing in another
language (the default language is shown instead), a message over 3 SMS segments, a GSM-7
language pushed into UCS-2, the same word picking two different things in one step.

``render(step_id, language)`` gives a step's reply on entry (the engine's ``preview``), so the
SMS cost and the lock-screen preview are those a person would really get, resource lists included.
Besides the steps, every other message is checked as it is sent: the reprompt, ``text_only``,
``edited`` and ``noted`` answers with each step's choices, the offer of guesses (``unsure``
followed by any label it may offer first), every standalone ``handoff.*``, ``canned.*`` and
``limits.*`` text,
the handoff texts the service appends to the reply of a step that asks for a person.

Text is normalized before it is read (``bot.understanding.words.fold_text``: compatibility forms,
invisible format characters dropped, look-alike letters of other scripts mapped to Latin), so
``Sh\u200belter`` or a Cyrillic ``ѕ`` are read as a phone shows them.

The checks live beside this module, one kind each: ``uses`` (what a flow names and reaches),
``text_checks`` (the catalog against it), ``message_checks`` (every message as sent),
``preview`` (the lock screen), ``safety_checks`` (the quick exit and crises in every
language), ``optout`` (the carrier's words), ``resource_checks`` (the
directory). Every name they export is importable from here too.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.messages import render_plain
from bot.domain.problems import Problem, where
from bot.domain.sms import prepare_sms, sms_cost
from bot.flowdef.message_checks import (
    MAX_SEGMENTS, REPLY_EXTRAS, SAMPLE_MINUTES, STANDALONE_PREFIXES, Render, message_problems, plain_message_problems,
)
from bot.flowdef.model import Flow
from bot.flowdef.optout import CARRIER_OPT_OUT_WORDS, carrier_words_taught
from bot.flowdef.preview import PREVIEW_CHARS, lock_screen_preview, revealing_words
from bot.flowdef.resource_checks import (
    DEFAULT_RESOURCE_MAX_AGE_MONTHS,
    RESOURCES_FILE,
    ResourceDirectory,
    listed_resource_ids,
    months_before,
    resource_problems,
    stale_resources,
    unlisted_resources,
)
from bot.flowdef.safety_checks import Understand, safety_problems
from bot.flowdef.text_checks import REQUIRED_INTENTS, match_problems, translation_problems, understanding_problems
from bot.flowdef.uses import NOT_GUESSED, reachable_steps
from bot.i18n import Catalog

__all__ = [
    "CARRIER_OPT_OUT_WORDS", "DEFAULT_RESOURCE_MAX_AGE_MONTHS", "MAX_SEGMENTS", "NOT_GUESSED", "PREVIEW_CHARS", "REPLY_EXTRAS",
    "REQUIRED_INTENTS", "RESOURCES_FILE", "SAMPLE_MINUTES", "STANDALONE_PREFIXES", "Render", "ResourceDirectory", "StepCost",
    "Understand", "carrier_words_taught", "inspect", "listed_resource_ids", "lock_screen_preview", "months_before", "plain_message_problems", "reachable_steps",
    "resource_problems", "revealing_words", "safety_problems", "stale_resources", "step_costs", "unlisted_resources",
]


@dataclass(frozen=True, slots=True)
class StepCost:
    step: str
    language: str
    encoding: str
    segments: int
    units: int


def inspect(flow: Flow, catalog: Catalog, render: Render, understand: Understand) -> list[Problem]:
    """Every problem of ``flow``, errors and warnings, in a stable order. ``render`` is the
    engine's ``preview``; ``understand`` what understanding answers first for a message in a
    language (``lambda text, code: engine.understander.first(text, code).intent``)."""
    return [
        *graph_problems(flow),
        *translation_problems(flow, catalog),
        *match_problems(flow, catalog),
        *understanding_problems(flow, catalog),
        *safety_problems(flow, catalog, understand),
        *message_problems(flow, catalog, render),
    ]


def step_costs(flow: Flow, catalog: Catalog, render: Render) -> list[StepCost]:
    """The SMS cost of every step's reply in every language, as the SMS adapter would send it."""
    rows = []
    for step_id in flow.steps:
        for code, data in catalog.locales.items():
            cost = sms_cost(prepare_sms(render_plain(render(step_id, code)), data.sms_alphabet))
            rows.append(StepCost(step_id, code, cost.encoding, cost.segments, cost.units))
    return rows


def graph_problems(flow: Flow) -> list[Problem]:
    problems = []
    seen = reachable_steps(flow)
    for step in flow.steps.values():
        at = where(flow.file, f"steps.{step.id}")
        if step.id not in seen:
            problems.append(Problem(at, "unreachable: no choice, route or command leads here", "warning"))
        if not step.choices and not step.routes and not step.ends_conversation:
            problems.append(Problem(at, "dead end: no choices, no routes, and it does not end the conversation"))
    return problems

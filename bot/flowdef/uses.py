"""Where a flow uses things: the steps a person can reach, the text keys and match words it
names (each with where it is first used), its actions, and a text's plural forms."""

from __future__ import annotations

from collections.abc import Iterable

from bot.flowdef.actions import SPECS
from bot.flowdef.model import Flow

# Intents never offered as a guess.
NOT_GUESSED = frozenset({"exit"})


def reachable_steps(flow: Flow) -> set[str]:
    """Ids of the steps a person can reach: from the start, the menu, commands and intents."""
    seen, frontier = set(), [flow.start, flow.menu, *(c.goto for c in flow.commands), *flow.intents.values()]
    while frontier:
        step_id = frontier.pop()
        if step_id in seen or step_id not in flow.steps:
            continue
        seen.add(step_id)
        frontier.extend(flow.targets(flow.steps[step_id]))
    return seen


def text_keys(flow: Flow) -> dict[str, str]:
    """text key -> where it is first used."""
    keys = {flow.reprompt: "reprompt", flow.text_only: "text_only", flow.edited: "edited"}
    if flow.intents:
        keys.setdefault(flow.unsure, "unsure")
        keys.setdefault(flow.noted, "noted")
        # each need can be offered as a guess, under its label
        for intent in flow.intents:
            if intent not in NOT_GUESSED:
                keys.setdefault(f"intent.{intent}", f"intents.{intent}")
    for step in flow.steps.values():
        for i, key in enumerate(step.say):
            keys.setdefault(key, f"steps.{step.id}.say[{i}]")
        for i, choice in enumerate(step.choices):
            keys.setdefault(choice.label, f"steps.{step.id}.choices[{i}].label")
        for action in step.actions:
            for key in SPECS[action.type].text_keys:
                keys.setdefault(key, f"steps.{step.id}.actions ({action.type})")
    return keys


def match_keys(flow: Flow) -> dict[str, str]:
    keys = {}
    for i, command in enumerate(flow.commands):
        keys.setdefault(command.match, f"commands[{i}].match")
    for step in flow.steps.values():
        for i, choice in enumerate(step.choices):
            if choice.match:
                keys.setdefault(choice.match, f"steps.{step.id}.choices[{i}].match")
        for i, route in enumerate(step.routes):
            keys.setdefault(route.match, f"steps.{step.id}.routes[{i}].match")
    return keys


def all_actions(flow: Flow):
    for step in flow.steps.values():
        for action in step.actions:
            yield f"steps.{step.id}.actions", action
        for i, choice in enumerate(step.choices):
            for action in choice.actions:
                yield f"steps.{step.id}.choices[{i}].actions", action


def forms(value: str | dict[str, str]) -> Iterable[tuple[str, str]]:
    if isinstance(value, str):
        yield "", value
    else:
        yield from ((f".{form}", string) for form, string in value.items())

"""Loading ``flows/*.yaml`` into typed ``Flow`` objects, with path-precise problems.

``read_flows`` never raises for bad content: it returns what loaded and every problem found
(schema violations, targets that name no step, duplicate ids). ``load_flows`` raises
``ContentInvalid`` instead, for start-up, where a bad flow must stop the service from starting
rather than take a live conversation somewhere that does not exist.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.datafile import read_yaml, schema_problems
from bot.domain.problems import ContentInvalid, Problem, errors, where
from bot.flowdef.model import BACK, Action, Choice, Command, Flow, Route, Step
from bot.flowdef.schema import FLOW_SCHEMA

DEFAULT_IDLE_MINUTES = 60


def load_flows(directory: Path, label: str = "flows") -> dict[str, Flow]:
    flows, problems = read_flows(directory, label)
    if errors(problems):
        raise ContentInvalid(errors(problems))
    return flows


def read_flows(directory: Path, label: str = "flows") -> tuple[dict[str, Flow], list[Problem]]:
    flows: dict[str, Flow] = {}
    problems: list[Problem] = []
    files = sorted(directory.glob("*.yaml"))
    if not files:
        return flows, [Problem(label, "no flow files (*.yaml)")]
    for path in files:
        name = f"{label}/{path.name}"
        flow, found = read_flow(path, name)
        problems.extend(found)
        if flow is not None:
            if flow.name in flows:
                problems.append(Problem(where(name, "flow"), f"flow {flow.name!r} is defined twice"))
            flows[flow.name] = flow
    return flows, problems


def read_flow(path: Path, name: str) -> tuple[Flow | None, list[Problem]]:
    """One file; the flow is None when it has errors."""
    document, problems = read_yaml(path, name)
    if problems:
        return None, problems
    problems = schema_problems(document, FLOW_SCHEMA, name)
    if problems:
        return None, problems
    flow = _build(document, name)
    problems = _reference_problems(flow)
    return (None if errors(problems) else flow), problems


def _actions(items: list[dict[str, Any]] | None) -> tuple[Action, ...]:
    return tuple(
        Action(item["type"], tuple(sorted((k, v) for k, v in item.items() if k != "type")))
        for item in items or ()
    )


def _build(doc: dict[str, Any], name: str) -> Flow:
    steps = {
        step_id: Step(
            id=step_id,
            say=tuple(body.get("say", ())),
            actions=_actions(body.get("actions")),
            choices=tuple(
                Choice(c["label"], c["goto"], c.get("match"), _actions(c.get("actions")))
                for c in body.get("choices", ())
            ),
            routes=tuple(Route(r["match"], r["goto"]) for r in body.get("routes", ())),
        )
        for step_id, body in doc["steps"].items()
    }
    return Flow(
        name=doc["flow"],
        file=name,
        spec_version=doc["spec_version"],
        start=doc["start"],
        menu=doc["menu"],
        reprompt=doc["reprompt"],
        text_only=doc["text_only"],
        edited=doc["edited"],
        idle_timeout=timedelta(minutes=doc.get("idle_timeout_minutes", DEFAULT_IDLE_MINUTES)),
        commands=tuple(
            Command(
                c["id"], c["match"], c["goto"], c.get("contains", False), c.get("remember", False),
                c.get("restart", False), c.get("while_held", False),
            )
            for c in doc["commands"]
        ),
        steps=steps,
        vars=dict(doc.get("vars", {})),
        description=doc.get("description", ""),
        intents=dict(doc.get("intents", {})),
        unsure=doc.get("unsure", "common.unsure"),
        noted=doc.get("noted", "handoff.noted"),
    )


def _reference_problems(flow: Flow) -> list[Problem]:
    """Targets and ids that would send a conversation nowhere: errors."""
    problems = []
    f = flow.file
    for field in ("start", "menu"):
        if getattr(flow, field) not in flow.steps:
            problems.append(Problem(where(f, field), f"no step named {getattr(flow, field)!r}"))
    seen: set[str] = set()
    for i, command in enumerate(flow.commands):
        if command.id in seen:
            problems.append(Problem(where(f, f"commands[{i}].id"), f"command {command.id!r} is defined twice"))
        seen.add(command.id)
        if command.goto == BACK:
            problems.append(Problem(where(f, f"commands[{i}].goto"), "a command cannot go @back"))
        elif command.goto not in flow.steps:
            problems.append(Problem(where(f, f"commands[{i}].goto"), f"no step named {command.goto!r}"))
    for intent, target in flow.intents.items():
        if target not in flow.steps:
            problems.append(Problem(where(f, f"intents.{intent}"), f"no step named {target!r}"))
    for step in flow.steps.values():
        for i, choice in enumerate(step.choices):
            if choice.goto != BACK and choice.goto not in flow.steps:
                at = f"steps.{step.id}.choices[{i}].goto"
                problems.append(Problem(where(f, at), f"no step named {choice.goto!r}"))
        for i, route in enumerate(step.routes):
            if route.goto != BACK and route.goto not in flow.steps:
                at = f"steps.{step.id}.routes[{i}].goto"
                problems.append(Problem(where(f, at), f"no step named {route.goto!r}"))
    return problems

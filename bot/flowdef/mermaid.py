"""Mermaid flowchart text of a flow, for reviewing a flow's shape (``safeharbor flows graph``)."""

from __future__ import annotations

from bot.flowdef.model import BACK, Flow
from bot.i18n import Catalog


def to_mermaid(flow: Flow, catalog: Catalog, language: str | None = None) -> str:
    """Steps as nodes, choices and routes as labelled edges, commands as dotted edges from "any step".

    Labels are the choice labels in ``language`` (the default language when None).
    """
    lang = language or catalog.default
    lines = ["flowchart TD", f"    %% flow {flow.name} ({flow.file})", "    any([any step])"]
    for step in flow.steps.values():
        shape = f"{step.id}(({step.id}))" if step.ends_conversation else f"{step.id}[{step.id}]"
        lines.append(f"    {shape}")
    lines.append(f"    style {flow.start} stroke-width:3px")
    for step in flow.steps.values():
        for i, choice in enumerate(step.choices, 1):
            target = choice.goto if choice.goto != BACK else "back"
            label = _escape(f"{i} {catalog.text(choice.label, lang)}")
            lines.append(f'    {step.id} -->|"{label}"| {target}')
        for route in step.routes:
            lines.append(f'    {step.id} -.->|"{_escape(route.match)}"| {route.goto}')
    if any(c.goto == BACK for s in flow.steps.values() for c in s.choices):
        lines.append("    back([previous step])")
    for command in flow.commands:
        lines.append(f'    any -.->|"{_escape(command.id)}"| {command.goto}')
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", " ")

"""``{type: set_language, language: es}``: from now on, answer in Spanish.

The language needs a locale file (``locales/es.yaml``); the person chose it, so a channel's
language hint no longer overrides it.
"""

from __future__ import annotations

from bot.domain.problems import Problem
from bot.flowdef.actions import ActionSpec


def _check(action, catalog, at: str) -> list[Problem]:
    language = action.get("language")
    return [] if language in catalog.locales else [Problem(at, f"no locale file for language {language!r}")]


SPEC = ActionSpec(
    "set_language",
    schema={
        "required": ["language"],
        "properties": {"language": {"type": "string", "pattern": "^[a-z]{2,3}(-[a-z0-9]{2,8})?$"}},
    },
    check=_check,
)

"""Structured views of a working copy for the studio's forms and diagram: a flow's steps with
the base language's texts beside their keys, and the resource directory with the entries due
for a re-check. The browser has no YAML parser; these are what its screens read.

    flow_view(bundle, "main")
    # {"file": "flows/main.yaml", "flow": "main", "start": "welcome", "menu": "main_menu",
    #  "language": "en", "error": None,
    #  "steps": [{"id": "welcome", "say": [{"key": "welcome.greeting", "text": "Hi, ..."}],
    #             "choices": [{"label": "choice.english", "text": "English", "match": "match.english",
    #                          "goto": "safe_check", "actions": [...]}],
    #             "routes": [{"match": "match.x", "goto": "y"}], "actions": [{"type": "end"}],
    #             "terminal": True, "shares_choices_with": ["help_medical", ...]}, ...],
    #  "commands": [{"id": "menu", "match": "cmd.menu", "goto": "main_menu", ...}],
    #  "intents": {"help": "help", ...}}
    resources_view(bundle, today, max_age_months=12)
    # {"files": [{"path": "flows/resources/us-national.yaml", "region": "us-national",
    #             "entries": [{"index": 0, "entry": {...}, "due": None}, ...]}],
    #  "required": [...], "categories": [...], "audiences": [...], "max_age_months": 12, "today": "..."}

Both are tolerant: a draft being edited may have errors (a choice to a step not yet written, a
missing field); they show what is there, and the studio's check (``Studio.check``) says what is
wrong. A file that is not YAML at all gives ``error`` and no steps or entries.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bot.content.bundle import Bundle
from bot.flowdef.actions import SPECS
from bot.flowdef.resource_checks import DEFAULT_RESOURCE_MAX_AGE_MONTHS, months_before
from bot.i18n import DEFAULT_LANGUAGE
from bot.store.resources import RESOURCE_SCHEMA

MAX_AGE_ENV = "SAFEHARBOR_RESOURCE_MAX_AGE_MONTHS"  # as ``safeharbor flows check`` reads it
RESOURCES_FOLDER = "flows/resources/"


def flow_file(bundle: Bundle, name: str) -> str:
    """The path of the file that says ``flow: name`` (``flows/NAME.yaml`` when none does yet)."""
    for path, text in bundle.files.items():
        if path.startswith("flows/") and not path.startswith(RESOURCES_FOLDER):
            try:
                document = yaml.safe_load(text)
            except yaml.YAMLError:
                continue
            if isinstance(document, dict) and document.get("flow") == name:
                return path
    return f"flows/{name}.yaml"


def base_texts(bundle: Bundle, language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """The ``text`` mapping of ``locales/LANGUAGE.yaml`` (a plural form shown as its ``other``)."""
    try:
        document = yaml.safe_load(bundle.files.get(f"locales/{language}.yaml", "") or "") or {}
    except yaml.YAMLError:
        return {}
    texts = document.get("text") if isinstance(document, dict) else None
    if not isinstance(texts, dict):
        return {}
    shown = {}
    for key, value in texts.items():
        if isinstance(value, dict):
            value = value.get("other", next(iter(value.values()), ""))
        shown[str(key)] = "" if value is None else str(value)
    return shown


def flow_view(bundle: Bundle, name: str = "main") -> dict:
    """Flow ``name`` of ``bundle`` as the Steps form and the diagram read it (see the module)."""
    path = flow_file(bundle, name)
    view: dict[str, Any] = {
        "file": path, "flow": name, "start": None, "menu": None, "language": DEFAULT_LANGUAGE,
        "error": None, "steps": [], "commands": [], "intents": {},
    }
    text = bundle.files.get(path)
    if text is None:
        view["error"] = f"no flow file says `flow: {name}`"
        return view
    try:
        document = YAML().load(text)  # round-trip: an anchored list is one object wherever it is used
    except YAMLError as exc:
        view["error"] = f"{path} is not valid YAML ({str(exc).splitlines()[0]}); fix it in the YAML view"
        return view
    if not isinstance(document, dict):
        view["error"] = f"{path} is not a mapping of fields"
        return view
    texts = base_texts(bundle)
    view["start"], view["menu"] = _text(document.get("start")), _text(document.get("menu"))
    steps = document.get("steps") if isinstance(document.get("steps"), dict) else {}
    holders: dict[int, list[str]] = {}
    for step_id, body in steps.items():
        if isinstance(body, dict) and isinstance(body.get("choices"), list):
            holders.setdefault(id(body["choices"]), []).append(str(step_id))
    for step_id, body in steps.items():
        body = body if isinstance(body, dict) else {}
        actions = [_plain(a) for a in _list(body.get("actions")) if isinstance(a, dict)]
        choices = body.get("choices") if isinstance(body.get("choices"), list) else []
        view["steps"].append({
            "id": str(step_id),
            "say": [{"key": _text(k), "text": texts.get(_text(k))} for k in _list(body.get("say"))],
            "choices": [
                {
                    "label": _text(c.get("label")), "text": texts.get(_text(c.get("label"))),
                    "match": _text(c.get("match")), "goto": _text(c.get("goto")),
                    "actions": [_plain(a) for a in _list(c.get("actions")) if isinstance(a, dict)],
                }
                for c in choices if isinstance(c, dict)
            ],
            "routes": [
                {"match": _text(r.get("match")), "goto": _text(r.get("goto"))}
                for r in _list(body.get("routes")) if isinstance(r, dict)
            ],
            "actions": actions,
            "terminal": any(getattr(SPECS.get(a.get("type")), "ends_conversation", False) for a in actions),
            "shares_choices_with": [s for s in holders.get(id(choices), []) if s != str(step_id)] if choices else [],
        })
    view["commands"] = [_plain(c) for c in _list(document.get("commands")) if isinstance(c, dict)]
    intents = document.get("intents")
    view["intents"] = {str(k): _text(v) for k, v in intents.items()} if isinstance(intents, dict) else {}
    return view


def resource_max_age_months(environ=os.environ) -> int:
    """``SAFEHARBOR_RESOURCE_MAX_AGE_MONTHS`` (as ``flows check`` reads it), else 12."""
    try:
        months = int(environ.get(MAX_AGE_ENV, DEFAULT_RESOURCE_MAX_AGE_MONTHS))
    except ValueError:
        return DEFAULT_RESOURCE_MAX_AGE_MONTHS
    return months if months >= 0 else DEFAULT_RESOURCE_MAX_AGE_MONTHS


def resources_view(bundle: Bundle, today: dt.date, max_age_months: int = DEFAULT_RESOURCE_MAX_AGE_MONTHS) -> dict:
    """Every directory file's entries (as JSON values, with their position in the file, the
    path a ``Studio.edit`` names), each with ``due``: why it is due for a re-check (its
    ``checked`` date is older than ``max_age_months`` before ``today``, later than today, or
    unreadable), or None. The schema's required fields and choices come along for the form."""
    oldest = months_before(today, max_age_months)
    files = []
    for path, text in bundle.files.items():
        if not path.startswith(RESOURCES_FOLDER):
            continue
        entry_file: dict[str, Any] = {"path": path, "region": None, "scope": None, "error": None, "entries": []}
        try:
            document = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            entry_file["error"] = f"not valid YAML ({str(exc).splitlines()[0]})"
            files.append(entry_file)
            continue
        if not isinstance(document, dict):
            entry_file["error"] = "not a mapping of fields"
            files.append(entry_file)
            continue
        entry_file["region"], entry_file["scope"] = _text(document.get("region")), _text(document.get("scope"))
        for i, entry in enumerate(_list(document.get("resources"))):
            if isinstance(entry, dict):
                entry_file["entries"].append({"index": i, "entry": _plain(entry), "due": _due(entry.get("checked"), today, oldest, max_age_months)})
        files.append(entry_file)
    item = RESOURCE_SCHEMA["properties"]["resources"]["items"]
    return {
        "files": files,
        "required": list(item["required"]),
        "one_of": ["phone", "text", "web"],  # the schema's anyOf: a way to reach them
        "categories": list(item["properties"]["categories"]["items"]["enum"]),
        "audiences": list(item["properties"]["audiences"]["items"]["enum"]),
        "max_age_months": max_age_months,
        "today": today.isoformat(),
    }


def _due(checked: Any, today: dt.date, oldest: dt.date, months: int) -> str | None:
    if checked is None or checked == "":
        return "no checked date"
    try:
        day = checked if isinstance(checked, dt.date) else dt.date.fromisoformat(str(checked))
    except ValueError:
        return f"checked {checked!r} is not a date (YYYY-MM-DD)"
    if day < oldest:
        return f"checked {day.isoformat()}, more than {months} month(s) ago"
    if day > today:
        return f"checked {day.isoformat()} is after today"
    return None


def _list(value: Any) -> list:
    return list(value) if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _plain(value: Any) -> Any:
    """A YAML value as JSON: mappings, lists, text, numbers, booleans (dates as ISO text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)

"""Reading the YAML data people edit (flows, locales, resources) into plain data plus problems.

Every problem is located as ``file: path`` with a dotted path into the document
(``steps.main_menu.choices[2].goto``) so an editor can find it without reading a traceback.
A YAML syntax error is located by line and column instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from bot.domain.problems import Problem, where

MAX_FILE_BYTES = 2_000_000  # a data file larger than this is a mistake, not content
# libyaml's loader when PyYAML was built with it (about 5x faster), the pure-Python one otherwise.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path, label: str | None = None) -> tuple[Any, list[Problem]]:
    """Parse ``path``; on failure return ``(None, [problem])``, never raise for bad content.

    ``label`` is how the file is named in problems (by default its path as given).
    """
    name = label or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(name, f"cannot read: {exc.strerror or exc}")]
    if len(raw) > MAX_FILE_BYTES:
        return None, [Problem(name, f"file is larger than {MAX_FILE_BYTES} bytes")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(name, f"not UTF-8 (byte {exc.start})")]
    try:
        return yaml.load(text, Loader=_SafeLoader), []
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(top)"
        return None, [Problem(where(name, at), f"invalid YAML: {exc.problem or exc}")]
    except yaml.YAMLError as exc:
        return None, [Problem(name, f"invalid YAML: {exc}")]


def format_path(parts: Iterable[Any]) -> str:
    """``["steps", "menu", "choices", 2, "goto"]`` -> ``steps.menu.choices[2].goto``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top)"


def schema_problems(document: Any, schema: dict, file: str) -> list[Problem]:
    """Validate ``document`` against a JSON Schema; one problem per violation, in document order."""
    validator = Draft202012Validator(schema)
    found = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    problems = []
    for err in found:
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            # One problem per unknown field, located at the field itself.
            known = set(err.schema.get("properties", {}))
            for name in sorted(set(err.instance) - known, key=str):
                at = format_path([*err.absolute_path, name])
                problems.append(Problem(where(file, at), f"unknown field {name!r}"))
            continue
        problems.append(Problem(where(file, format_path(err.absolute_path)), _describe(err)))
    return problems


def _describe(err) -> str:
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        unknown = sorted(set(err.instance) - set(err.schema.get("properties", {})), key=str)
        return ", ".join(f"unknown field {name!r}" for name in unknown)
    if err.validator in ("oneOf", "anyOf") and err.context:
        # Report the most specific of the alternatives rather than "is not valid under any":
        # the deepest, and on a tie one whose type fits the value (a plural map missing `other`
        # is not "not of type 'string'").
        best = max(err.context, key=lambda e: (len(e.absolute_path), e.validator != "type"))
        return _describe(best)
    return err.message

"""A structured edit of one content file, keeping everything else of it as written: comments,
key order, quoting, block style. The studio's forms send edits, never whole re-serialized files,
so a deployment that keeps its content in git sees a one-line diff for a one-word change.

    text = apply_edits(text, [
        {"path": ["text", "menu.text"], "value": "Hola.\\nElige un número:"},
        {"path": ["steps", "old_step"], "delete": True},
        {"path": ["resources", 3, "checked"], "value": "2026-12-01"},
    ])

``path`` walks mappings by key and lists by index; the last key is set (created if absent) or
deleted. A value may be any JSON value; a string with a line break is written as a block (``|-``).
``EditError`` says which edit cannot be applied and why.
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString

MAX_EDITS = 2000


class EditError(ValueError):
    """``edit``: the index of the edit that failed (None: the file itself)."""

    def __init__(self, edit: int | None, reason: str):
        self.edit = edit
        self.reason = reason
        super().__init__(reason if edit is None else f"edit {edit + 1}: {reason}")


def _yaml() -> YAML:
    yaml = YAML()  # round-trip
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a line the author wrapped (or did not)
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def apply_edits(text: str, edits: list[dict]) -> str:
    """``text`` (a YAML document) with ``edits`` applied, in order."""
    if len(edits) > MAX_EDITS:
        raise EditError(None, f"{len(edits)} edits at once; at most {MAX_EDITS}")
    yaml = _yaml()
    try:
        document = yaml.load(text) if text.strip() else {}
    except YAMLError as exc:
        raise EditError(None, f"the file is not valid YAML ({str(exc).splitlines()[0]}); edit it as text") from None
    for i, edit in enumerate(edits):
        document = _apply(document, edit, i)
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def _apply(document: Any, edit: dict, i: int) -> Any:
    path = edit.get("path")
    if not isinstance(path, list) or not path:
        raise EditError(i, "give a path: a list of keys and list positions")
    *parents, last = path
    node = document
    for step in parents:
        node = _child(node, step, i, create=not edit.get("delete"))
    if edit.get("delete"):
        try:
            del node[last]
        except (KeyError, IndexError, TypeError):
            raise EditError(i, f"nothing at {_shown(path)} to delete") from None
        return document
    if "value" not in edit:
        raise EditError(i, "give a value, or delete: true")
    value = _styled(edit["value"])
    if isinstance(node, list):
        if not isinstance(last, int) or not -len(node) <= last <= len(node):
            raise EditError(i, f"{_shown(path)}: no such position")
        if last == len(node):
            node.append(value)
        else:
            node[last] = value
    elif isinstance(node, dict):
        if not isinstance(last, (str, int)):
            raise EditError(i, f"{_shown(path)}: a key is text")
        node[last] = value
    else:
        raise EditError(i, f"{_shown(parents)} holds a single value, not fields")
    return document


def _child(node: Any, step, i: int, create: bool):
    if isinstance(node, dict):
        if step not in node:
            if not create:
                raise EditError(i, f"no {step!r}")
            node[step] = {}
        return node[step]
    if isinstance(node, list) and isinstance(step, int) and -len(node) <= step < len(node):
        return node[step]
    raise EditError(i, f"no {step!r} here")


def _styled(value: Any) -> Any:
    """JSON values as YAML would best show them: multi-line text as a block."""
    if isinstance(value, str) and "\n" in value:
        return LiteralScalarString(value)
    if isinstance(value, list):
        return [_styled(v) for v in value]
    if isinstance(value, dict):
        return {k: _styled(v) for k, v in value.items()}
    return value


def _shown(path: list) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path) or "(top)"

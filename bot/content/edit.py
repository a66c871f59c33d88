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

How the file is kept byte for byte: each edit is applied to a round-trip load of the text (to
know the new value and check the path), then only the lines of the edited entry are replaced in
the original text (``_splice``): a mapping key's entry runs from its key line to before the next
sibling key or the parent's end, without the comments that lead into the next sibling; a list
item likewise from its dash. The entry is the deepest one on the path that sits in a block-style
collection: an edit inside a flow-style collection (``say: [a, b]``) rewrites the whole entry
holding it (``say: [a, c]``), nothing else. A new key goes after its last sibling; a deletion
removes the entry's lines. The spliced text is read back and compared with the edited document;
only where splicing is impossible (the document itself flow-style or empty, a list emptied by a
deletion, or a read-back that differs) is the whole file dumped again (ruamel's round trip,
which re-flows flow-style lists elsewhere in the file). An empty edit list returns ``text``.
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
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
    """``text`` (a YAML document) with ``edits`` applied, in order, every line outside the
    edited entries as it was."""
    if len(edits) > MAX_EDITS:
        raise EditError(None, f"{len(edits)} edits at once; at most {MAX_EDITS}")
    if not edits:
        return text
    yaml = _yaml()
    for i, edit in enumerate(edits):
        document = _load(yaml, text)
        original = _load(yaml, text)
        document = _apply(document, edit, i)
        text = _splice(yaml, text, original, document, edit["path"]) or _dumped(yaml, document)
    return text


def _load(yaml: YAML, text: str) -> Any:
    try:
        return yaml.load(text) if text.strip() else {}
    except YAMLError as exc:
        raise EditError(None, f"the file is not valid YAML ({str(exc).splitlines()[0]}); edit it as text") from None


def _dumped(yaml: YAML, document: Any) -> str:
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


# -- splicing -------------------------------------------------------------------------------------


def _block(node: Any) -> bool:
    return isinstance(node, (CommentedMap, CommentedSeq)) and len(node) > 0 and not node.fa.flow_style()


def _has(node: Any, key) -> bool:
    if isinstance(node, CommentedMap):
        return key in node
    return isinstance(key, int) and not isinstance(key, bool) and -len(node) <= key < len(node)


def _splice(yaml: YAML, text: str, original: Any, document: Any, path: list) -> str | None:
    """``text`` with the one entry ``path`` changed replaced by its new lines (see the module's
    docstring), or None where that cannot be done."""
    if not _block(original):
        return None
    node, new = original, document
    for depth, key in enumerate(path):
        if isinstance(node, CommentedSeq) and isinstance(key, int) and key < 0 and _has(node, key):
            key = len(node) + key
        if _has(node, key) and depth < len(path) - 1 and _block(node[key]) and _has(new, key) and type(new[key]) is type(node[key]):
            node, new = node[key], new[key]
            continue
        break
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    if _has(node, key):
        start, end, column, prefix = _span(lines, node, key)
        if not _has(new, key) or (isinstance(new, CommentedSeq) and len(new) != len(node)):
            if isinstance(node, CommentedSeq) and len(node) == 1:
                return None  # the list's last item: the key would be left holding nothing
            replacement = []
        else:
            one_line = lines[start] if end == start + 1 else None
            replacement = _entry_lines(yaml, node, new, key, column, prefix, one_line)
    else:
        if not _has(new, key) and not (isinstance(new, CommentedSeq) and isinstance(key, int) and key == len(node)):
            return None
        last = list(node)[-1] if isinstance(node, CommentedMap) else len(node) - 1
        _, end, _, _ = _span(lines, node, last)
        _, _, column, _ = _span(lines, node, list(node)[0] if isinstance(node, CommentedMap) else 0)
        start = end
        replacement = _entry_lines(yaml, node, new, key, column, " " * column)
    spliced = "".join(lines[:start] + replacement + lines[end:])
    if not text.endswith("\n") and spliced.endswith("\n") and end == len(lines):
        spliced = spliced[:-1]
    try:
        if _plain(YAML(typ="safe").load(spliced)) != _plain(document):
            return None
    except YAMLError:
        return None
    return spliced


def _span(lines: list[str], node: Any, key) -> tuple[int, int, int, str]:
    """The lines ``[start, end)`` of ``node``'s entry ``key``, the column its key (or dash)
    is at, and what comes before it on its first line (indentation, or an outer list's dash)."""
    if isinstance(node, CommentedMap):
        line, column = node.lc.key(key)
        sequence_value = isinstance(node[key], CommentedSeq)
    else:
        line, column = node.lc.item(key)
        column = lines[line].rfind("-", 0, column)
        sequence_value = False
    end = line + 1
    while end < len(lines):
        body = lines[end].strip()
        indent = len(lines[end]) - len(lines[end].lstrip(" "))
        if body and not body.startswith("#"):
            continues = indent > column or (indent == column and sequence_value and (body == "-" or body.startswith("- ")))
            if not continues:
                break
        end += 1
    while end > line + 1 and _trailing(lines[end - 1], column):
        end -= 1
    return line, end, column, lines[line][:column]


def _trailing(line: str, column: int) -> bool:
    """A blank line, or a comment no deeper than the entry's key: the next sibling's lead-in."""
    body = line.strip()
    return not body or (body.startswith("#") and len(line) - len(line.lstrip(" ")) <= column)


def _line_comment(kept, was: str | None) -> str | None:
    """The comment ending the entry's one line (``was``), with the spaces before it, when ruamel
    saw one there (``kept``: its comment tokens for the entry)."""
    if kept is None or was is None:
        return None
    token = next((t for t in kept if t is not None and not isinstance(t, list) and hasattr(t, "column")), None)
    if token is None or not 0 < token.column < len(was) or was[token.column] != "#":
        return None
    gap = len(was[: token.column]) - len(was[: token.column].rstrip(" "))
    return " " * max(gap, 1) + was[token.column:]


def _entry_lines(yaml: YAML, node: Any, new: Any, key, column: int, prefix: str, was: str | None = None) -> list[str]:
    """The new entry ``key`` of ``new`` as lines at ``column`` (the first after ``prefix``),
    keeping the comment at the end of its line."""
    if isinstance(node, CommentedMap):
        holder = CommentedMap()
        holder[key] = new[key]
    else:
        holder = CommentedSeq([new[key]])
    kept = node.ca.items.get(key) if _has(node, key) else None
    if kept is not None:
        holder.ca.items[0 if isinstance(holder, CommentedSeq) else key] = kept
    dumped = _dumped(yaml, holder).splitlines(keepends=True)
    if isinstance(holder, CommentedSeq):
        shift = len(dumped[0]) - len(dumped[0].lstrip(" "))
        dumped = [d[min(shift, len(d) - len(d.lstrip(" "))):] for d in dumped]
    while len(dumped) > 1 and _trailing(dumped[-1], 0):
        dumped.pop()
    comment = _line_comment(kept, was)
    if comment is not None and len(dumped) == 1:
        # one line for one line: the comment after it stays as written, spacing included
        bare = CommentedMap() if isinstance(holder, CommentedMap) else CommentedSeq()
        bare.update(holder) if isinstance(bare, CommentedMap) else bare.extend(holder)
        (line,) = [d[shift:] if isinstance(bare, CommentedSeq) else d for d in _dumped(yaml, bare).splitlines(keepends=True)[:1]]
        dumped = [line.rstrip("\n") + comment]
    out = [prefix + dumped[0]]
    out += [(" " * column + d) if d.strip() else d for d in dumped[1:]]
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


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

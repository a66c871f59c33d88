"""What changed between two bundles, in the words of the people who edit them: which steps,
which texts in which language, which resources, rather than which lines of YAML.

    changes = compare(before, after)
    [Change(kind="text", file="locales/es.yaml", language="es", item="menu.text", change="changed",
            before="Hola...", after="Hola de nuevo..."), ...]
    tags(changes) -> {"steps": ["menu"], "languages": ["es"], "resources": [], "files": ["locales/es.yaml"]}

A file that does not parse as YAML is compared as a whole (``kind="file"``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import yaml

from bot.content.bundle import Bundle

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Change:
    """``kind``: step, flow (a flow's other settings), text, match (a language's match words),
    language (a locale's own settings), understanding (examples), resource, or file.
    ``change``: added, removed or changed. ``before`` / ``after``: readable text (a text itself,
    or the item as YAML), empty when absent."""

    kind: str
    file: str
    item: str
    change: str
    before: str = ""
    after: str = ""
    language: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def compare(before: Bundle, after: Bundle) -> list[Change]:
    """Every change from ``before`` to ``after``, file by file, in path order."""
    changes: list[Change] = []
    for name, text in before.changed_files(after).items():
        old = before.files.get(name)
        changes += _file_changes(name, old, text)
    return changes


def tags(changes: list[Change]) -> dict[str, list[str]]:
    """The change tags of a revision: the steps, languages, resources and files it touches."""
    return {
        "steps": sorted({c.item for c in changes if c.kind == "step"}),
        "languages": sorted({c.language for c in changes if c.language}),
        "resources": sorted({c.item for c in changes if c.kind == "resource"}),
        "files": sorted({c.file for c in changes}),
    }


def _file_changes(name: str, old: str | None, new: str | None) -> list[Change]:
    before, after = _parse(old), _parse(new)
    if before is _UNREADABLE or after is _UNREADABLE:
        return [_whole(name, old, new)]
    if name.startswith("flows/resources/"):
        return _keyed(name, "resource", _by_id(before, "resources"), _by_id(after, "resources"))
    if name.startswith("flows/"):
        return _flow(name, before or {}, after or {})
    language = name.rsplit("/", 1)[-1].removesuffix(".yaml")
    if name.startswith("locales/understanding/"):
        return _keyed(name, "understanding", (before or {}).get("intents") or {}, (after or {}).get("intents") or {}, language)
    return _locale(name, language, before or {}, after or {})


def _flow(name: str, before: dict, after: dict) -> list[Change]:
    changes = _keyed(name, "step", before.get("steps") or {}, after.get("steps") or {})
    settings = lambda doc: {k: v for k, v in doc.items() if k != "steps"}  # noqa: E731
    return changes + _keyed(name, "flow", settings(before), settings(after))


def _locale(name: str, language: str, before: dict, after: dict) -> list[Change]:
    changes = _keyed(name, "text", before.get("text") or {}, after.get("text") or {}, language)
    changes += _keyed(name, "match", before.get("match") or {}, after.get("match") or {}, language)
    rest = lambda doc: {k: v for k, v in doc.items() if k not in ("text", "match")}  # noqa: E731
    return changes + _keyed(name, "language", rest(before), rest(after), language)


def _keyed(name: str, kind: str, before: dict, after: dict, language: str | None = None) -> list[Change]:
    out = []
    for key in sorted(set(before) | set(after), key=str):
        old, new = before.get(key, _ABSENT), after.get(key, _ABSENT)
        if old == new:
            continue
        change = "added" if old is _ABSENT else "removed" if new is _ABSENT else "changed"
        out.append(Change(kind, name, str(key), change, _readable(old), _readable(new), language))
    return out


def _by_id(document, field: str) -> dict:
    entries = (document or {}).get(field) or [] if isinstance(document, dict) else []
    return {e.get("id", f"#{i}"): e for i, e in enumerate(entries) if isinstance(e, dict)}


def _whole(name: str, old: str | None, new: str | None) -> Change:
    change = "added" if old is None else "removed" if new is None else "changed"
    return Change("file", name, name, change, old or "", new or "")


class _Marker:
    pass


_ABSENT, _UNREADABLE = _Marker(), _Marker()


def _parse(text: str | None):
    if text is None:
        return None
    try:
        return yaml.load(text, Loader=_SafeLoader)
    except yaml.YAMLError:
        return _UNREADABLE


def _readable(value: Any) -> str:
    if value is _ABSENT or value is None:
        return ""
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False, default_flow_style=False).strip()

"""The resource directory: organizations and how to reach them, from ``flows/resources/*.yaml``.

One file per region (``region: us-national``, ``scope: national``); a deployment adds its own
region's file beside the national one. Entries are only ever listed as published by the source
each one names; see the national file's header.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from bot.datafile import read_yaml, schema_problems
from bot.domain.messages import Resource
from bot.domain.problems import AUDIENCES, CATEGORIES, ContentInvalid, Problem, errors, where

PHONE = {"type": "string", "pattern": r"^(1-\d{3}-\d{3}-\d{4}|\d{3,6})$"}
LANGUAGE = {"type": "string", "pattern": "^[a-z]{2,3}$"}


def _localized(max_length: int) -> dict:
    """A text as published (``"24/7"``), or one per language (``{en: ..., es: ...}``)."""
    return {
        "oneOf": [
            {"type": "string", "minLength": 1, "maxLength": max_length},
            {
                "type": "object",
                "minProperties": 1,
                "propertyNames": LANGUAGE,
                "additionalProperties": {"type": "string", "minLength": 1, "maxLength": max_length},
            },
        ]
    }


RESOURCE_SCHEMA = {
    "type": "object",
    "required": ["spec_version", "region", "resources"],
    "additionalProperties": False,
    "properties": {
        "spec_version": {"const": 1},
        "region": {"type": "string", "pattern": "^[a-z0-9-]+$"},
        "scope": {"enum": ["national", "regional"]},
        "resources": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name", "categories", "area", "source", "checked"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "pattern": "^[a-z0-9_]+$"},
                    # "LawHelp.org", or {en: "National Domestic Violence Hotline", es: "Línea Nacional ..."}
                    "name": _localized(60),
                    "categories": {"type": "array", "minItems": 1, "items": {"enum": list(CATEGORIES)}},
                    "audiences": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": list(AUDIENCES)}},
                    "languages": {"type": "array", "items": LANGUAGE},
                    # the text (and chat) line's languages when they are fewer than the calls' `languages`
                    "text_languages": {"type": "array", "minItems": 1, "items": LANGUAGE},
                    "interpreters": {"type": "boolean"},
                    "area": {"type": "string", "minLength": 1},
                    "phone": PHONE,
                    "text": PHONE,
                    "text_keyword": {"type": "string", "pattern": "^[A-Z0-9]+$"},
                    "web": {"type": "string", "pattern": "^https://"},
                    # "24/7" (shown localized), or {en: "Mon-Fri 8am-5pm", es: "lun-vie 8am-5pm"}
                    "hours": _localized(40),
                    "free": {"type": "boolean"},
                    "source": {"type": "string", "pattern": "^https?://"},
                    "checked": {"type": "string", "format": "date"},
                },
                "anyOf": [{"required": ["phone"]}, {"required": ["text"]}, {"required": ["web"]}],
                "dependentRequired": {"text_languages": ["text"]},
            },
        },
    },
}


class Directory:
    """Resources by need. ``find`` lists national entries first, then regional ones, and within
    each those serving the person's language (or offering interpreters) first."""

    def __init__(self, resources: Sequence[Resource], national_regions: frozenset[str] = frozenset()):
        self.resources = tuple(resources)
        self._national = national_regions

    def find(self, category: str, language: str, limit: int, audience: str = "") -> list[Resource]:
        """Up to ``limit`` entries, national ones first; when the deployment has regional entries
        for the need and there are two places or more, they get at least one (up to half), so
        the national list never crowds them out.

        ``category`` empty means any need. Without ``audience`` only entries for anyone are
        listed; with it (``"youth"``), only the entries for that audience."""

        def rank(item: tuple[int, Resource]) -> tuple[int, int]:
            position, resource = item
            speaks = not resource.languages or language in resource.languages or resource.interpreters
            return (not speaks, position)

        def fits(resource: Resource) -> bool:
            if category and category not in resource.categories:
                return False
            return audience in resource.audiences if audience else not resource.audiences

        matching = sorted(((i, r) for i, r in enumerate(self.resources) if fits(r)), key=rank)
        national = [r for _, r in matching if r.region in self._national]
        regional = [r for _, r in matching if r.region not in self._national]
        regional_places = min(len(regional), max(1, limit // 2)) if limit > 1 else 0
        chosen = national[: limit - regional_places]
        return chosen + regional[: limit - len(chosen)]


def read_directory(directory: Path, label: str = "flows/resources", regions: Sequence[str] | None = None) -> tuple[Directory, list[Problem]]:
    """Every region file in ``directory`` (or only ``regions``); problems instead of exceptions."""
    resources: list[Resource] = []
    national: set[str] = set()
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
        name = f"{label}/{path.name}"
        document, found = read_yaml(path, name)
        document = _dates_as_text(document)
        found = found or schema_problems(document, RESOURCE_SCHEMA, name)
        problems.extend(found)
        if found or (regions is not None and document["region"] not in regions):
            continue
        if document.get("scope") == "national":
            national.add(document["region"])
        for i, entry in enumerate(document["resources"]):
            if entry["id"] in seen:
                problems.append(Problem(where(name, f"resources[{i}].id"), f"{entry['id']!r} is also in {seen[entry['id']]}"))
                continue
            seen[entry["id"]] = name
            resources.append(_resource(entry, document["region"]))
    if regions is not None:
        found_regions = {r.region for r in resources} | national
        for region in regions:
            if region not in found_regions:
                problems.append(Problem(label, f"SAFEHARBOR_REGIONS names {region!r}, but no file has that region"))
    return Directory(resources, frozenset(national)), problems


def load_directory(directory: Path, label: str = "flows/resources", regions: Sequence[str] | None = None) -> Directory:
    loaded, problems = read_directory(directory, label, regions)
    if errors(problems):
        raise ContentInvalid(errors(problems))
    return loaded


def _resource(entry: dict, region: str) -> Resource:
    hours = entry.get("hours", "")
    name = entry["name"]
    return Resource(
        id=entry["id"],
        # a per-language name keeps its first form as the published one (shown when a language has none)
        name=name if isinstance(name, str) else next(iter(name.values())),
        name_translated=() if isinstance(name, str) else tuple(name.items()),
        categories=tuple(entry["categories"]),
        languages=tuple(entry.get("languages", ())),
        region=region,
        area=entry["area"],
        phone=entry.get("phone", ""),
        text=entry.get("text", ""),
        text_keyword=entry.get("text_keyword", ""),
        web=entry.get("web", ""),
        hours=hours if isinstance(hours, str) else "",
        hours_translated=() if isinstance(hours, str) else tuple(hours.items()),
        interpreters=entry.get("interpreters", False),
        source=entry["source"],
        checked=entry["checked"],
        text_languages=tuple(entry.get("text_languages", ())),
        audiences=tuple(entry.get("audiences", ())),
    )


def _dates_as_text(document):
    """YAML reads ``2026-11-26`` as a date; the schema and ``Resource`` want the text."""
    if isinstance(document, dict) and isinstance(document.get("resources"), list):
        for entry in document["resources"]:
            if isinstance(entry, dict) and isinstance(entry.get("checked"), dt.date):
                entry["checked"] = entry["checked"].isoformat()
    return document

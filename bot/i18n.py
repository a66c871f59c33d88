"""Translations: one YAML file per language in ``locales/``, keyed by stable ids.

A locale file holds ``text`` (messages and labels; a value may be a plural map such as
``{one: "...", other: "..."}`` chosen by Babel's CLDR rules for ``count``), ``match`` (the words
a person may type for a choice or command, lowercase) and optionally ``sources`` (for a text key,
the pages its facts come from, with the day each was checked: data for reviewers and checks, never
shown to anyone) and ``review`` (in a translation, each string's review state: see
``REVIEW_SCHEMA``; a string it does not name counts as translated, against an unknown source).
``text(key, lang, **vars)`` walks a fallback
chain (``es-MX`` -> ``es`` -> the default language) and fills ``{placeholders}`` from ``vars``.

Example ``locales/es.yaml``::

    language: es
    name: Español
    sms_alphabet: gsm7
    reveal_words: [trata, refugio]
    text:
      menu.intro: "Estas son algunas opciones."
    match:
      match.yes: [sí, si]
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from babel import Locale, UnknownLocaleError

from bot.datafile import read_yaml, schema_problems
from bot.domain.problems import ContentInvalid, Problem, errors, where

DEFAULT_LANGUAGE = "en"
PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
PLURAL_FORMS = ("zero", "one", "two", "few", "many", "other")

# One source of a fact in a text: the page, the day it was read, what it says.
SOURCE_SCHEMA = {
    "type": "object",
    "required": ["url", "checked", "quote"],
    "additionalProperties": False,
    "properties": {
        "url": {"type": "string", "pattern": "^https?://"},
        "checked": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        "primary": {"type": "boolean"},  # the organization's or agency's own page
        "quote": {"type": "string", "minLength": 1},
        "note": {"type": "string"},
    },
}

_KEY = r"^[a-z0-9_]+(\.[a-z0-9_]+)*$"
REVIEW_STATES = ("translated", "needs_review", "approved", "machine_draft")
# One string's review in a translation: its state, who set it and when, and ``source``, the
# ``source_hash`` of the default language's text it was made (or approved) from, so a change
# there shows as "changed since translated" without rewriting this file.
REVIEW_ENTRY_SCHEMA = {
    "type": "object",
    "required": ["state"],
    "additionalProperties": False,
    "properties": {
        "state": {"enum": list(REVIEW_STATES)},
        "by": {"type": "string", "minLength": 1, "maxLength": 320},
        "at": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$"},
        "source": {"type": "string", "pattern": "^[0-9a-f]{12}$"},
    },
}
# ``review:`` of a locale file, by section of the file: {text: {key: entry}, match: {key: entry}}
#
#     review:
#       text:
#         menu.intro: {state: approved, by: ana@example.org, at: "2026-12-01T10:00:00Z", source: 3f2a9c0d11e4}
#       match:
#         match.yes: {state: machine_draft}
REVIEW_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        section: {"type": "object", "propertyNames": {"pattern": _KEY}, "additionalProperties": REVIEW_ENTRY_SCHEMA}
        for section in ("text", "match")
    },
}

LOCALE_SCHEMA = {
    "type": "object",
    "required": ["language", "name", "text", "match"],
    "additionalProperties": False,
    "properties": {
        "language": {"type": "string", "pattern": "^[a-z]{2,3}(-[a-z0-9]{2,8})?$"},
        "name": {"type": "string", "minLength": 1},
        "sms_alphabet": {"enum": ["gsm7", "ucs2"]},
        "reveal_words": {"type": "array", "items": {"type": "string", "minLength": 2}},
        "text": {
            "type": "object",
            "propertyNames": {"pattern": _KEY},
            "additionalProperties": {
                "oneOf": [
                    {"type": "string"},
                    {
                        "type": "object",
                        "required": ["other"],
                        "additionalProperties": False,
                        "properties": {form: {"type": "string"} for form in PLURAL_FORMS},
                    },
                ]
            },
        },
        "match": {
            "type": "object",
            "propertyNames": {"pattern": _KEY},
            "additionalProperties": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "minLength": 1, "maxLength": 60},
            },
        },
        # text key -> where its facts come from; read by checks and reviewers, never shown
        "sources": {
            "type": "object",
            "propertyNames": {"pattern": _KEY},
            "additionalProperties": {"type": "array", "minItems": 1, "items": SOURCE_SCHEMA},
        },
        "review": REVIEW_SCHEMA,
    },
}


def source_hash(value: str | dict | list | tuple) -> str:
    """A short fingerprint (12 hex digits of SHA-256) of a default-language text (a string or a
    plural map) or match word list, as a translation's ``review.*.source`` records it.

    >>> source_hash("Hello")
    '185f8db32271'
    """
    if isinstance(value, str):
        canonical = value
    else:
        canonical = json.dumps(list(value) if isinstance(value, tuple) else value, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


_PHRASES = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 80}}
_INTENT_ID = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"
# locales/understanding/<code>.yaml: what free text in this language is understood as (read by
# bot.understanding; the words are normalized as bot.understanding.words says).
UNDERSTANDING_SCHEMA = {
    "type": "object",
    "required": ["language", "intents"],
    "additionalProperties": False,
    "properties": {
        "language": {"type": "string"},
        # a texting abbreviation -> what it stands for: {xq: porque, plz: please}
        "abbreviations": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}},
        # words ignored around a quick-exit request and around an `alone` phrase
        "filler": _PHRASES,
        # greetings a message may open with; set aside before its need is read
        "greetings": _PHRASES,
        # phrases that cancel a crisis phrase they overlap ("not in danger", "dying to know")
        "not_crisis": _PHRASES,
        "intents": {
            "type": "object",
            "propertyNames": {"pattern": _INTENT_ID},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "phrases": _PHRASES,  # anywhere in a message
                    "alone": _PHRASES,  # the whole message, besides filler words
                    "filler": _PHRASES,  # more words ignored around this intent's `alone` phrases
                    "examples": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 400}},
                },
            },
        },
    },
}


@dataclass(frozen=True)
class LocaleData:
    """One language's file, as loaded. ``file`` is how problems name it."""

    code: str
    name: str
    file: str
    sms_alphabet: str
    reveal_words: tuple[str, ...]
    text: dict[str, str | dict[str, str]]
    match: dict[str, tuple[str, ...]]
    locale: Locale = field(repr=False, compare=False)
    # locales/understanding/<code>.yaml as loaded (schema-checked), or None when there is none
    understanding: dict | None = field(default=None, repr=False, compare=False)
    # ``review:`` as written: {"text": {key: entry}, "match": {key: entry}} (REVIEW_SCHEMA)
    review: dict[str, dict[str, dict]] = field(default_factory=dict, repr=False, compare=False)


class Catalog:
    """All languages, loaded once at start-up and shared (read-only) by every conversation."""

    def __init__(self, locales: dict[str, LocaleData], default: str = DEFAULT_LANGUAGE):
        if default not in locales:
            raise ContentInvalid([Problem("locales", f"the default language {default!r} has no file")])
        self.locales = locales
        self.default = default
        self._chains: dict[str, tuple[str, ...]] = {}

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.locales)

    def resolve(self, code: str | None) -> str | None:
        """The best language we have for ``code`` (``es-MX`` -> ``es``), or None."""
        if not code:
            return None
        wanted = code.lower().replace("_", "-")
        for candidate in (wanted, wanted.split("-")[0]):
            if candidate in self.locales:
                return candidate
        return None

    def chain(self, code: str) -> tuple[str, ...]:
        """Languages to try for ``code``, most specific first, always ending with the default."""
        cached = self._chains.get(code)
        if cached is None:
            wanted = code.lower().replace("_", "-")
            tries = [wanted, wanted.split("-")[0], self.default]
            cached = tuple(dict.fromkeys(t for t in tries if t in self.locales))
            self._chains[code] = cached
        return cached

    def reveal_words(self, code: str) -> tuple[str, ...]:
        """The word stems a lock-screen preview in ``code`` must not show: the language's own and
        the default language's (a missing translation shows the default's text)."""
        chain = self.chain(code)
        return tuple(dict.fromkeys(w for language in (chain[0], self.default) for w in self.locales[language].reveal_words))

    def review(self, code: str) -> dict[str, dict[str, dict]]:
        """The review states written in ``code``'s file: ``{"text": {key: entry}, "match":
        {key: entry}}``, each section present (empty when the file has none). An entry is
        ``{"state": ..., "by": ..., "at": ..., "source": ...}`` (``REVIEW_ENTRY_SCHEMA``)."""
        written = self.locales[code].review
        return {section: dict(written.get(section, {})) for section in ("text", "match")}

    def text(self, key: str, lang: str, count: int | None = None, **values: object) -> str:
        """The message ``key`` in ``lang`` (or its fallbacks) with ``{placeholders}`` filled.

        Placeholders without a value are left as written, so a missing value shows rather than
        crashes. Raises ``KeyError`` only when no language in the chain has the key, which
        ``safeharbor flows check`` reports before a flow can be used.
        """
        for code in self.chain(lang):
            value = self.locales[code].text.get(key)
            if value is None:
                continue
            if isinstance(value, dict):
                form = self.locales[code].locale.plural_form(count if count is not None else 0)
                value = value.get(form, value["other"])
            if count is not None:
                values = {**values, "count": count}
            if values and "{" in value:
                return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), value)
            return value
        raise KeyError(key)

    def words(self, key: str) -> dict[str, tuple[str, ...]]:
        """Match words for ``key`` in every language that defines them."""
        return {code: data.match[key] for code, data in self.locales.items() if key in data.match}


_NOT_WORD = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """The form in which words are compared: lowercase, accents removed, punctuation as spaces,
    single spaces. Typed replies, match words and reveal words all go through it.

    >>> fold("  MENÚ ") == fold("menu.")
    True
    >>> fold("¡Sí, por favor!")
    'si por favor'
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join(_NOT_WORD.sub(" ", "".join(ch for ch in decomposed if not unicodedata.combining(ch))).split())


def _read_understanding(directory: Path, label: str, code: str) -> tuple[dict | None, list[Problem]]:
    """``understanding/<code>.yaml`` beside the locale files, if there is one."""
    path = directory / "understanding" / f"{code}.yaml"
    if not path.is_file():
        return None, []
    name = f"{label}/understanding/{path.name}"
    document, found = read_yaml(path, name)
    found = found or schema_problems(document, UNDERSTANDING_SCHEMA, name)
    if not found and document["language"] != code:
        found.append(Problem(where(name, "language"), f"{document['language']!r} does not match the file name"))
    return (None if found else document), found


def load_catalog(directory: Path, label: str = "locales") -> Catalog:
    """Load every ``*.yaml`` in ``directory``; raise ``ContentInvalid`` listing every problem."""
    catalog, problems = read_catalog(directory, label)
    if errors(problems) or catalog is None:
        raise ContentInvalid(errors(problems) or [Problem(label, "no usable locale files")])
    return catalog


def read_catalog(directory: Path, label: str = "locales") -> tuple[Catalog | None, list[Problem]]:
    """Like ``load_catalog`` but returns the problems instead of raising (for ``flows check``)."""
    problems: list[Problem] = []
    locales: dict[str, LocaleData] = {}
    files = sorted(directory.glob("*.yaml"))
    if not files:
        hint = "" if directory.is_dir() else "; set SAFEHARBOR_CONTENT_DIR to the folder that holds flows/ and locales/"
        return None, [Problem(label, f"no locale files (*.yaml) in {directory}{hint}")]
    for path in files:
        name = f"{label}/{path.name}"
        document, found = read_yaml(path, name)
        found = found or schema_problems(document, LOCALE_SCHEMA, name)
        if not found:
            code = document["language"]
            if path.stem != code:
                found.append(Problem(where(name, "language"), f"{code!r} does not match the file name"))
            try:
                babel_locale = Locale.parse(code.replace("-", "_"))
            except (UnknownLocaleError, ValueError):
                found.append(Problem(where(name, "language"), f"{code!r} is not a known language"))
        understanding = None
        if not found:
            understanding, more = _read_understanding(directory, label, code)
            found.extend(
                Problem(where(name, f"sources.{key}"), "names no text of this file", "warning")
                for key in document.get("sources", {}) if key not in document["text"]
            )
            for section, entries in document.get("review", {}).items():
                found.extend(
                    Problem(where(name, f"review.{section}.{key}"), f"names no {section} of this file", "warning")
                    for key in entries if key not in document[section]
                )
            found.extend(more)
        problems.extend(found)
        if errors(found):
            continue
        locales[code] = LocaleData(
            code=code,
            name=document["name"],
            file=name,
            sms_alphabet=document.get("sms_alphabet", "gsm7"),
            reveal_words=tuple(fold(w) for w in document.get("reveal_words", [])),
            text=dict(document["text"]),
            match={key: tuple(words) for key, words in document["match"].items()},
            locale=babel_locale,
            understanding=understanding,
            review={section: dict(entries) for section, entries in document.get("review", {}).items()},
        )
    if DEFAULT_LANGUAGE not in locales:
        if not errors(problems):
            problems.append(Problem(label, f"the default language {DEFAULT_LANGUAGE!r} has no file"))
        return None, problems
    return Catalog(locales), problems

"""The Translations screen's logic, pure: every translatable string of one language beside the
default (base) language's, with its review status and the language's progress; and the live
checks of a text as the admin types it (SMS cost, lock-screen preview, revealing words,
placeholders, opt-out words), computed by the same functions ``flows check`` uses.

A row (``translation_rows``)::

    {"section": "text", "key": "menu.intro", "kind": "text",     # or "label" (a choice label), "match"
     "base": "Here are some options.", "translation": "Aquí tienes...",   # a string, a plural map or a word list
     "source": "3f2a9c0d11e4",                                   # source_hash of the base text now
     "status": "approved", "review": {"state": "approved", "by": "...", "at": "...", "source": "3f2a9c0d11e4"}}

Status, the first that applies:
- ``missing``: the language has no such text (or match words);
- ``changed_since_translated``: the review records a ``source`` other than the base text's hash
  now (the base text changed after the translation was made or approved, so it needs review);
- ``needs_review``: the review state is ``needs_review`` or ``machine_draft``;
- ``approved``: the review state is ``approved``;
- ``translated``: the review says so, or there is no review entry (a file written before reviews).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import yaml

from bot.domain.sms import non_gsm7, prepare_sms, sms_cost
from bot.flowdef.message_checks import SAMPLE_MINUTES
from bot.flowdef.model import Flow
from bot.flowdef.optout import carrier_words_taught
from bot.flowdef.preview import lock_screen_preview, revealing_words
from bot.flowdef.schema import ENGINE_PLACEHOLDERS
from bot.i18n import PLACEHOLDER, Catalog, source_hash

STATUSES = ("missing", "changed_since_translated", "needs_review", "translated", "approved")


def status_of(translation, review: Mapping | None, base_source: str) -> str:
    """One string's status (module docstring) from its translation (None: missing), its review
    entry (None: never reviewed) and the hash of the base text now."""
    if translation is None:
        return "missing"
    if not review:
        return "translated"
    if review.get("source") and review["source"] != base_source:
        return "changed_since_translated"
    if review.get("state") in ("needs_review", "machine_draft"):
        return "needs_review"
    return "approved" if review.get("state") == "approved" else "translated"


def choice_labels(flows: Iterable[Flow]) -> set[str]:
    """The text keys the flows show as choice labels."""
    return {choice.label for flow in flows for step in flow.steps.values() for choice in step.choices}


def translation_rows(catalog: Catalog, code: str, labels: set[str] = frozenset()) -> list[dict]:
    """Every translatable string of the default language (texts, then match words, in the base
    file's order) with ``code``'s translation and status; strings only ``code`` has (no base)
    are left out: ``flows check`` does not use them either. ``KeyError`` for an unknown code."""
    base = catalog.locales[catalog.default]
    own = catalog.locales[code]
    review = catalog.review(code)
    rows = []
    for section, base_values, values in (("text", base.text, own.text), ("match", base.match, own.match)):
        for key, value in base_values.items():
            source = source_hash(value)
            translation = values.get(key)
            entry = review[section].get(key)
            rows.append({
                "section": section, "key": key,
                "kind": "match" if section == "match" else ("label" if key in labels else "text"),
                "base": _plain(value), "translation": _plain(translation), "source": source,
                "status": status_of(translation, entry, source), "review": dict(entry) if entry else None,
            })
    return rows


def progress(rows: list[dict]) -> dict:
    """Counts for one language: ``{"total": 190, "translated": 180, "approved": 120, "missing": 10,
    "changed_since_translated": 3, "needs_review": 5}``; ``translated`` counts every string
    present, whatever its review."""
    counts = {status: sum(1 for r in rows if r["status"] == status) for status in STATUSES}
    return {
        "total": len(rows), "translated": len(rows) - counts["missing"], "approved": counts["approved"],
        "missing": counts["missing"], "changed_since_translated": counts["changed_since_translated"],
        "needs_review": counts["needs_review"],
    }


def review_entry(state: str, by: str, at: str, base_value) -> dict:
    """The ``review`` entry a save (``translated``) or an approval (``approved``) writes: who,
    when, and the hash of the base text it was made against."""
    return {"state": state, "by": by, "at": at, "source": source_hash(base_value)}


def reviews_signed_by_others(before: str | None, after: str, email: str) -> list[str]:
    """The review entries (``"text.menu.intro"``) that ``after`` (a locale file's new text) adds or
    changes over ``before`` and that name someone other than ``email`` as ``by``: a save may only
    sign reviews as the person saving. Text that is not YAML gives ``[]`` (the check reports it)."""
    def reviews(text: str | None) -> dict:
        try:
            document = yaml.safe_load(text) if text else None
        except yaml.YAMLError:
            return {}
        review = document.get("review") if isinstance(document, dict) else None
        return review if isinstance(review, dict) else {}

    old, new = reviews(before), reviews(after)
    found = []
    for section, entries in new.items():
        if not isinstance(entries, dict):
            continue
        for key, entry in entries.items():
            unchanged = isinstance(old.get(section), dict) and old[section].get(key) == entry
            if not unchanged and isinstance(entry, dict) and entry.get("by") not in (None, email):
                found.append(f"{section}.{key}")
    return found


def text_check(catalog: Catalog, flow_vars: Mapping[str, str], code: str, text: str, base_text: str | None = None) -> dict:
    """What ``text`` in language ``code`` would be as sent, read as ``flows check`` reads a message::

        {"encoding": "gsm7", "segments": 2, "units": 190, "non_gsm7": "",
         "lock_screen_preview": "...", "revealing_words": ["refugio"],
         "placeholders": [{"name": "city", "problem": "unknown"}, {"name": "hotline_phone", "problem": "missing"}],
         "opt_out_words": ["stop"]}

    Placeholders are filled with the flow's values first (a ``{hotline_phone}`` shows its number,
    which may itself reveal the service). ``unknown``: a placeholder neither the flows nor the
    engine fill (an error in ``flows check``); ``missing``: in ``base_text`` but not in ``text``.
    ``KeyError`` for an unknown language."""
    data = catalog.locales[code]
    values = {"minutes": SAMPLE_MINUTES, **flow_vars}
    filled = PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), text)
    sent = prepare_sms(filled, data.sms_alphabet)
    cost = sms_cost(sent)
    preview = lock_screen_preview(filled)
    allowed = set(flow_vars) | set(ENGINE_PLACEHOLDERS)
    used = list(dict.fromkeys(PLACEHOLDER.findall(text)))
    placeholders = [{"name": name, "problem": "unknown"} for name in used if name not in allowed]
    if base_text is not None:
        placeholders += [
            {"name": name, "problem": "missing"} for name in dict.fromkeys(PLACEHOLDER.findall(base_text)) if name not in used
        ]
    return {
        "encoding": "ucs2" if cost.encoding == "UCS-2" else "gsm7", "segments": cost.segments, "units": cost.units,
        "non_gsm7": non_gsm7(sent), "lock_screen_preview": preview,
        "revealing_words": revealing_words(preview, catalog.reveal_words(code)),
        "placeholders": placeholders, "opt_out_words": carrier_words_taught(filled),
    }


def _plain(value):
    """A catalog value as JSON: a string, a plural map, or a list of match words."""
    if isinstance(value, tuple):
        return list(value)
    return dict(value) if isinstance(value, dict) else value

"""The Translations screen's logic (bot.content.translations) and the review state in locale
files (bot.i18n): each string's status against the base language, progress, and the live checks
of a text as it would be sent, over the real locales and edited copies of them."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.content import Bundle, BundleError
from bot.content.edit import apply_edits
from bot.content.translations import (
    choice_labels, progress, review_entry, reviews_signed_by_others, text_check, translation_rows,
)
from bot.flowdef import read_flows
from bot.handoff import NotAllowed
from bot.i18n import read_catalog, source_hash
from bot.service.content_desk import ContentDesk
from tests.conftest import REPO

NOW = "2026-12-01T10:00:00.000Z"


@pytest.fixture
def locales(tmp_path) -> Path:
    """An editable copy of the real locales/."""
    copy = tmp_path / "locales"
    shutil.copytree(REPO / "locales", copy)
    return copy


def edit(folder: Path, code: str, edits: list[dict]) -> None:
    path = folder / f"{code}.yaml"
    path.write_text(apply_edits(path.read_text(encoding="utf-8"), edits), encoding="utf-8")


def catalog_of(folder: Path):
    catalog, problems = read_catalog(folder)
    assert catalog is not None, problems
    return catalog, problems


def row(rows, key, section="text"):
    (found,) = [r for r in rows if r["key"] == key and r["section"] == section]
    return found


def test_the_real_locales_have_every_spanish_string_and_none_reviewed_yet():
    catalog, problems = catalog_of(REPO / "locales")
    assert not [p for p in problems if "review" in p.where]
    flows, _ = read_flows(REPO / "flows")
    rows = translation_rows(catalog, "es", choice_labels(flows.values()))
    base = catalog.locales["en"]
    assert len(rows) == len(base.text) + len(base.match)
    assert {r["status"] for r in rows} == {"translated"}
    assert row(rows, "menu.find_help")["kind"] == "label" and row(rows, "menu.intro")["kind"] == "text"
    assert row(rows, "match.yes", "match")["kind"] == "match" and "si" in row(rows, "match.yes", "match")["translation"]
    assert progress(rows) == {
        "total": len(rows), "translated": len(rows), "approved": 0, "missing": 0, "changed_since_translated": 0, "needs_review": 0,
    }


def test_a_missing_text_and_missing_match_words_are_counted(locales):
    edit(locales, "es", [{"path": ["text", "menu.intro"], "delete": True}, {"path": ["match", "match.yes"], "delete": True}])
    catalog, _ = catalog_of(locales)
    rows = translation_rows(catalog, "es")
    assert row(rows, "menu.intro")["status"] == "missing" and row(rows, "menu.intro")["translation"] is None
    assert row(rows, "match.yes", "match")["status"] == "missing"
    counts = progress(rows)
    assert counts["missing"] == 2 and counts["translated"] == counts["total"] - 2


def test_saved_then_approved_then_the_base_text_changes_and_it_needs_review_again(locales):
    catalog, _ = catalog_of(locales)
    english = catalog.locales["en"].text["menu.intro"]
    edit(locales, "es", [{"path": ["review", "text", "menu.intro"], "value": review_entry("translated", "eva@example.org", NOW, english)}])
    catalog, _ = catalog_of(locales)
    assert row(translation_rows(catalog, "es"), "menu.intro")["status"] == "translated"

    edit(locales, "es", [{"path": ["review", "text", "menu.intro"], "value": review_entry("approved", "root@example.org", NOW, english)}])
    catalog, problems = catalog_of(locales)
    approved = row(translation_rows(catalog, "es"), "menu.intro")
    assert approved["status"] == "approved"
    assert approved["review"] == {"state": "approved", "by": "root@example.org", "at": NOW, "source": source_hash(english)}
    assert catalog.review("es")["text"]["menu.intro"]["by"] == "root@example.org"
    assert progress(translation_rows(catalog, "es"))["approved"] == 1
    assert not [p for p in problems if p.severity == "error"]

    edit(locales, "en", [{"path": ["text", "menu.intro"], "value": english + "\nOne more line."}])
    catalog, _ = catalog_of(locales)
    changed = row(translation_rows(catalog, "es"), "menu.intro")
    assert changed["status"] == "changed_since_translated"
    assert changed["source"] != approved["source"]
    assert progress(translation_rows(catalog, "es"))["changed_since_translated"] == 1


def test_a_machine_draft_needs_review_and_a_review_naming_no_string_is_a_warning(locales):
    edit(locales, "es", [
        {"path": ["review", "match", "match.yes"], "value": {"state": "machine_draft"}},
        {"path": ["review", "text", "no.such_text"], "value": {"state": "approved"}},
    ])
    catalog, problems = catalog_of(locales)
    rows = translation_rows(catalog, "es")
    assert row(rows, "match.yes", "match")["status"] == "needs_review"
    assert progress(rows)["needs_review"] == 1
    (warning,) = [p for p in problems if "no.such_text" in p.where]
    assert warning.severity == "warning"


@pytest.mark.parametrize("entry", [{"state": "done"}, {"state": "approved", "source": "xyz"}, {"by": "a@b.c"}])
def test_a_malformed_review_entry_is_an_error_naming_the_file(locales, entry):
    edit(locales, "es", [{"path": ["review", "text", "menu.intro"], "value": entry}])
    catalog, problems = read_catalog(locales)
    assert any(p.severity == "error" and p.where.startswith("locales/es.yaml") for p in problems), problems


def test_the_live_check_reads_a_text_as_flows_check_does():
    catalog, _ = catalog_of(REPO / "locales")
    flows, _ = read_flows(REPO / "flows")
    values = flows["main"].vars
    long_tail = " Puedes escribir cuando quieras, de dia o de noche." * 5
    revealing = text_check(catalog, values, "es", "Busca un refugio cerca." + long_tail)
    assert revealing["revealing_words"] == ["refugio"]
    assert revealing["encoding"] == "gsm7" and revealing["segments"] == 2
    assert "refugio" in revealing["lock_screen_preview"]

    later = text_check(catalog, values, "es", "Hola." + long_tail + " Hay un refugio.")
    assert later["revealing_words"] == [] and "refugio" not in later["lock_screen_preview"]

    hotline = text_check(catalog, values, "es", "Llama al {hotline_phone}.")
    assert hotline["revealing_words"], hotline  # the filled-in number is what shows

    emoji = text_check(catalog, values, "es", "Hola 🙂")
    assert emoji["encoding"] == "ucs2" and emoji["non_gsm7"] == "🙂"

    checked = text_check(catalog, values, "es", "Hola {ciudad}, escribe STOP", base_text="Hi, call {emergency_number}")
    assert checked["placeholders"] == [{"name": "ciudad", "problem": "unknown"}, {"name": "emergency_number", "problem": "missing"}]
    assert checked["opt_out_words"] == ["stop"]


def desk_over_files():
    service = SimpleNamespace(studio=None, content=None)
    return ContentDesk(service), dict(Bundle.from_directory(REPO).files)


def someone(role: str, languages=()):
    return SimpleNamespace(user=SimpleNamespace(is_admin=role == "admin", role=role, languages=languages, email=f"{role}@example.org"))


def test_the_desk_shows_a_working_copy_to_translators_and_refuses_advocates():
    desk, files = desk_over_files()
    files["locales/es.yaml"] = apply_edits(files["locales/es.yaml"], [{"path": ["text", "menu.intro"], "delete": True}])
    answer = desk.translations(someone("translator", ("es",)), None, files, "es")
    assert answer["base_language"] == "en" and answer["progress"]["missing"] == 1
    assert row(answer["rows"], "menu.intro")["status"] == "missing"
    with pytest.raises(NotAllowed):
        desk.translations(someone("advocate"), None, files, "es")
    for code in ("en", "xx"):
        with pytest.raises(BundleError):
            desk.translations(someone("admin"), None, files, code)
    files["locales/es.yaml"] = "language: [es\n"
    with pytest.raises(BundleError):
        desk.translations(someone("admin"), None, files, "es")


def test_a_save_may_sign_reviews_only_as_the_one_saving():
    before = (REPO / "locales" / "es.yaml").read_text(encoding="utf-8")
    mine = apply_edits(before, [{"path": ["review", "text", "menu.intro"], "value": review_entry("approved", "eva@example.org", NOW, "x")}])
    assert reviews_signed_by_others(before, mine, "eva@example.org") == []
    assert reviews_signed_by_others(before, mine, "root@example.org") == ["text.menu.intro"]
    assert reviews_signed_by_others(mine, mine, "root@example.org") == []  # kept as it was: not re-signed
    unsigned = apply_edits(before, [{"path": ["review", "match", "match.yes"], "value": {"state": "machine_draft"}}])
    assert reviews_signed_by_others(before, unsigned, "root@example.org") == []
    assert reviews_signed_by_others(before, "language: [es\n", "root@example.org") == []

"""/api/content translations and text checks over real HTTP, on SQLite and PostgreSQL: an admin
reads Spanish beside English, saves a translation with its review entry as a draft, approves it,
sees it go back to "changed since translated" when the English text changes; the live check
answers as flows check reads the text; bad input gets 422, not 500."""

from __future__ import annotations

from bot.i18n import source_hash
from tests.test_console_api import console  # noqa: F401  (the fixture)

NOW = "2026-12-01T10:00:00.000Z"


def admin_of(console):  # noqa: F811
    root = console.people["admin"]
    assert root.login().status_code == 200
    return root


def row(answer, key, section="text"):
    (found,) = [r for r in answer["rows"] if r["key"] == key and r["section"] == section]
    return found


def edited(root, text: str, edits: list[dict]) -> str:
    response = root.call("POST", "/api/content/edit", {"text": text, "edits": edits})
    assert response.status_code == 200, response.text
    return response.json()["text"]


def save(root, base: int, changes: dict[str, str]) -> int:
    response = root.call("POST", "/api/content/revisions", {"base": base, "changes": changes, "message": "translations"})
    assert response.status_code == 201, response.text
    return response.json()["revision"]["number"]


def test_a_translation_saved_approved_and_then_changed_in_english(console):  # noqa: F811
    root = admin_of(console)
    head = root.call("GET", "/api/content").json()["head"]
    first = root.call("GET", f"/api/content/revisions/{head}/translations/es")
    assert first.status_code == 200
    answer = first.json()
    assert answer["base_language"] == "en" and answer["progress"]["missing"] == 0
    intro = row(answer, "menu.intro")
    assert intro["status"] == "translated" and intro["review"] is None

    files = root.call("GET", f"/api/content/revisions/{head}").json()["files"]
    spanish = edited(root, files["locales/es.yaml"], [
        {"path": ["text", "menu.intro"], "value": "Aquí tienes algunas opciones.\nResponde con un número."},
        {"path": ["review", "text", "menu.intro"], "value": {"state": "translated", "by": "root@example.org", "at": NOW, "source": intro["source"]}},
    ])
    working = root.call("POST", "/api/content/translations/es", {"base": head, "changes": {"locales/es.yaml": spanish}}).json()
    assert row(working, "menu.intro")["translation"].startswith("Aquí tienes algunas opciones.\nResponde")
    assert row(working, "menu.intro")["status"] == "translated"
    saved = save(root, head, {"locales/es.yaml": spanish})

    approving = edited(root, spanish, [
        {"path": ["review", "text", "menu.intro"], "value": {"state": "approved", "by": "root@example.org", "at": NOW, "source": intro["source"]}},
    ])
    approved_at = save(root, saved, {"locales/es.yaml": approving})
    approved = root.call("GET", f"/api/content/revisions/{approved_at}/translations/es").json()
    assert row(approved, "menu.intro")["status"] == "approved"
    assert row(approved, "menu.intro")["review"]["by"] == "root@example.org"
    assert approved["progress"]["approved"] == 1

    english = root.call("GET", f"/api/content/revisions/{approved_at}").json()["files"]["locales/en.yaml"]
    english = edited(root, english, [{"path": ["text", "menu.intro"], "value": "Here are a few options, new wording."}])
    changed_at = save(root, approved_at, {"locales/en.yaml": english})
    changed = root.call("GET", f"/api/content/revisions/{changed_at}/translations/es").json()
    assert row(changed, "menu.intro")["status"] == "changed_since_translated"
    assert row(changed, "menu.intro")["source"] == source_hash("Here are a few options, new wording.")
    assert changed["progress"]["changed_since_translated"] == 1 and changed["progress"]["approved"] == 0


def test_the_text_check_reads_a_draft_as_it_would_be_sent(console):  # noqa: F811
    root = admin_of(console)
    long_text = "Busca un refugio cerca de ti." + " Escribe cuando quieras, de dia o de noche." * 5
    answer = root.call("POST", "/api/content/text-check", {"language": "es", "key": "menu.intro", "text": long_text})
    assert answer.status_code == 200
    checked = answer.json()
    assert checked["revealing_words"] == ["refugio"] and checked["segments"] == 2 and checked["encoding"] == "gsm7"
    problems = root.call("POST", "/api/content/text-check", {"language": "es", "key": "not_safe.text", "text": "De acuerdo {lugar}."}).json()
    assert {"name": "lugar", "problem": "unknown"} in problems["placeholders"]
    assert {"name": "emergency_number", "problem": "missing"} in problems["placeholders"]  # the served English text has it


def test_bad_input_gets_a_clear_answer(console):  # noqa: F811
    root = admin_of(console)
    head = root.call("GET", "/api/content").json()["head"]
    for code in ("xx", "en"):
        refused = root.call("GET", f"/api/content/revisions/{head}/translations/{code}")
        assert refused.status_code == 422 and refused.json()["detail"]["problems"], refused.text
    broken = root.call("POST", "/api/content/translations/es", {"base": head, "changes": {"locales/es.yaml": "language: [es\n"}})
    assert broken.status_code == 422 and "locales/es.yaml" in broken.json()["detail"]["problems"][0]["where"]
    assert root.call("GET", "/api/content/revisions/9999/translations/es").status_code == 404
    assert root.call("POST", "/api/content/text-check", {"language": "xx", "text": "hola"}).status_code == 422
    assert root.call("POST", "/api/content/text-check", {"language": "es"}).status_code == 422

    files = root.call("GET", f"/api/content/revisions/{head}").json()["files"]
    forged = edited(root, files["locales/es.yaml"], [
        {"path": ["review", "text", "menu.intro"], "value": {"state": "approved", "by": "ana@example.org", "at": NOW}},
    ])
    refused = root.call("POST", "/api/content/revisions", {"base": head, "changes": {"locales/es.yaml": forged}, "message": "x"})
    assert refused.status_code == 403 and "text.menu.intro" in refused.json()["detail"]
    assert root.call("GET", "/api/content").json()["head"] == head  # nothing saved

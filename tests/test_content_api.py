"""The content studio over HTTP (``/api/content``): a conflict names who changed what, a refused
publish lists every problem, an edit keeps the file's comments, a translator saves only their
languages, an advocate sees none of it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bot.service.content_desk import ContentDesk, NotAllowed
from tests.test_console_api import console  # noqa: F401 - the fixture: a served app with an admin and advocates

ES = "locales/es.yaml"
EN = "locales/en.yaml"


def _files(person, number: int) -> dict:
    answer = person.call("GET", f"/api/content/revisions/{number}")
    assert answer.status_code == 200
    return answer.json()["files"]


def test_two_admins_editing_the_same_file_get_a_conflict_naming_who_changed_what(console):  # noqa: F811
    root = console.people["admin"]
    root.login()
    files = _files(root, 1)
    first = root.call("POST", "/api/content/revisions", json={
        "base": 1, "message": "shorter", "changes": {ES: files[ES].replace("Hola, gracias por escribir.", "Hola.", 1)},
    })
    assert first.status_code == 201, first.text
    assert first.json()["revision"]["tags"]["languages"] == ["es"]
    second = root.call("POST", "/api/content/revisions", json={
        "base": 1, "message": "kinder", "changes": {ES: files[ES].replace("Hola, gracias por escribir.", "Hola, gracias.", 1)},
    })
    assert second.status_code == 409
    detail = second.json()["detail"]
    assert detail["files"] == [ES] and detail["base"] == 1 and detail["head"]["number"] == 2
    assert [(r["author"], r["message"], r["tags"]["languages"]) for r in detail["since"]] == [("root@example.org", "shorter", ["es"])]
    forced = root.call("POST", "/api/content/revisions", json={
        "base": 1, "message": "kinder", "overwrite": True,
        "changes": {ES: files[ES].replace("Hola, gracias por escribir.", "Hola, gracias.", 1)},
    })
    assert forced.status_code == 201 and forced.json()["revision"]["number"] == 3


def test_a_refused_publish_answers_422_with_every_problem_and_nothing_changes(console):  # noqa: F811
    root = console.people["admin"]
    root.login()
    files = _files(root, 1)
    broken = files["flows/main.yaml"].replace("menu: main_menu", "menu: nowhere", 1)
    saved = root.call("POST", "/api/content/revisions", json={"base": 1, "changes": {"flows/main.yaml": broken}, "message": "oops"})
    assert saved.status_code == 201
    assert {"where": "flows/main.yaml: menu", "what": "no step named 'nowhere'", "severity": "error"} in saved.json()["problems"]
    refused = root.call("POST", f"/api/content/revisions/{saved.json()['revision']['number']}/publish")
    assert refused.status_code == 422
    assert "flows/main.yaml: menu" in [p["where"] for p in refused.json()["detail"]["problems"]]
    assert root.call("GET", "/api/content").json()["published"] == 1
    assert "Traceback" not in refused.text


def test_an_edit_keeps_the_file_s_comments_and_a_bad_path_is_a_422_naming_the_edit(console):  # noqa: F811
    root = console.people["admin"]
    root.login()
    text = _files(root, 1)[ES]
    answer = root.call("POST", "/api/content/edit", json={"text": text, "edits": [{"path": ["text", "safe_check.ask"], "value": "Una pregunta.\nOtra."}]})
    assert answer.status_code == 200
    new = answer.json()["text"]
    assert new.startswith("# safeharbor: mensajes") and "safe_check.ask: |-\n    Una pregunta.\n    Otra." in new
    bad = root.call("POST", "/api/content/edit", json={"text": text, "edits": [{"path": ["text", "nope", "deeper"], "delete": True}]})
    assert bad.status_code == 422 and bad.json()["detail"]["edit"] == 0


def test_not_content_files_and_oversized_bodies_are_refused(console):  # noqa: F811
    root = console.people["admin"]
    root.login()
    outside = root.call("POST", "/api/content/revisions", json={"base": 1, "changes": {"../../etc/cron.d/x.yaml": "a: 1"}, "message": "x"})
    assert outside.status_code == 422
    assert outside.json()["detail"]["problems"][0]["where"] == "../../etc/cron.d/x.yaml"
    assert root.call("GET", "/api/content/revisions/99").status_code == 404


def test_a_translator_saves_only_the_files_of_their_languages_and_never_publishes(console):  # noqa: F811
    desk = ContentDesk(console.service)
    translator = SimpleNamespace(user=SimpleNamespace(email="tl@example.org", role="translator", languages=("es",), is_admin=False))
    advocate = SimpleNamespace(user=SimpleNamespace(email="ana@example.org", role="advocate", languages=(), is_admin=False))
    files = desk.revision(translator, 1)["files"]
    saved = desk.save(translator, 1, {ES: files[ES].replace("Hola, gracias por escribir.", "Hola.", 1)}, "es")
    assert saved["revision"]["author"] == "tl@example.org"
    with pytest.raises(NotAllowed):
        desk.save(translator, 1, {EN: files[EN] + "\n"}, "en too")
    with pytest.raises(NotAllowed):
        desk.publish(translator, saved["revision"]["number"])
    with pytest.raises(NotAllowed):
        desk.overview(advocate)

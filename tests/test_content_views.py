"""The studio's structured views over HTTP (SQLite and PostgreSQL): a flow's steps for the Steps
form and the Diagram (POST /api/content/flow-view) and the resource directory with its re-check
dates (POST /api/content/resources-view), both of the editor's unsaved working copy; and who may
read them (a translator too, through the desk; advocates not)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.content.edit import apply_edits
from bot.service.content_desk import ContentDesk, NotAllowed
from tests.test_console_api import Person, console  # noqa: F401  (the fixture)

FLOW = "flows/main.yaml"
RESOURCES = "flows/resources/us-national.yaml"


def admin(console) -> Person:  # noqa: F811
    person = console.people["admin"]
    assert person.login().status_code == 200
    return person


def files(person: Person) -> dict[str, str]:
    return person.call("GET", "/api/content/revisions/1").json()["files"]


def test_the_flow_view_shows_steps_with_their_base_texts_commands_and_what_ends_a_conversation(console):  # noqa: F811
    root = admin(console)
    answer = root.call("POST", "/api/content/flow-view", {"base": 1, "changes": {}})
    assert answer.status_code == 200
    view = answer.json()
    assert (view["file"], view["start"], view["menu"], view["error"]) == (FLOW, "welcome", "main_menu", None)
    steps = {s["id"]: s for s in view["steps"]}
    welcome = steps["welcome"]
    assert welcome["say"][0]["key"] == "welcome.greeting" and welcome["say"][0]["text"].startswith("Hi, thanks for writing.")
    assert [(c["label"], c["text"], c["goto"]) for c in welcome["choices"]] == [
        ("choice.english", "English", "safe_check"), ("choice.spanish", "Español", "safe_check"),
    ]
    assert steps["not_safe"]["terminal"] is True and steps["welcome"]["terminal"] is False
    # the help_* steps share one anchored list of choices: the form must say so before an edit changes them all
    assert "help_medical" in steps["help_shelter"]["shares_choices_with"]
    assert {c["id"]: c["goto"] for c in view["commands"]}["menu"] == "main_menu"
    assert view["intents"]["exit"] == "erased"


def test_the_flow_view_is_of_the_unsaved_working_copy_even_with_errors(console):  # noqa: F811
    root = admin(console)
    flow = files(root)[FLOW]
    drafted = apply_edits(flow, [
        {"path": ["steps", "emergency", "choices", 0, "goto"], "value": "not_written_yet"},
        {"path": ["steps", "food_help"], "value": {"say": ["food.intro"]}},
    ])
    view = root.call("POST", "/api/content/flow-view", {"base": 1, "changes": {FLOW: drafted}}).json()
    steps = {s["id"]: s for s in view["steps"]}
    assert steps["emergency"]["choices"][0]["goto"] == "not_written_yet"
    assert steps["food_help"]["say"] == [{"key": "food.intro", "text": None}]  # no English text yet
    problems = root.call("POST", "/api/content/check", {"base": 1, "changes": {FLOW: drafted}}).json()
    assert any("steps.emergency.choices[0].goto" in p["where"] and p["severity"] == "error" for p in problems)

    broken = root.call("POST", "/api/content/flow-view", {"base": 1, "changes": {FLOW: "steps: [unclosed"}})
    assert broken.status_code == 200
    assert "not valid YAML" in broken.json()["error"] and broken.json()["steps"] == []


def test_a_flow_view_of_a_bad_name_or_base_is_refused_with_a_reason(console):  # noqa: F811
    root = admin(console)
    assert root.call("POST", "/api/content/flow-view", {"base": 1, "changes": {}, "flow": "../etc"}).status_code == 422
    assert root.call("POST", "/api/content/flow-view", {"base": 999, "changes": {}}).status_code == 404
    missing = root.call("POST", "/api/content/flow-view", {"base": 1, "changes": {}, "flow": "other"}).json()
    assert missing["steps"] == [] and "flow: other" in missing["error"]


def test_the_resources_view_marks_the_entries_due_for_a_re_check(console):  # noqa: F811
    root = admin(console)
    directory = files(root)[RESOURCES]
    today = console.service.clock().date()
    old = today.replace(year=today.year - 2).isoformat()
    drafted = apply_edits(directory, [{"path": ["resources", 0, "checked"], "value": old}, {"path": ["resources", 1, "checked"], "value": today.isoformat()}])
    view = root.call("POST", "/api/content/resources-view", {"base": 1, "changes": {RESOURCES: drafted}}).json()
    assert view["today"] == today.isoformat() and view["max_age_months"] == 12
    assert {"source", "checked", "id", "name", "categories", "area"} <= set(view["required"])
    assert "legal" in view["categories"]
    (national,) = [f for f in view["files"] if f["path"] == RESOURCES]
    first, second = national["entries"][:2]
    assert first["entry"]["id"] == "nhth" and first["index"] == 0
    assert first["due"] == f"checked {old}, more than 12 month(s) ago"
    assert second["due"] is None


def test_a_new_entry_without_a_source_is_an_error_of_the_check_until_it_has_one(console):  # noqa: F811
    root = admin(console)
    directory = files(root)[RESOURCES]
    count = directory.count("\n  - id: ")
    entry = {"id": "food_bank_test", "name": "Food Bank", "categories": ["shelter"], "area": "United States", "web": "https://example.org", "checked": "2026-11-20"}
    edited = root.call("POST", "/api/content/edit", {"text": directory, "edits": [{"path": ["resources", count], "value": entry}]})
    assert edited.status_code == 200
    problems = root.call("POST", "/api/content/check", {"base": 1, "changes": {RESOURCES: edited.json()["text"]}}).json()
    assert any(p["where"] == f"{RESOURCES}: resources[{count}]" and "'source' is a required property" in p["what"] and p["severity"] == "error" for p in problems)
    fixed = apply_edits(edited.json()["text"], [{"path": ["resources", count, "source"], "value": "https://example.org/about"}])
    problems = root.call("POST", "/api/content/check", {"base": 1, "changes": {RESOURCES: fixed}}).json()
    assert not [p for p in problems if p["severity"] == "error"]
    view = root.call("POST", "/api/content/resources-view", {"base": 1, "changes": {RESOURCES: fixed}}).json()
    (national,) = [f for f in view["files"] if f["path"] == RESOURCES]
    assert national["entries"][-1]["entry"]["source"] == "https://example.org/about"


@dataclass
class StandIn:
    """A console user of a role not yet in the accounts (translator: branch i15-users)."""

    role: str
    languages: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass
class Who:
    user: StandIn


def test_translators_read_the_views_and_advocates_do_not(console):  # noqa: F811
    desk = ContentDesk(console.service)
    translator = Who(StandIn("translator", ("es",)))
    assert desk.flow_view(translator, 1, {})["start"] == "welcome"
    assert desk.resources_view(translator, 1, {})["files"]
    for method, args in ((desk.flow_view, (1, {})), (desk.resources_view, (1, {}))):
        with pytest.raises(NotAllowed):
            method(Who(StandIn("advocate")), *args)


def test_due_for_a_re_check_by_the_checked_date():
    import datetime as dt

    from bot.content import Bundle
    from bot.content.views import resources_view

    entries = "\n".join(f"  - {{id: e{i}, checked: {day}}}" for i, day in enumerate(["2025-12-01", "2025-11-30", "2026-12-02", "soon", "''"]))
    bundle = Bundle({"flows/resources/x.yaml": f"spec_version: 1\nregion: x\nresources:\n{entries}\n"})
    view = resources_view(bundle, dt.date(2026, 12, 1), max_age_months=12)
    due = [e["due"] for e in view["files"][0]["entries"]]
    assert due == [
        None,  # twelve months to the day: not yet
        "checked 2025-11-30, more than 12 month(s) ago",
        "checked 2026-12-02 is after today",
        "checked 'soon' is not a date (YYYY-MM-DD)",
        "no checked date",
    ]
    assert resources_view(Bundle({"flows/resources/x.yaml": "resources: [unclosed"}), dt.date(2026, 12, 1))["files"][0]["error"].startswith("not valid YAML")


def test_the_max_age_comes_from_the_same_variable_as_flows_check():
    from bot.content.views import resource_max_age_months

    assert resource_max_age_months({}) == 12
    assert resource_max_age_months({"SAFEHARBOR_RESOURCE_MAX_AGE_MONTHS": "6"}) == 6
    assert resource_max_age_months({"SAFEHARBOR_RESOURCE_MAX_AGE_MONTHS": "six"}) == 12


def test_only_the_listed_vendored_libraries_are_served(console):  # noqa: F811
    library = console.get("/console/vendor/cytoscape.min.js")
    assert library.status_code == 200 and library.headers["content-type"].startswith("text/javascript")
    assert "script-src 'self'" in library.headers["content-security-policy"]
    assert console.get("/console/vendor/README.md").status_code == 404
    assert console.get("/console/vendor/cytoscape.LICENSE").status_code == 404
    assert console.get("/console/vendor/..%2Fstudio.html").status_code == 404

"""``flows check`` against the resource directory: an entry no step can show, an entry due for a
re-check (``--max-age-months`` / ``SAFEHARBOR_RESOURCE_MAX_AGE_MONTHS``, with a fixed clock), and
the ``help_*`` replies a person gets: neutral on a lock screen, within 3 SMS segments, in every
language, resource lists included."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.domain.messages import render_plain
from bot.domain.sms import prepare_sms, sms_cost
from bot.engine import Engine
from bot.flowdef import load_flows, resource_problems
from bot.flowdef.inspect import (
    MAX_SEGMENTS,
    PREVIEW_CHARS,
    listed_resource_ids,
    lock_screen_preview,
    months_before,
    revealing_words,
    stale_resources,
    unlisted_resources,
)
from bot.i18n import fold, load_catalog
from bot.store.resources import load_directory

REPO = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 12, 1)


def real_content():
    return load_flows(REPO / "flows"), load_catalog(REPO / "locales"), load_directory(REPO / "flows" / "resources")


def directory_with(tmp_path: Path, extra: list[dict], checked: dict[str, str] | None = None):
    """The real national file plus ``extra`` entries (appended, so listed last), with some
    ``checked`` dates changed."""
    document = yaml.safe_load((REPO / "flows" / "resources" / "us-national.yaml").read_text(encoding="utf-8"))
    for entry in document["resources"]:
        entry["checked"] = (checked or {}).get(entry["id"], str(entry["checked"]))
    document["resources"].extend(extra)
    (tmp_path / "us-national.yaml").write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_directory(tmp_path)


def extra(id: str, **fields) -> dict:
    return {"id": id, "name": id, "categories": ["legal"], "area": "US", "web": f"https://example.org/{id}",
            "source": f"https://example.org/{id}/about", "checked": "2026-11-30", **fields}


# -- entries no step shows ------------------------------------------------------------------------


def test_every_real_entry_is_shown_by_some_step_and_none_is_due():
    flows, catalog, directory = real_content()

    assert listed_resource_ids(flows.values(), catalog, directory) == {r.id for r in directory.resources}
    assert [str(p) for p in resource_problems(flows.values(), catalog, directory, TODAY)] == []


def test_an_entry_past_every_limit_is_reported_by_id(tmp_path):
    flows, catalog, _ = real_content()
    directory = directory_with(tmp_path, [extra("third_legal")])  # help_legal shows 2

    problems = unlisted_resources(flows.values(), catalog, directory)

    assert [(p.where, p.severity) for p in problems] == [("flows/resources: us-national: third_legal", "warning")]
    assert "no step ever shows this entry (legal)" in problems[0].what


def flows_edited(tmp_path: Path, old: str, new: str):
    """The real flows with the one occurrence of ``old`` in main.yaml replaced by ``new``."""
    folder = tmp_path / "flows"
    folder.mkdir()
    text = (REPO / "flows" / "main.yaml").read_text(encoding="utf-8")
    assert text.count(old) == 1
    (folder / "main.yaml").write_text(text.replace(old, new), encoding="utf-8")
    return load_flows(folder)


def test_raising_the_limit_makes_it_shown(tmp_path):
    _, catalog, _ = real_content()
    directory = directory_with(tmp_path, [extra("third_legal")])
    flows = flows_edited(tmp_path, "category: legal, limit: 2}", "category: legal, limit: 3}")

    assert unlisted_resources(flows.values(), catalog, directory) == []


def test_an_audience_no_step_asks_for_is_reported(tmp_path):
    _, catalog, directory = real_content()
    flows = flows_edited(tmp_path, "{type: list_resources, audience: youth, limit: 2}", "{type: list_resources, category: legal}")

    problems = unlisted_resources(flows.values(), catalog, directory)

    assert [p.where for p in problems] == ["flows/resources: us-national: nrs"]
    assert "for youth" in problems[0].what


def test_a_listing_in_a_step_nobody_reaches_does_not_count(tmp_path):
    _, catalog, directory = real_content()
    flows = flows_edited(tmp_path, "      - {label: choice.under_18, match: match.under_18, goto: help_youth}\n", "")

    assert [p.where for p in unlisted_resources(flows.values(), catalog, directory)] == ["flows/resources: us-national: nrs"]


# -- entries due for a re-check -------------------------------------------------------------------


def test_an_entry_checked_more_than_the_age_ago_is_due(tmp_path):
    directory = directory_with(tmp_path, [], checked={"nhth": "2025-11-30", "ndvh": "2025-12-01"})

    problems = stale_resources(directory, TODAY, 12)

    assert [(p.where, p.severity) for p in problems] == [("flows/resources: us-national: nhth", "warning")]
    assert problems[0].what.startswith("checked 2025-11-30, more than 12 month(s) before 2026-12-01: re-check it against https://")


def test_the_age_is_configurable(tmp_path):
    directory = directory_with(tmp_path, [], checked={"nhth": "2026-05-31"})

    assert [p.where for p in stale_resources(directory, TODAY, 6)] == ["flows/resources: us-national: nhth"]
    assert stale_resources(directory, TODAY, 7) == []
    assert len(stale_resources(directory, TODAY, 0)) == 1  # 0: anything checked before today
    with pytest.raises(ValueError):
        stale_resources(directory, TODAY, -1)


def test_a_checked_date_after_today_is_reported(tmp_path):
    directory = directory_with(tmp_path, [], checked={"rainn_nsah": "2027-01-01"})

    assert [p.where for p in stale_resources(directory, TODAY, 12)] == ["flows/resources: us-national: rainn_nsah"]


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2026, 12, 1), 12, dt.date(2025, 12, 1)),
        (dt.date(2026, 3, 31), 1, dt.date(2026, 2, 28)),
        (dt.date(2028, 3, 31), 1, dt.date(2028, 2, 29)),
        (dt.date(2026, 1, 15), 13, dt.date(2024, 12, 15)),
        (dt.date(2026, 1, 15), 0, dt.date(2026, 1, 15)),
    ],
)
def test_months_before(day, months, expected):
    assert months_before(day, months) == expected


# -- the command -------------------------------------------------------------------------------------


def run_check(content_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SAFEHARBOR_")}
    environment.update(SAFEHARBOR_CONTENT_DIR=str(content_dir), **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "bot", "flows", "check", *args], cwd=REPO, env=environment,
        capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def old_entry(tmp_path) -> Path:
    """A copy of the real content where the 211 entry was last checked in 2020."""
    shutil.copytree(REPO / "flows", tmp_path / "flows")
    shutil.copytree(REPO / "locales", tmp_path / "locales")
    path = tmp_path / "flows" / "resources" / "us-national.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("  - id: two_one_one\n")
    at = text.index("    checked: 2026-12-01\n", start)
    path.write_text(text[:at] + "    checked: 2020-01-01\n" + text[at + len("    checked: 2026-12-01\n"):], encoding="utf-8")
    return tmp_path


STALE_LINE = "flows/resources: us-national: two_one_one: warning: checked 2020-01-01, more than"


def test_check_warns_about_an_old_entry_and_strict_fails(old_entry):
    result = run_check(old_entry, "--strict")

    assert STALE_LINE + " 12 month(s) before" in result.stderr
    assert result.returncode == 1


def test_max_age_months_option_and_environment(old_entry):
    assert STALE_LINE not in run_check(old_entry, "--max-age-months", "1200").stderr
    assert STALE_LINE not in run_check(old_entry, env={"SAFEHARBOR_RESOURCE_MAX_AGE_MONTHS": "1200"}).stderr
    # the option wins over the environment
    result = run_check(old_entry, "--max-age-months", "24", env={"SAFEHARBOR_RESOURCE_MAX_AGE_MONTHS": "1200"})
    assert STALE_LINE + " 24 month(s) before" in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("--max-age-months", "-1"), {}, "--max-age-months=-1: give 0 months or more"),
        ((), {"SAFEHARBOR_RESOURCE_MAX_AGE_MONTHS": "a year"}, "SAFEHARBOR_RESOURCE_MAX_AGE_MONTHS='a year': give a whole number"),
    ],
)
def test_a_bad_age_is_a_usage_error(old_entry, args, env, message):
    result = run_check(old_entry, *args, env=env)

    assert result.returncode == 2
    assert message in result.stderr


def test_check_reports_an_entry_no_step_shows(tmp_path):
    shutil.copytree(REPO / "flows", tmp_path / "flows")
    shutil.copytree(REPO / "locales", tmp_path / "locales")
    path = tmp_path / "flows" / "main.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("      - {label: choice.under_18, match: match.under_18, goto: help_youth}\n", "")
    path.write_text(text, encoding="utf-8")

    result = run_check(tmp_path, "--strict")

    assert "flows/resources: us-national: nrs: warning: no step ever shows this entry" in result.stderr
    assert result.returncode == 1


# -- the help_* replies ------------------------------------------------------------------------------


def help_replies():
    flows, catalog, directory = real_content()
    engine = Engine(flows["main"], catalog, directory)
    for step in flows["main"].steps:
        if step.startswith("help_"):
            for code in catalog.locales:
                yield step, code, engine.preview(step, code), catalog


@pytest.mark.parametrize(("step", "code", "reply", "catalog"), list(help_replies()), ids=lambda v: v if isinstance(v, str) else "")
def test_help_replies_are_neutral_on_a_lock_screen_and_fit_three_segments(step, code, reply, catalog):
    preview = lock_screen_preview(reply.text)
    cost = sms_cost(prepare_sms(render_plain(reply), catalog.locales[code].sms_alphabet))

    assert len(preview) >= PREVIEW_CHARS
    assert revealing_words(preview, catalog.reveal_words(code)) == []
    assert cost.encoding == "GSM-7" and cost.segments <= MAX_SEGMENTS
    assert "\n- " in reply.text  # a resource list, not the "nothing listed" fallback
    # no resource line reaches into the preview: the names say what the services are for
    assert "- " not in preview


def test_the_lock_screen_words_include_the_hotline_numbers_and_papers():
    catalog = load_catalog(REPO / "locales")

    assert {fold(w) for w in ("papers", "undocumented", "green card", "373-7888", "233733")} <= set(catalog.reveal_words("en"))
    assert {fold(w) for w in ("papeles", "indocumentad", "373-7888", "233733")} <= set(catalog.reveal_words("es"))
    assert PREVIEW_CHARS == 178


@pytest.mark.parametrize(
    ("action", "fragment"),
    [
        ("{type: list_resources}", "'category' is a required property"),  # or an audience
        ("{type: list_resources, audience: elders}", "'elders' is not one of ['youth']"),
    ],
)
def test_a_listing_must_name_a_need_or_an_audience(tmp_path, action, fragment):
    from bot.flowdef import read_flows

    folder = tmp_path / "flows"
    folder.mkdir()
    text = (REPO / "flows" / "main.yaml").read_text(encoding="utf-8")
    (folder / "main.yaml").write_text(text.replace("{type: list_resources, audience: youth, limit: 2}", action), encoding="utf-8")

    _, problems = read_flows(folder)

    assert any(p.where.startswith("flows/main.yaml: steps.help_youth.actions[0]") and fragment in p.what for p in problems), [str(p) for p in problems]

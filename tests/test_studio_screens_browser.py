"""The content studio's Steps, Resources and Diagram screens in a real browser: Debian's
chromium driven by Playwright (no browser download), the app served over loopback with its
strict Content-Security-Policy.

- fix a step: a choice to a step that is then removed shows as an error at that step, the form
  points it elsewhere, the draft saves with the change and no errors;
- a resource without a source is refused by the form, with one it is added and saved;
- the diagram draws the flow (a canvas with the steps; no CSP violation) and a click on a step
  opens it in the Steps screen.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
import yaml

from bot.config import Settings, generate_keys
from bot.service import Service
from bot.web import create_app
from tests.conftest import REPO
from tests.serving import free_port, serving

# The page is the same on either database (the API and the store are tested on both): one run.
pytestmark = pytest.mark.sqlite_only

CHROMIUM = os.environ.get("SAFEHARBOR_CHROMIUM", "/usr/bin/chromium")
EMAIL, PASSWORD = "root@example.org", "a long enough passphrase"
FLOW, RESOURCES = "flows/main.yaml", "flows/resources/us-national.yaml"

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is part of the test extras")

if not Path(CHROMIUM).exists():  # .ci/run installs Debian's chromium; a laptop may not have it
    pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

# Installed before any page script: every CSP violation the page meets is kept for the test.
WATCH_CSP = "window.__violations = []; document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));"


@pytest.fixture
def studio_site(tmp_path, database_url):
    port = free_port()
    settings = Settings.from_env({
        "SAFEHARBOR_ENV": "test", "SAFEHARBOR_HOME": str(tmp_path), "SAFEHARBOR_CONTENT_DIR": str(REPO),
        "DATABASE_URL": database_url, "SAFEHARBOR_PUBLIC_URL": f"http://127.0.0.1:{port}", **generate_keys(),
    })
    service = Service.from_settings(settings)
    uri = service.accounts.add(EMAIL, "admin", PASSWORD, service.clock())
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    with serving(create_app(service, settings, background=False), port) as url:
        yield url, secret, service
    service.close()


@pytest.fixture
def page(studio_site):
    url, secret, _service = studio_site
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.add_init_script(WATCH_CSP)
            page.problems = []  # script errors, CSP refusals reported on the console, failed requests
            page.on("pageerror", lambda exc: page.problems.append(f"pageerror {exc}"))
            page.on("console", lambda m: page.problems.append(f"console {m.text}") if (m.type == "error" and not m.text.startswith("Failed to load resource")) or "Content Security Policy" in m.text else None)
            page.on("response", lambda r: page.problems.append(f"{r.status} {r.url}") if r.status >= 400 and not r.url.endswith("/api/me") else None)
            page.goto(f"{url}/console")
            page.fill("#login-email", EMAIL)
            page.fill("#login-password", PASSWORD)
            page.fill("#login-otp", pyotp.TOTP(secret).now())
            page.press("#login-otp", "Enter")
            page.wait_for_selector("#desk")
            page.base = url
            yield page
        finally:
            browser.close()


def open_screen(page, screen: str) -> None:
    page.goto(f"{page.base}/console/studio#{screen}")
    page.wait_for_selector(f"#tab-{screen}[aria-selected='true']")


def save_draft(page, message: str) -> None:
    page.fill("#draft-message", message)
    page.click("#draft-save")
    page.wait_for_selector("#draft-state:has-text('Saved as revision 2')")
    assert "0 error(s)" in page.inner_text("#draft-state")


def no_errors(service, number: int) -> bool:
    return not [p for p in service.studio.check(service.studio.revisions.get(number).bundle) if p.severity == "error"]


def test_fix_a_step_in_the_steps_form(page, studio_site):
    _url, _secret, service = studio_site
    open_screen(page, "steps")
    page.wait_for_selector("[data-step='emergency']")

    # A new step, and a choice in "emergency" that goes to it.
    page.fill("#new-step-id", "safety_more")
    page.click("text=Add a step")
    page.wait_for_selector("h3:text('Step safety_more')")
    page.click("[data-step='emergency']")
    page.wait_for_selector("h3:text('Step emergency')")
    page.fill("#choice-new-label", "menu.safety")
    page.fill("#choice-new-match", "match.safety")
    page.select_option("#choice-new-goto", "safety_more")
    page.click("text=Add choice")
    page.wait_for_selector("#choice-goto-2")
    assert page.input_value("#choice-goto-2") == "safety_more"
    assert page.inner_text(".choice[data-choice='2'] .base-text") == "“Safety tips”"  # the label's English text beside its key

    # Removing the step warns what leads to it; then the check shows the error at that step.
    page.click("[data-step='safety_more']")
    page.wait_for_selector("h3:text('Step safety_more')")
    warnings = []
    page.once("dialog", lambda dialog: (warnings.append(dialog.message), dialog.accept()))
    page.click("#step-remove")
    page.wait_for_selector("[data-step='safety_more']", state="detached")
    assert "step emergency, choice 3" in warnings[0]
    page.click("[data-step='emergency']")
    problem = page.wait_for_selector("#step-problems li.error:has-text(\"no step named 'safety_more'\")")
    assert "choices[2].goto" in problem.inner_text()
    assert "safety_more (no such step)" in page.inner_text("#choice-goto-2")
    page.wait_for_selector("[data-step='emergency'] .error-count")

    # Fixed in the form: the choice goes to an existing step; the error goes away.
    page.select_option("#choice-goto-2", "safety_tips")
    page.wait_for_selector("#step-problems li.error", state="detached")
    page.wait_for_function("() => !document.querySelector(\"[data-step='emergency'] .error-count\")")

    save_draft(page, "Emergency: a choice to the safety tips")
    steps = yaml.safe_load(service.studio.revisions.get(2).bundle.files[FLOW])["steps"]
    assert steps["emergency"]["choices"][2] == {"label": "menu.safety", "match": "match.safety", "goto": "safety_tips"}
    assert "safety_more" not in steps
    assert no_errors(service, 2)
    assert page.evaluate("window.__violations") == [] and page.problems == []


def test_the_yaml_view_edits_the_whole_flow_file_and_the_form_shows_the_result(page, studio_site):
    _url, _secret, service = studio_site
    open_screen(page, "steps")
    page.wait_for_selector("[data-step='safe_check']")
    page.click("#steps-yaml-toggle")
    text = page.input_value("#steps-yaml")
    assert text == service.studio.revisions.get(1).bundle.files[FLOW]  # the file as written, comments and all
    page.fill("#steps-yaml", text.replace("goto: not_safe}", "goto: nowhere}", 1))
    page.click("#steps-yaml-apply")
    page.wait_for_selector("#draft-state:has-text('flows/main.yaml')")
    page.click("#steps-yaml-toggle")
    page.wait_for_selector("[data-step='safe_check'] .error-count")
    page.click("[data-step='safe_check']")
    page.wait_for_selector("#step-problems li.error:has-text(\"no step named 'nowhere'\")")
    assert page.input_value("#choice-goto-1") == "nowhere"
    assert page.problems == []


def test_editing_a_message_text_edits_the_base_language_file(page, studio_site):
    _url, _secret, service = studio_site
    open_screen(page, "steps")
    page.click("[data-step='safe_check']")
    page.wait_for_selector("h3:text('Step safe_check')")
    page.fill("#say-text-0", "One question first.\nCan you talk safely right now? If not, that's OK.")
    page.press("#say-text-0", "Tab")  # the change event
    page.wait_for_selector("#draft-state:has-text('locales/en.yaml')")
    save_draft(page, "Shorter safety question")
    texts = yaml.safe_load(service.studio.revisions.get(2).bundle.files["locales/en.yaml"])["text"]
    assert texts["safe_check.ask"] == "One question first.\nCan you talk safely right now? If not, that's OK."
    assert page.problems == []


def test_a_resource_needs_a_source_before_it_is_added(page, studio_site):
    _url, _secret, service = studio_site
    open_screen(page, "resources")
    page.wait_for_selector("#resources-table [data-resource='nhth']")
    assert "0 due for a re-check" in page.inner_text("#resources-summary")

    # An entry last confirmed long ago is marked due for a re-check.
    page.click("[aria-label='Edit nhth']")
    page.fill("#resource-checked", "2024-05-01")
    page.click("#resource-save")
    page.wait_for_selector("[data-resource='nhth'] td:has-text('Due: checked 2024-05-01, more than 12 month(s) ago')")
    assert "1 due for a re-check" in page.inner_text("#resources-summary")

    page.click("#resource-add")
    page.fill("#resource-id", "food_bank_test")
    page.fill("#resource-name", "Community Food Bank")
    page.check("#resource-categories input[value='shelter']")
    page.fill("#resource-area", "United States")
    page.fill("#resource-web", "https://example.org/food")
    page.fill("#resource-checked", "2026-11-20")
    page.click("#resource-save")
    refusal = page.wait_for_selector("#resource-refusal:not([hidden])")
    assert "source address" in refusal.inner_text()
    assert page.query_selector("[data-resource='food_bank_test']") is None
    assert not service.studio.revisions.head_number() > 1

    page.fill("#resource-source", "https://example.org/food/about")
    page.click("#resource-save")
    page.wait_for_selector("#resources-table [data-resource='food_bank_test']")
    save_draft(page, "A food bank")
    entries = yaml.safe_load(service.studio.revisions.get(2).bundle.files[RESOURCES])["resources"]
    added = [e for e in entries if e["id"] == "food_bank_test"]
    assert added and added[0]["source"] == "https://example.org/food/about" and str(added[0]["checked"]) == "2026-11-20"
    assert str(entries[0]["checked"]) == "2024-05-01"
    assert no_errors(service, 2)
    assert page.problems == []


def test_the_diagram_draws_the_flow_under_the_csp_and_a_click_opens_the_step(page):
    open_screen(page, "diagram")
    page.wait_for_selector("#diagram canvas")
    page.wait_for_function("() => Number(document.querySelector('#diagram').dataset.nodes) > 30")
    legend = page.inner_text("#diagram-legend")
    assert all(f"{c} (words: cmd.{c})" in legend for c in ("restart", "menu", "language", "help", "advocate"))  # the global commands, as a legend
    into_menu = "() => Studio.diagram.edges().filter((e) => e.target().id() === 'main_menu').length"
    drawn = page.evaluate("() => ({ nodes: Studio.diagram.nodes().length, edges: Studio.diagram.edges().length })")
    assert drawn["nodes"] > 30 and drawn["edges"] > 30
    assert page.evaluate(into_menu) == 0  # reached from every step: named in the boxes, not drawn
    assert re.search(r"↪ .*main_menu", page.evaluate("() => Studio.diagram.$id('emergency').data('label')"))
    page.check("#diagram-hub-edges")
    page.wait_for_function(f"() => ({into_menu})() > 10")
    page.uncheck("#diagram-hub-edges")
    page.wait_for_function(f"() => ({into_menu})() === 0")

    # The start of the flow is in view at full size; a click on a step opens it.
    x, y = page.evaluate("() => { const p = Studio.diagram.$id('safe_check').renderedPosition(); return [p.x, p.y]; }")
    box = page.locator("#diagram").bounding_box()
    assert 0 < x < box["width"] and 0 < y < box["height"]
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_selector("#tab-steps[aria-selected='true']")
    page.wait_for_selector("h3:text('Step safe_check')")
    assert page.evaluate("window.__violations") == []
    assert page.problems == []
    assert page.evaluate("document.querySelectorAll('style').length") == 0  # no style element slipped past the CSP

"""The content studio in a real browser (Debian's chromium through Playwright): an admin edits a
text, saves a draft, publishes it, and a live conversation over the signed SMS webhook gets the
new text at once, without a restart; a second admin who edited the same file from the same
revision is told who changed what, and chooses; a rollback brings the old text back; a
publish with an error is refused with the `file: path: problem` list, in the page."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from itertools import count
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from twilio.request_validator import RequestValidator

from bot.config import Settings, generate_keys
from bot.service import Service
from bot.web import create_app
from tests.conftest import REPO
from tests.serving import free_port, serving
from tests.test_console_browser import PASSWORD, log_in

# The page is the same on either database (the API and the store are tested on both): one run.
pytestmark = pytest.mark.sqlite_only

CHROMIUM = os.environ.get("SAFEHARBOR_CHROMIUM", "/usr/bin/chromium")
TOKEN = "12121212121212121212121212121212"
ANA, BEN = "ana@example.org", "ben@example.org"
OLD, NEW, BENS = "Hi, thanks for writing.", "Hello, and thank you for writing.", "Hi there, thanks for your message."

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is part of the test extras")
expect = playwright_api.expect
expect.set_options(timeout=30_000)  # a save or publish checks the whole bundle: seconds on a loaded machine
if not Path(CHROMIUM).exists():
    pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture
def studio_site(tmp_path, database_url):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings.from_env({
        "SAFEHARBOR_ENV": "test", "SAFEHARBOR_HOME": str(tmp_path), "SAFEHARBOR_CONTENT_DIR": str(REPO),
        "DATABASE_URL": database_url, "SAFEHARBOR_PUBLIC_URL": base, "TWILIO_AUTH_TOKEN": TOKEN, **generate_keys(),
    })
    service = Service.from_settings(settings)
    secrets = {}
    for email in (ANA, BEN):
        uri = service.accounts.add(email, "admin", PASSWORD, service.clock())
        secrets[email] = parse_qs(urlparse(uri).query)["secret"][0]
    with serving(create_app(service, settings, background=False), port) as url, httpx.Client(base_url=url, timeout=20) as client:
        yield url, client, secrets, service


SIDS = count(1)


def sms(client: httpx.Client, url: str, address: str, text: str) -> str:
    sid = f"SM{next(SIDS):032x}"
    fields = {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": "AC" + "1" * 32, "From": address, "To": "+14155550100",
              "Body": text, "NumMedia": "0", "ApiVersion": "2010-04-01"}
    signature = RequestValidator(TOKEN).compute_signature(f"{url}/webhooks/twilio/sms", fields)
    response = client.post("/webhooks/twilio/sms", data=fields, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    return "\n".join(m.text or "" for m in ET.fromstring(response.text).iter("Message"))


def open_studio(browser, url: str, email: str, secret: str):
    context = browser.new_context()
    page = context.new_page()
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    log_in(page, url, secret, email)  # the advocates' console's login: the studio shares its session
    page.goto(f"{url}/console/studio#files")
    page.wait_for_selector("#file-text")
    page.violations = violations
    return page


def edit_file(page, path: str, old: str, new: str) -> None:
    page.select_option("#file-picker", path)
    text = page.input_value("#file-text")
    assert old in text
    page.fill("#file-text", text.replace(old, new, 1))


def test_edit_save_publish_reaches_the_sms_webhook_then_a_conflict_and_a_rollback(studio_site):
    url, client, secrets, service = studio_site
    assert sms(client, url, "+15550300001", "hi").startswith(OLD)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            ana = open_studio(browser, url, ANA, secrets[ANA])
            ben = open_studio(browser, url, BEN, secrets[BEN])  # both start from revision 1
            assert "Editing revision 1 (published)" in ana.text_content("#draft-state")

            # Ana: a warmer greeting, saved as a draft, then published
            edit_file(ana, "locales/en.yaml", OLD, NEW)
            expect(ana.locator("#draft-save")).to_be_enabled()
            assert "Unsaved changes in locales/en.yaml" in ana.text_content("#draft-state")
            ana.fill("#draft-message", "Warmer greeting")
            ana.click("#draft-save")
            expect(ana.locator("#draft-state")).to_contain_text("Saved as revision 2")
            assert sms(client, url, "+15550300002", "hi").startswith(OLD)  # a draft reaches nobody
            ana.click("#draft-publish")
            expect(ana.locator("#draft-state")).to_contain_text("Revision 2 is published")
            assert sms(client, url, "+15550300003", "hi").startswith(NEW)  # at once, no restart

            # Ben edited the same file from revision 1: told who changed what, his text kept
            edit_file(ben, "locales/en.yaml", OLD, BENS)
            ben.fill("#draft-message", "Friendlier")
            ben.click("#draft-save")
            ben.wait_for_selector("#conflict:not([hidden])")
            told = ben.text_content("#conflict")
            assert "locales/en.yaml" in told and ANA in told and "Warmer greeting" in told
            assert BENS in ben.input_value("#file-text")  # nothing lost
            ben.click("#conflict-overwrite")
            expect(ben.locator("#draft-state")).to_contain_text("Saved as revision 3")
            assert sms(client, url, "+15550300004", "hi").startswith(NEW)  # saved, not published

            # A publish with an error is refused, with the problem in the page
            ben.click("#tab-files")
            edit_file(ben, "flows/main.yaml", "menu: main_menu", "menu: no_such_step")
            ben.wait_for_selector("#problems:not([hidden])")
            expect(ben.locator("#problems-list")).to_contain_text("no step named 'no_such_step'", timeout=20000)
            ben.click("#draft-save")
            expect(ben.locator("#draft-state")).to_contain_text("Saved as revision 4")
            ben.click("#draft-publish")
            expect(ben.locator("#draft-state")).to_contain_text("Not published")
            assert "flows/main.yaml: menu: no step named 'no_such_step'" in ben.text_content("#problems-list")
            assert service.content.revision == 2

            # Ana rolls back to revision 1 from the history: the old greeting again, at once
            ana.click("#tab-history")
            ana.wait_for_selector("text=Warmer greeting")
            ana.click("tr:has(td:text-is('1')) >> text=Roll back to this")
            expect(ana.locator("#draft-state")).to_contain_text("live again")
            assert sms(client, url, "+15550300005", "hi").startswith(OLD)
            # and the history compares two revisions per text and language
            ana.click("#tab-history")
            ana.check("[aria-label='Compare revision 1']")
            ana.check("[aria-label='Compare revision 2']")
            ana.wait_for_selector("#diff-view td.diff-after")
            assert NEW in ana.text_content("#diff-view") and "welcome.greeting" in ana.text_content("#diff-view")
            assert ana.violations == [] and ben.violations == []
        finally:
            browser.close()

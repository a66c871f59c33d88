"""The studio's "Try it" tab in a real browser (Debian's chromium through Playwright): an admin
tries the working copy in Spanish as SMS, then as Telegram, pressing a button."""

from __future__ import annotations

import pyotp
import pytest
from playwright import sync_api as playwright_api

from fake_bot_api import fake_bot_api  # noqa: F401  (the fixture)
from tests.test_console_browser import CHROMIUM, PASSWORD, _serve

# The page is the same on either database (the API and the store are tested on both): one run.
pytestmark = pytest.mark.sqlite_only

ADMIN = "root@example.org"


@pytest.fixture
def studio_site(tmp_path, database_url, fake_bot_api):  # noqa: F811
    for url, _client, _fake, _secret, service in _serve(tmp_path, database_url, fake_bot_api):
        uri = service.accounts.add(ADMIN, "admin", PASSWORD, service.clock())
        yield url, uri.split("secret=")[1].split("&")[0], service


def test_an_admin_tries_the_draft_as_sms_then_telegram(studio_site):
    url, secret, service = studio_site
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{url}/console")
            page.fill("#login-email", ADMIN)
            page.fill("#login-password", PASSWORD)
            page.fill("#login-otp", pyotp.TOTP(secret).now())
            with page.expect_response(lambda r: r.url.endswith("/api/auth/login")) as login:
                page.press("#login-otp", "Enter")
            assert login.value.status == 200
            page.goto(f"{url}/console/studio#try")
            page.click("#tab-try")
            page.select_option("#try-language", "es")
            page.select_option("#try-channel", "sms")
            page.fill("#try-input", "hola")
            page.press("#try-input", "Enter")
            page.wait_for_selector("#try-transcript .bubble.bot", timeout=60000)
            assert "Elige un idioma" in page.inner_text("#try-transcript .bubble.bot .bubble-text")
            assert "2 Español" in page.inner_text("#try-transcript .bubble.bot .bubble-text")  # numbered, as SMS shows it
            assert "SMS segment" in page.inner_text("#try-transcript .bubble-cost")
            assert "Step: welcome" in page.inner_text("#try-transcript .meta")
            assert page.get_attribute("#try-transcript", "aria-live") == "polite"

            page.select_option("#try-channel", "telegram")
            page.wait_for_selector("#try-transcript .tg-button", timeout=60000)
            page.click("#try-transcript .tg-button:has-text('2 Español')")
            page.wait_for_selector("#try-transcript .meta:has-text('Step: safe_check')", timeout=60000)
            assert "Understood as: choice 2" in page.inner_text("#try-transcript .meta >> nth=1")
            assert page.evaluate("localStorage.length + sessionStorage.length") == 0
            page.click("#try-restart")
            assert page.locator("#try-transcript li").count() == 0
            assert errors == []
        finally:
            browser.close()

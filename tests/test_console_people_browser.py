"""The People screen in a real browser (Debian's chromium through Playwright, as
``test_console_browser``): an admin adds a translator and is shown the one-time password and
secret, which work, and are gone from the page once dismissed; disables an advocate; a translator
logging in sees nothing of the desk, an advocate no People screen."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest
from fake_bot_api import fake_bot_api  # noqa: F401  (the fixture)

from tests.test_console_browser import CHROMIUM, EMAIL, PASSWORD, _serve, launch, log_in, playwright_api  # noqa: F401

# The page is the same on either database (the API and the store are tested on both): one run.
pytestmark = pytest.mark.sqlite_only

ROOT = "root@example.org"
EVA = "eva@example.org"


@pytest.fixture
def admin_site(tmp_path, database_url, fake_bot_api):  # noqa: F811
    """The console with Ana (an advocate) and an admin: (url, client, service, the admin's TOTP secret)."""
    for url, client, _fake, _secret, service in _serve(tmp_path, database_url, fake_bot_api):
        uri = service.accounts.add(ROOT, "admin", PASSWORD, service.clock())
        yield url, client, service, parse_qs(urlparse(uri).query)["secret"][0], _secret


def test_an_admin_adds_a_translator_and_sees_the_one_time_secret(admin_site):
    url, client, service, root_secret, _ana_secret = admin_site
    with playwright_api.sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            # (A 401 is expected: the page asks who is logged in before anyone is.)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 401" not in m.text else None)
            log_in(page, url, root_secret, email=ROOT)
            page.click("#people-btn")
            page.wait_for_selector("#people-title:focus")
            assert not page.is_visible("#desk")
            page.wait_for_selector(f"#people-rows th:has-text('{EMAIL}')")
            assert page.is_disabled(f"#people-rows button[aria-label='Disable: {ROOT}']")  # not on your own account

            assert not page.is_visible("#people-languages")  # only a translator has languages
            page.fill("#people-email", EVA)
            page.select_option("#people-role", "translator")
            page.fill("#people-languages", "es, fr")
            page.click("#people-add button[type=submit]")
            page.wait_for_selector("#people-secret-title:focus")
            assert "Shown this once" in page.inner_text("#people-secret")
            password, secret = page.inner_text("#people-secret-password"), page.inner_text("#people-secret-key")
            assert len(password) >= 20 and len(secret) >= 16
            assert page.inner_text("#people-secret-uri").startswith("otpauth://totp/")
            row = page.locator("#people-rows tr", has_text=EVA)
            assert "Translator" in row.inner_text() and "es, fr" in row.inner_text()

            # What was shown is what lets Eva in, as a translator of her languages.
            with httpx.Client(base_url=url) as eva:
                logged = eva.post("/api/auth/login", json={"email": EVA, "password": password, "otp": pyotp.TOTP(secret).now()})
                assert logged.status_code == 200
                cookie = logged.headers["set-cookie"].split(";")[0]
                me = eva.get("/api/me", headers={"Cookie": cookie}).json()
            assert (me["role"], me["languages"]) == ("translator", ["es", "fr"])

            page.click("#people-secret-done")
            page.wait_for_selector("#people-email:focus")
            html = page.content()
            assert password not in html and secret not in html

            page.once("dialog", lambda dialog: dialog.accept())
            page.click(f"#people-rows button[aria-label='Disable: {EMAIL}']")
            page.wait_for_selector(f"#people-rows button[aria-label='Enable: {EMAIL}']:focus")
            assert "Disabled" in page.locator("#people-rows tr", has_text=EMAIL).inner_text()
            assert service.accounts.find(EMAIL).disabled

            page.click("#people-btn")  # back to the desk
            page.wait_for_selector("#desk:not([hidden])")
            page.click("#logout-btn")
            page.wait_for_selector("#login-view:not([hidden])")
            assert page.evaluate("document.querySelectorAll('#people, #people-btn').length") == 0
            assert errors == []
        finally:
            browser.close()


def test_a_translator_sees_no_desk_and_an_advocate_no_people_screen(admin_site):
    url, client, service, _root_secret, ana_secret = admin_site
    uri = service.accounts.add(EVA, "translator", PASSWORD, service.clock(), ("es",))
    eva_secret = parse_qs(urlparse(uri).query)["secret"][0]
    with playwright_api.sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            page.goto(f"{url}/console")
            page.fill("#login-email", EVA)
            page.fill("#login-password", PASSWORD)
            page.fill("#login-otp", pyotp.TOTP(eva_secret).now())
            page.press("#login-otp", "Enter")
            page.wait_for_selector("#no-desk:not([hidden])")
            assert page.inner_text("#who-email") == f"{EVA} (translator)"
            assert page.evaluate("document.querySelectorAll('#desk, #people, #people-btn').length") == 0
            page.click("#logout-btn")
            page.wait_for_selector("#login-view:not([hidden])")
            assert not page.is_visible("#no-desk")
            log_in(page, url, ana_secret, go=False)
            assert page.evaluate("document.querySelectorAll('#people, #people-btn').length") == 0
        finally:
            browser.close()

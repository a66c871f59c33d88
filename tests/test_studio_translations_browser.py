"""The studio's Translations screen in a real browser (Debian's chromium through Playwright): an
admin edits a Spanish text so that its first line says "refugio" and it runs past one SMS, sees
the segment count and the lock-screen warning naming the word as they type, fixes it, puts it
in the draft and saves the draft; the saved revision holds the new text and its review entry."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from fake_bot_api import fake_bot_api  # noqa: F401  (the fixture)

from tests.test_console_browser import PASSWORD, _serve, launch, log_in, playwright_api

# The page is the same on either database (the API and the store are tested on both): one run.
pytestmark = pytest.mark.sqlite_only

ADMIN = "root@example.org"
TAIL = " Escribe cuando quieras, de dia o de noche, y te contamos las opciones que hay cerca."
REVEALING = "Busca un refugio cerca de ti." + TAIL * 2
NEUTRAL = "Aqui tienes algunas opciones." + TAIL * 2


@pytest.fixture
def studio_site(tmp_path, database_url, fake_bot_api):  # noqa: F811
    for url, _client, _fake, _secret, service in _serve(tmp_path, database_url, fake_bot_api):
        uri = service.accounts.add(ADMIN, "admin", PASSWORD, service.clock())
        yield url, service, parse_qs(urlparse(uri).query)["secret"][0]


def test_an_admin_fixes_a_revealing_spanish_text_and_saves_it_with_its_review(studio_site):
    url, service, secret = studio_site
    with playwright_api.sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page()
        log_in(page, url, secret, email=ADMIN)
        page.goto(f"{url}/console/studio#translations")
        box = page.locator('textarea[data-key="menu.intro"]')
        box.wait_for()
        assert "es:" in page.locator("#tr-progress").inner_text()
        live = page.locator("#tr-text-menu_intro-live")

        box.fill(REVEALING)
        warning = live.locator(".tr-revealing")
        warning.wait_for()
        assert "refugio" in warning.inner_text()
        assert "2 segments" in live.inner_text()
        assert "refugio" in live.locator("mark").first.inner_text()

        box.fill(NEUTRAL)
        page.wait_for_function(
            "() => { const n = document.getElementById('tr-text-menu_intro-live');"
            " return n && n.textContent.includes('A lock screen shows') && !n.querySelector('.tr-revealing'); }"
        )
        assert "2 segments" in live.inner_text()

        page.locator("#tr-text-menu_intro").get_by_role("button", name="Save translation").click()
        page.wait_for_function("() => document.getElementById('draft-state').textContent.includes('Unsaved changes in locales/es.yaml')")
        page.wait_for_function("() => document.getElementById('tr-notice').textContent.includes('saved in your draft')")
        page.fill("#draft-message", "Spanish menu intro")
        page.click("#draft-save")
        page.wait_for_function("() => document.getElementById('draft-state').textContent.includes('Saved as revision')")
        browser.close()

    revision = service.studio.revisions.get(service.studio.revisions.head_number())
    assert revision.summary()["author"] == ADMIN
    spanish = yaml.safe_load(revision.bundle.files["locales/es.yaml"])
    assert spanish["text"]["menu.intro"] == NEUTRAL
    review = spanish["review"]["text"]["menu.intro"]
    assert review["state"] == "translated" and review["by"] == ADMIN and len(review["source"]) == 12
    assert "# safeharbor" in revision.bundle.files["locales/es.yaml"]  # the file's comments are kept

"""The console in a real browser: Debian's chromium driven by Playwright (no browser download).

An advocate logs in with a TOTP code, a chat escalated through the Telegram webhook appears in
the open console without a reload (timed), they claim it, answer, the answer reaches the fake Bot
API, the person's next message appears, they release it, and the bot answers the person again.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest
from fake_bot_api import fake_bot_api  # noqa: F401  (the fixture)

from bot.config import Settings, generate_keys
from bot.service import Service
from bot.web import create_app
from tests.conftest import REPO
from tests.serving import free_port, serving

CHROMIUM = os.environ.get("SAFEHARBOR_CHROMIUM", "/usr/bin/chromium")
SECRET = "browser-test-secret_1"
CHAT_ID = 630517284
EMAIL, PASSWORD = "ana@example.org", "a long enough passphrase"
APPEARS_WITHIN_MS = 1000  # issue 4: an escalated chat shows in an open console in under a second
RESULTS = REPO / "bench" / "results"

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is part of the test extras")

if not Path(CHROMIUM).exists():  # .ci/run installs Debian's chromium; a laptop may not have it
    pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


class Person:
    """Someone writing to the bot on Telegram, through the real webhook."""

    def __init__(self, client: httpx.Client):
        self.client, self.update_id, self.message_id = client, 770000000, 20

    def say(self, text: str) -> float:
        self.update_id += 1
        self.message_id += 1
        user = {"id": CHAT_ID, "is_bot": False, "first_name": "R", "language_code": "en"}
        update = {"update_id": self.update_id, "message": {
            "message_id": self.message_id, "from": user, "chat": {"id": CHAT_ID, "type": "private", "first_name": "R"},
            "date": int(time.time()), "text": text,
        }}
        response = self.client.post("/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert response.status_code == 200
        return time.monotonic()


def sent_texts(fake) -> list[str]:
    return [call["text"] for call in fake.calls_to("sendMessage") if call["chat_id"] == CHAT_ID]


def wait_until(check, timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def site(tmp_path, database_url, fake_bot_api):  # noqa: F811
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings.from_env({
        "SAFEHARBOR_ENV": "test", "SAFEHARBOR_HOME": str(tmp_path), "SAFEHARBOR_CONTENT_DIR": str(REPO),
        "DATABASE_URL": database_url, "SAFEHARBOR_PUBLIC_URL": base,
        "TELEGRAM_BOT_TOKEN": fake_bot_api.token, "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_BASE_URL": fake_bot_api.url, **generate_keys(),
    })
    service = Service.from_settings(settings)
    uri = service.accounts.add(EMAIL, "advocate", PASSWORD, service.clock())
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    with serving(create_app(service, settings, background=True), port) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield url, client, fake_bot_api, secret


def test_an_advocate_takes_a_chat_from_the_telegram_webhook_and_hands_it_back(site):
    url, client, fake, secret = site
    person = Person(client)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            errors: list[str] = []  # script errors, and refused requests but the "am I logged in?" probe
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and not r.url.endswith("/api/me") else None)

            # Log in with the password and the current code of the authenticator app.
            page.goto(f"{url}/console")
            page.fill("#login-email", EMAIL)
            page.fill("#login-password", PASSWORD)
            page.fill("#login-otp", pyotp.TOTP(secret).now())
            page.press("#login-otp", "Enter")
            page.wait_for_selector("#desk:not([hidden])")
            page.wait_for_selector("#waiting-count:text('0')")
            time.sleep(0.5)  # the live stream is open and has seen the empty queue

            # The person asks for someone through the Telegram webhook; the page is not reloaded.
            person.say("hi")
            person.say("advocate")
            asked = person.say("yes")
            page.wait_for_selector("#waiting-list li button", timeout=5000)
            appeared_ms = (time.monotonic() - asked) * 1000
            label = page.inner_text("#waiting-list li button span")
            assert page.inner_text("#waiting-count") == "1"

            # Claim it: the person is told someone is here.
            page.click("#waiting-list li button")
            page.click("#claim-btn")
            page.wait_for_selector("#send-btn:not([disabled])")
            wait_until(lambda: any(t.startswith("Hi again.") for t in sent_texts(fake)), what="the joined message")

            # Answer, with the SMS-free Telegram counter and a canned reply in the person's language.
            page.click("#canned button:has-text('Are you safe to talk now?')")
            assert page.input_value("#reply-text") == "Quick check: is this a good time to chat? You can answer yes or no."
            page.fill("#reply-text", "I'm here with you. Are you safe to talk now?")
            page.click("#send-btn")
            wait_until(lambda: "I'm here with you. Are you safe to talk now?" in sent_texts(fake), what="the answer at the Bot API")
            assert fake.violations == []

            # The person's next message appears in the open chat, and the bot stays silent.
            before = len(sent_texts(fake))
            person.say("yes, he is out until tonight")
            page.wait_for_selector("#transcript li.person:has-text('yes, he is out until tonight')", timeout=5000)
            time.sleep(0.3)
            assert len(sent_texts(fake)) == before

            # Release: the bot says it is back with the menu, and answers the person again.
            page.click("#release-btn")
            wait_until(lambda: any(t.startswith("Thank you for writing. You are back") for t in sent_texts(fake)), what="the back message")
            answered = len(sent_texts(fake))
            person.say("1")
            wait_until(lambda: len(sent_texts(fake)) > answered, what="the bot's answer after release")
            page.wait_for_selector("#chat-meta:has-text('Status: released')", timeout=5000)
            assert errors == [], errors
        finally:
            browser.close()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "console_appearance.json").write_text(json.dumps({"label_seen": bool(label), "appeared_ms": appeared_ms}))
    print(f"\nan escalated chat appeared in the open console {appeared_ms:.0f} ms after the webhook answered")
    assert appeared_ms < APPEARS_WITHIN_MS, f"{appeared_ms:.0f} ms"



def test_on_a_tablet_the_console_works_from_the_keyboard(site):
    url, client, fake, secret = site
    person = Person(client)
    for text in ("hi", "advocate", "yes"):
        person.say(text)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 768, "height": 1024}, has_touch=True)
            page.goto(f"{url}/console")
            page.focus("#login-email")
            page.keyboard.type(EMAIL)
            page.keyboard.press("Tab")
            page.keyboard.type(PASSWORD)
            page.keyboard.press("Tab")
            page.keyboard.type(pyotp.TOTP(secret).now())
            page.keyboard.press("Enter")
            page.wait_for_selector("#waiting-list li button")
            # One column on a tablet: the queue above the chat, nothing cut off sideways.
            assert page.evaluate("document.documentElement.scrollWidth") <= 768
            queue, chat = page.locator("#queues").bounding_box(), page.locator("#chat").bounding_box()
            assert queue["y"] + queue["height"] <= chat["y"] + 1
            # Keyboard only: focus the waiting chat, open it, claim it, answer with Ctrl+Enter.
            page.focus("#waiting-list li button")
            page.keyboard.press("Enter")
            page.wait_for_selector("#claim-btn:focus")
            page.keyboard.press("Enter")
            page.wait_for_selector("#send-btn:not([disabled])")
            page.focus("#reply-text")
            page.keyboard.type("Hello, I'm here.")
            page.keyboard.press("Control+Enter")
            wait_until(lambda: "Hello, I'm here." in sent_texts(fake), what="the answer sent from the keyboard")
        finally:
            browser.close()

"""The console in a real browser: Debian's chromium driven by Playwright (no browser download).

An advocate logs in with a TOTP code, a chat escalated through the Telegram webhook appears in
the open console without a reload (timed), they claim it, answer, the answer reaches the fake Bot
API, the person's next message appears, they release it (nothing is sent), and the person's next
message gets the bot's note and menu.
"""

from __future__ import annotations

import asyncio
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
BEN = "ben@example.org"
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


class CacheablePage:
    """Serves ``/console`` without ``Cache-Control: no-store``, as a stand-in for a browser that
    keeps no-store pages in its back/forward cache anyway (Chrome does so on HTTPS, unless a
    cookie changed, which an idle timeout does not): the page itself must not leave a chat there."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/console":
            await self.app(scope, receive, send)
            return

        async def without_no_store(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [(n, v) for n, v in message["headers"] if n.lower() != b"cache-control"]}
            await send(message)

        await self.app(scope, receive, without_no_store)


class SlowTranscripts:
    """Holds back each answer to ``GET .../messages`` for ``seconds`` after the app made it (with
    the session still live), so that it reaches the page after a logout."""

    def __init__(self):
        self.app, self.seconds = None, 0.0

    def wrapping(self, app):
        self.app = app
        return self

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].endswith("/messages") or scope["method"] != "GET" or not self.seconds:
            await self.app(scope, receive, send)
            return
        held: list[dict] = []

        async def hold(message):
            held.append(message)

        await self.app(scope, receive, hold)
        await asyncio.sleep(self.seconds)
        for message in held:
            await send(message)


def _serve(tmp_path, database_url, fake_bot_api, wrap=lambda app: app):  # noqa: F811
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
    with serving(wrap(create_app(service, settings, background=True)), port) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield url, client, fake_bot_api, secret, service


@pytest.fixture
def site(tmp_path, database_url, fake_bot_api):  # noqa: F811
    for url, client, fake, secret, _service in _serve(tmp_path, database_url, fake_bot_api):
        yield url, client, fake, secret


@pytest.fixture
def site_with_slow_transcripts(tmp_path, database_url, fake_bot_api):  # noqa: F811
    """Also a second advocate, Ben, who sits down at the desk after Ana: (..., slow, ben's TOTP secret)."""
    slow = SlowTranscripts()
    for url, client, fake, secret, service in _serve(tmp_path, database_url, fake_bot_api, slow.wrapping):
        uri = service.accounts.add(BEN, "advocate", PASSWORD, service.clock())
        yield url, client, fake, secret, slow, parse_qs(urlparse(uri).query)["secret"][0]


@pytest.fixture
def site_with_a_cacheable_page(tmp_path, database_url, fake_bot_api):  # noqa: F811
    for url, client, fake, secret, _service in _serve(tmp_path, database_url, fake_bot_api, CacheablePage):
        yield url, client, fake, secret


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
            asked = person.say("2")  # "You may write to me here"
            page.wait_for_selector("#waiting-list li button", timeout=5000)
            appeared_ms = (time.monotonic() - asked) * 1000
            label = page.inner_text("#waiting-list li button span")
            assert page.inner_text("#waiting-count") == "1"

            # Claim it: the person is told someone is here.
            page.click("#waiting-list li button")
            page.click("#claim-btn")
            page.wait_for_selector("#send-btn:not([disabled])")
            wait_until(lambda: any(t.startswith("Hi. Someone from our team is here now") for t in sent_texts(fake)), what="the joined message")
            page.wait_for_selector("#chat-meta:has-text('replies are sent as you write them')")  # the person's choice

            # Answer, with the SMS-free Telegram counter and a canned reply in the person's language.
            page.click("#canned button:has-text('Is this a good time to chat?')")
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

            # Release: nothing is sent then; the person's next message gets the note and the menu.
            answered = len(sent_texts(fake))
            page.click("#release-btn")
            page.wait_for_selector("#chat-meta:has-text('Status: released')", timeout=5000)
            time.sleep(0.3)
            assert len(sent_texts(fake)) == answered
            person.say("ok")
            wait_until(lambda: any(t.startswith("Thank you for writing. You are back") for t in sent_texts(fake)), what="the back note")
            wait_until(lambda: any(t.startswith("Here are some options.") for t in sent_texts(fake)[answered:]), what="the menu")
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
    for text in ("hi", "advocate", "2"):
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


# -- what the next person at the desk can see (issue 12) -----------------------------------------
# Words of a conversation that must not outlive the advocate's session in the page: a line the
# person wrote, an internal note, and a reply the advocate had started typing.
PERSON_CANARY = "canary-3141 the blue door behind the laundromat"
NOTE_CANARY = "note-canary-2718 call back after 6"
DRAFT_CANARY = "draft-canary-1618 not sent yet"
NEUTRAL_TITLE = "safeharbor console"
# Every element marked hidden is really not displayed: no stylesheet rule wins over the attribute.
HIDDEN_IS_HIDDEN = "[...document.querySelectorAll('[hidden]')].filter(e => getComputedStyle(e).display !== 'none').map(e => e.id || e.tagName)"
# Remembers, across a back/forward navigation, whether the page came back from the bfcache.
# (An init script runs before the page's own script, so this listener sees the page as restored.)
RECORD_RESTORES = """window.addEventListener('pageshow', e => {
  if (!e.persisted) return;
  sessionStorage.setItem('restored', '1');
  sessionStorage.setItem('restored_text', document.body.innerText);
  sessionStorage.setItem('restored_dom', document.documentElement.outerHTML);
});"""


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])


def log_in(page, url: str, secret: str, email: str = EMAIL, go: bool = True) -> None:
    if go:
        page.goto(f"{url}/console")
    page.fill("#login-email", email)
    page.fill("#login-password", PASSWORD)
    page.fill("#login-otp", pyotp.TOTP(secret).now())
    page.press("#login-otp", "Enter")
    page.wait_for_selector("#desk")


def take_a_chat(page, person: Person) -> str:
    """The person asks for someone; the advocate claims the chat, reads the person's next line
    (the canary), writes a note and starts a reply. Returns the chat's label."""
    for text in ("hi", "advocate", "yes"):
        person.say(text)
    page.wait_for_selector("#waiting-list li button", timeout=5000)
    label = page.inner_text("#waiting-list li button span")
    page.click("#waiting-list li button")
    page.click("#claim-btn")
    page.wait_for_selector("#send-btn:not([disabled])")
    person.say(PERSON_CANARY)
    page.wait_for_selector(f"#transcript li.person:has-text('{PERSON_CANARY}')", timeout=5000)
    page.fill("#note-text", NOTE_CANARY)
    page.click("#note-form button[type=submit]")
    page.wait_for_selector(f"#transcript li.note:has-text('{NOTE_CANARY}')", timeout=5000)
    page.fill("#reply-text", DRAFT_CANARY)
    assert label in page.inner_text("#mine-list")
    return label


def assert_nothing_of_the_chat(page, label: str) -> None:
    """Neither the visible text, nor the DOM, nor the script's state hold the conversation."""
    shown = page.evaluate("document.body.innerText")
    dom = page.evaluate("document.documentElement.outerHTML")
    for secret_text in (PERSON_CANARY, NOTE_CANARY, DRAFT_CANARY, label, EMAIL):
        assert secret_text not in shown, f"{secret_text!r} is still shown"
        assert secret_text not in dom, f"{secret_text!r} is still in the DOM"
    # No queue entry, transcript line or form field of the desk, wherever it might sit.
    assert page.evaluate("document.querySelectorAll('.queue li, #transcript li, #desk').length") == 0
    values = page.evaluate("[...document.querySelectorAll('input, textarea, select')].map(e => e.value).join('|')")
    assert PERSON_CANARY not in values and DRAFT_CANARY not in values and EMAIL not in values, values
    assert page.evaluate("typeof session === 'undefined' ? null : session") is None
    assert page.title() == NEUTRAL_TITLE
    assert page.evaluate(HIDDEN_IS_HIDDEN) == []


def test_after_logging_out_nothing_of_the_chat_is_left_in_the_page(site):
    url, client, fake, secret = site
    person = Person(client)
    with playwright_api.sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            page.clock.install()  # time runs as usual, and the test can move it on
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            # A page of the same site before the console, so "back" stays in one renderer: going
            # back to about:blank swaps the renderer process and Playwright can lose the page.
            page.goto(f"{url}/healthz")
            log_in(page, url, secret)
            assert page.evaluate(HIDDEN_IS_HIDDEN) == []  # the closed chat view, logged in
            label = take_a_chat(page, person)
            assert page.evaluate(HIDDEN_IS_HIDDEN) == []

            cookie = {c["name"]: c["value"] for c in page.context.cookies()}
            calls: list[str] = []
            page.on("request", lambda r: calls.append(f"{r.method} {urlparse(r.url).path}") if "/api/" in r.url else None)
            page.click("#logout-btn")
            page.wait_for_selector("#login-view:not([hidden])")
            assert page.is_visible("#login-email") and not page.is_visible("#logout-btn")
            assert_nothing_of_the_chat(page, label)

            # Nothing keeps asking: no live stream, no refresh. (An open stream would be ended by
            # the server within 2 s and reconnect a second later; the session is gone on the
            # server too, so the cookie is refused.)
            page.wait_for_timeout(4000)  # (time.sleep would also hold back Playwright's events)
            after_logout = calls[calls.index("POST /api/auth/logout") + 1:]  # a refresh may have been under way
            assert after_logout == [], calls
            with httpx.Client(base_url=url, cookies=cookie) as old_cookie:
                assert old_cookie.get("/api/me").status_code == 401  # ended on the server, not only in the page
            person.say("are you still there?")  # a change the desk would have fetched
            page.clock.run_for("02:00")  # past the desk's minute refresh of waiting times
            page.wait_for_timeout(1000)
            assert calls[calls.index("POST /api/auth/logout") + 1:] == [], calls
            assert_nothing_of_the_chat(page, label)

            # Back (to the page before the console) and forward again: still nothing.
            page.go_back(wait_until="commit")
            assert page.url.endswith("/healthz"), page.url
            # Forward from the page itself: Page.go_forward reads the history over the protocol
            # and, on a loaded machine, lost the page ("Not attached to an active page") in two
            # full runs out of three; the navigation is the same either way.
            page.evaluate("setTimeout(() => history.forward(), 0)")
            page.wait_for_url(f"{url}/console")
            page.wait_for_selector("#login-view:not([hidden])")
            assert_nothing_of_the_chat(page, label)
            assert errors == [], errors
        finally:
            browser.close()


def test_back_to_a_console_left_logged_in_shows_nothing_once_the_session_ended(site_with_a_cacheable_page):
    """The advocate goes to another page in the same tab and the session ends on the server (an
    idle timeout: the browser's cookie does not change). "Back" restores the console from the
    back/forward cache: what it restores holds nothing of the chat, and the page then shows the
    login form."""
    url, client, fake, secret = site_with_a_cacheable_page
    person = Person(client)
    with playwright_api.sync_playwright() as playwright:
        # Playwright turns the back/forward cache off by default; this test needs it on.
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"], ignore_default_args=["--disable-back-forward-cache"],
        )
        try:
            page = browser.new_page()
            page.add_init_script(RECORD_RESTORES)
            log_in(page, url, secret)
            label = take_a_chat(page, person)
            cookie = {c["name"]: c["value"] for c in page.context.cookies()}
            page.goto(f"{url}/healthz")
            with httpx.Client(base_url=url, cookies=cookie) as same_session:  # ends it; the browser's cookie stays
                csrf = same_session.get("/api/me").json()["csrf_token"]
                assert same_session.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
            page.go_back(wait_until="commit")  # a page from the bfcache fires no load event
            page.wait_for_selector("#login-view:not([hidden])")
            assert page.url.endswith("/console")
            assert page.evaluate("sessionStorage.getItem('restored')") == "1", "not restored from the bfcache: the test did not test it"
            # What the page held the moment it came back, before its script asked the server anything.
            at_restore = page.evaluate("sessionStorage.getItem('restored_text') + sessionStorage.getItem('restored_dom')")
            for secret_text in (PERSON_CANARY, NOTE_CANARY, DRAFT_CANARY, label):
                assert secret_text not in at_restore, f"{secret_text!r} came back from the bfcache"
            assert_nothing_of_the_chat(page, label)
        finally:
            browser.close()


def test_a_session_that_ends_on_the_server_clears_the_open_chat(site):
    """Logged out from another tab (or timed out): the open console notices by itself (its live
    stream is refused) and keeps nothing, with a word saying why."""
    url, client, fake, secret = site
    person = Person(client)
    with playwright_api.sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context()
            page = context.new_page()
            log_in(page, url, secret)
            label = take_a_chat(page, person)
            other_tab = context.new_page()
            csrf = other_tab.request.get(f"{url}/api/me").json()["csrf_token"]
            assert other_tab.request.post(f"{url}/api/auth/logout", headers={"X-CSRF-Token": csrf}).status == 204
            ended = time.monotonic()
            other_tab.close()
            page.wait_for_selector("#login-view:not([hidden])", timeout=10000)
            print(f"\nthe open console cleared itself {time.monotonic() - ended:.1f} s after a logout in another tab")
            assert "Your session ended" in page.inner_text("#login-error")
            assert_nothing_of_the_chat(page, label)
        finally:
            browser.close()


def test_an_answer_that_arrives_after_the_logout_goes_nowhere(site_with_slow_transcripts):
    """A refresh is under way when Ana logs out; Ben logs in at the same desk; then Ana's
    transcript arrives. It must go nowhere: not into Ben's desk, not into the script's memory."""
    url, client, fake, secret, slow, ben_secret = site_with_slow_transcripts
    person = Person(client)
    late_line = "late-canary-5772 he took my passport"
    with playwright_api.sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            log_in(page, url, secret)
            label = take_a_chat(page, person)
            slow.seconds = 2.0
            with page.expect_request(lambda r: r.url.endswith("/messages") and r.method == "GET"):
                person.say(late_line)  # the live stream tells the page, which asks for the transcript
            page.click("#logout-btn")
            page.wait_for_selector("#login-view:not([hidden])")
            log_in(page, url, ben_secret, BEN, go=False)
            page.wait_for_selector("#who-email:has-text('ben@example.org')")
            page.wait_for_timeout(2500)  # Ana's held answer has come (or her aborted fetch refused it)
            assert late_line not in page.evaluate("document.documentElement.outerHTML")
            assert PERSON_CANARY not in page.evaluate("document.documentElement.outerHTML")
            assert page.evaluate("document.querySelectorAll('#transcript li').length") == 0
            assert page.is_visible("#chat-empty") and not page.is_visible("#chat-view")
            assert page.evaluate("session.current") is None and page.evaluate("session.me.email") == BEN
            assert label in page.inner_text("#open-list")  # Ben sees the queue entry, as any advocate does
            page.click("#logout-btn")
            page.wait_for_selector("#login-view:not([hidden])")
            assert_nothing_of_the_chat(page, label)
            assert BEN not in page.evaluate("document.documentElement.outerHTML")
            assert errors == [], errors
        finally:
            browser.close()


def test_a_logout_the_server_never_hears_of_still_clears_the_page_and_says_so(site):
    url, client, fake, secret = site
    person = Person(client)
    with playwright_api.sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            log_in(page, url, secret)
            label = take_a_chat(page, person)
            page.route("**/api/auth/logout", lambda route: route.abort("internetdisconnected"))
            page.click("#logout-btn")
            page.wait_for_selector("#login-error:has-text('may still be logged in')")
            assert_nothing_of_the_chat(page, label)
        finally:
            browser.close()


def test_before_logging_in_the_desk_is_not_shown(site):
    url, client, fake, secret = site
    for text in ("hi", "advocate", "yes"):  # someone is waiting: the queue must still not show
        Person(client).say(text)
    with playwright_api.sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            page.goto(f"{url}/console")
            page.wait_for_selector("#login-view:not([hidden])")
            shown = page.evaluate("document.body.innerText")
            for desk_text in ("Choose a conversation", "Waiting", "Mine", "All open", "Log out", "Reply to the person"):
                assert desk_text not in shown, desk_text
            assert page.evaluate("document.querySelectorAll('#desk, .queue, #transcript').length") == 0
            assert not page.is_visible("#who")
            assert page.evaluate(HIDDEN_IS_HIDDEN) == []
            assert page.title() == NEUTRAL_TITLE
        finally:
            browser.close()

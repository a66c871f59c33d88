"""The console's JSON API over real HTTP: login with TOTP, sessions, CSRF, and who may call what.

The access matrix walks every route of the OpenAPI description as anonymous, the advocate
holding the conversation, another advocate, a translator and an admin, each on a fresh
conversation (and a fresh account for the routes that act on one), so a route added without a
row here fails the test."""

from __future__ import annotations

import logging
import re
import time
from contextlib import ExitStack, contextmanager
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest
from sqlalchemy import create_engine

from bot.config import Settings, generate_keys
from bot.domain import Channel, Inbound
from bot.service import Service
from bot.web import create_app
from bot.web.server import uvicorn_options
from testkit.databases import rows, stored_bytes
from tests.conftest import REPO
from tests.serving import serving

PASSWORD = "a long enough passphrase"
USERS = {
    "admin": ("root@example.org", "admin"), "holder": ("ana@example.org", "advocate"), "other": ("ben@example.org", "advocate"),
    "translator": ("eva@example.org", "translator"),
}
LANGUAGES = {"translator": ("es", "fr")}
SECRET_TEXT = "my boss Miguel Ortega keeps my passport at Calle 9"


class Person:
    """A console user: their own cookie and CSRF token (cookies handled by hand: the session
    cookie is Secure, and httpx would not send it over http://127.0.0.1)."""

    def __init__(self, client: httpx.Client, email: str, secret: str, clock):
        self.client, self.email, self.secret, self.clock = client, email, secret, clock
        self.cookie: str | None = None
        self.csrf: str | None = None

    def code(self, offset_steps: int = 0) -> str:
        return pyotp.TOTP(self.secret).at(self.clock().timestamp() + 30 * offset_steps)

    def login(self, code: str | None = None, password: str = PASSWORD) -> httpx.Response:
        response = self.client.post("/api/auth/login", json={"email": self.email, "password": password, "otp": code or self.code()})
        if response.status_code == 200:
            self.cookie = response.cookies.get("sh_session") or _cookie(response)
            self.csrf = response.json()["csrf_token"]
        return response

    def call(self, method: str, path: str, json: dict | None = None, csrf: bool = True) -> httpx.Response:
        headers = {}
        if self.cookie:
            headers["Cookie"] = f"sh_session={self.cookie}"
        if csrf and self.csrf and method != "GET":
            headers["X-CSRF-Token"] = self.csrf
        return self.client.request(method, path, json=json, headers=headers)


def _cookie(response: httpx.Response) -> str:
    match = re.search(r"sh_session=([^;]+)", response.headers["set-cookie"])
    return match.group(1)


@pytest.fixture
def console(tmp_path, database_url, clock, caplog):
    caplog.set_level(logging.DEBUG)
    settings = Settings.from_env({
        "SAFEHARBOR_ENV": "test", "SAFEHARBOR_HOME": str(tmp_path), "SAFEHARBOR_CONTENT_DIR": str(REPO),
        "DATABASE_URL": database_url, **generate_keys(),
    })
    service = Service.from_settings(settings, clock=clock)
    people = {}
    app = create_app(service, settings, background=False)
    with serving(app, **uvicorn_options(settings)) as base, httpx.Client(base_url=base, timeout=10) as client:
        for role, (email, kind) in USERS.items():
            uri = service.accounts.add(email, kind, PASSWORD, clock(), LANGUAGES.get(role, ()))
            people[role] = Person(client, email, parse_qs(urlparse(uri).query)["secret"][0], clock)
        client.service, client.people, client.db = service, people, database_url
        yield client
    service.close()


def escalate(service: Service, address: str) -> str:
    """The id of the handoff that ``address`` asking for a person opens."""
    before = {h.id for h in service.handoffs.listing("waiting")}
    for text in ("hi", "advocate", "yes"):
        service.handle(Inbound(Channel.SMS, address, text))
    (new,) = {h.id for h in service.handoffs.listing("waiting")} - before
    return new


NUMBERS = iter(range(1000, 9999))


def fresh_held(console) -> str:
    """A new conversation, escalated and held by the holder."""
    handoff_id = escalate(console.service, f"+1555011{next(NUMBERS):04d}")
    holder = console.people["holder"]
    assert holder.call("POST", f"/api/conversations/{handoff_id}/claim").status_code == 200
    return handoff_id


def test_login_needs_password_and_a_fresh_code_and_answers_alike_when_wrong(console):
    ana = console.people["holder"]
    wrong_password = ana.login(password="not the password at all")
    unknown = Person(console, "nobody@example.org", pyotp.random_base32(), ana.clock).login()
    wrong_code = ana.login(code="000000" if ana.code() != "000000" else "111111")
    for refused in (wrong_password, unknown, wrong_code):
        assert refused.status_code == 401
        assert refused.json() == {"detail": "wrong email, password or code"}
        assert "set-cookie" not in refused.headers
    ok = ana.login()
    assert ok.status_code == 200 and set(ok.json()) == {"csrf_token"}
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie and "path=/" in cookie


def test_a_code_is_accepted_once(console):
    ben = console.people["other"]
    code = ben.code()
    assert ben.login(code=code).status_code == 200
    again = Person(console, ben.email, ben.secret, ben.clock)
    assert again.login(code=code).status_code == 401  # the same code, a moment later: refused
    console.service.clock.advance(seconds=30)
    assert again.login().status_code == 200  # the next code works


def test_each_login_gets_a_new_session_and_logout_ends_it(console):
    ana = console.people["holder"]
    ana.login()
    first = ana.cookie
    console.service.clock.advance(seconds=30)
    ana.login()
    assert ana.cookie != first
    assert ana.call("GET", "/api/me").status_code == 200
    assert ana.call("POST", "/api/auth/logout").status_code == 204
    assert ana.call("GET", "/api/me").status_code == 401


def test_failed_logins_are_held_back_alike_for_known_and_unknown_emails(console):
    ana = console.people["holder"]
    stranger = Person(console, "ghost@example.org", pyotp.random_base32(), ana.clock)
    wrong_code = next(c for c in ("000000", "111111", "222222", "333333") if c not in {ana.code(n) for n in (-1, 0, 1)})
    for who in (ana, stranger):
        for _ in range(5):
            assert who.login(password="wrong password, wrong", code=wrong_code).status_code == 401
    held = [who.login(password="wrong password, wrong", code=wrong_code) for who in (ana, stranger)]
    for response in held:
        assert response.status_code == 429 and response.headers["retry-after"] == "1"
    assert held[0].json() == held[1].json()  # nothing tells who has an account
    assert ana.login().status_code == 200  # her right password with a fresh code is never held back


def test_a_login_while_the_server_checks_all_the_passwords_it_can_is_refused_at_once(console):
    ana = console.people["holder"]
    gate = console.service.accounts.gate
    with ExitStack() as taken:  # every place at the process's hashing gate in use
        for _ in range(gate.running + gate.waiting):
            taken.enter_context(gate.admitted())
        busy = ana.login()
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert ana.login().status_code == 200  # nothing was counted or spent


def test_sessions_end_after_idle_time_and_absolute_time(console):
    ana, ben = console.people["holder"], console.people["other"]
    ana.login()
    console.service.clock.advance(minutes=29)
    assert ana.call("GET", "/api/me").status_code == 200  # use keeps it alive
    console.service.clock.advance(minutes=31)
    assert ana.call("GET", "/api/me").status_code == 401  # idle 31 minutes: ended
    ben.login()
    for _ in range(26):  # active all day, never idle 30 minutes
        console.service.clock.advance(minutes=29)
        last = ben.call("GET", "/api/me").status_code
    assert last == 401  # 12 hours after login: ended anyway


def test_disabling_a_user_ends_their_sessions_and_blocks_login(console):
    ben = console.people["other"]
    ben.login()
    console.service.accounts.disable(ben.email)
    assert ben.call("GET", "/api/me").status_code == 401
    console.service.clock.advance(seconds=30)
    assert ben.login().status_code == 401


def test_writes_without_the_csrf_token_are_refused(console):
    ana = console.people["holder"]
    ana.login()
    handoff_id = escalate(console.service, "+15550107777")
    refused = ana.call("POST", f"/api/conversations/{handoff_id}/claim", csrf=False)
    assert refused.status_code == 403
    headers = {"Cookie": f"sh_session={ana.cookie}", "X-CSRF-Token": "forged"}
    assert console.post(f"/api/conversations/{handoff_id}/claim", headers=headers).status_code == 403
    assert console.service.handoffs.get(handoff_id).status == "waiting"


# route -> role -> expected status, each on a fresh conversation held by "holder" (and a fresh
# advocate's account as {user_id}). A translator sees nothing of the desk; only admins manage people.
ADMINS_ONLY = {"holder": 403, "other": 403, "translator": 403}
MATRIX = {
    ("GET", "/api/me"): {"holder": 200, "other": 200, "translator": 200, "admin": 200},
    ("GET", "/api/conversations"): {"holder": 200, "other": 200, "translator": 403, "admin": 200},
    ("GET", "/api/conversations/{handoff_id}"): {"holder": 200, "other": 200, "translator": 403, "admin": 200},
    ("POST", "/api/conversations/{handoff_id}/claim"): {"holder": 200, "other": 409, "translator": 403, "admin": 409},
    ("GET", "/api/conversations/{handoff_id}/messages"): {"holder": 200, "other": 403, "translator": 403, "admin": 200},
    ("POST", "/api/conversations/{handoff_id}/messages"): {"holder": 202, "other": 403, "translator": 403, "admin": 403},
    ("POST", "/api/conversations/{handoff_id}/notes"): {"holder": 201, "other": 403, "translator": 403, "admin": 201},
    ("POST", "/api/conversations/{handoff_id}/transfer"): {"holder": 200, "other": 403, "translator": 403, "admin": 200},
    ("POST", "/api/conversations/{handoff_id}/release"): {"holder": 204, "other": 403, "translator": 403, "admin": 204},
    ("POST", "/api/conversations/{handoff_id}/close"): {"holder": 204, "other": 403, "translator": 403, "admin": 204},
    ("GET", "/api/advocates"): {"holder": 200, "other": 200, "translator": 403, "admin": 200},
    ("GET", "/api/audit"): {**ADMINS_ONLY, "admin": 200},
    ("GET", "/api/users"): {**ADMINS_ONLY, "admin": 200},
    ("POST", "/api/users"): {**ADMINS_ONLY, "admin": 201},
    ("POST", "/api/users/{user_id}/disable"): {**ADMINS_ONLY, "admin": 200},
    ("POST", "/api/users/{user_id}/enable"): {**ADMINS_ONLY, "admin": 200},
    ("POST", "/api/users/{user_id}/reset-2fa"): {**ADMINS_ONLY, "admin": 200},
    ("POST", "/api/users/{user_id}/role"): {**ADMINS_ONLY, "admin": 200},
    ("POST", "/api/auth/logout"): {"holder": 204, "other": 204, "translator": 204, "admin": 204},
    # the content studio: admins everything; translators read, check, try and save drafts of their
    # languages (tests/test_content_api.py), never publish; advocates none of it
    ("GET", "/api/content"): {"holder": 403, "other": 403, "translator": 200, "admin": 200},
    ("GET", "/api/content/revisions"): {"holder": 403, "other": 403, "translator": 200, "admin": 200},
    ("GET", "/api/content/revisions/{number}"): {"holder": 403, "other": 403, "translator": 200, "admin": 200},
    ("GET", "/api/content/revisions/{before}/diff/{after}"): {"holder": 403, "other": 403, "translator": 200, "admin": 200},
    ("POST", "/api/content/edit"): {"holder": 403, "other": 403, "translator": 200, "admin": 200},
    ("POST", "/api/content/check"): {"holder": 403, "other": 403, "translator": 200, "admin": 200},
    ("POST", "/api/content/try"): {"holder": 403, "other": 403, "translator": 200, "admin": 200},
    ("POST", "/api/content/revisions"): {"holder": 403, "other": 403, "translator": 201, "admin": 201},
    ("POST", "/api/content/revisions/{number}/publish"): {**ADMINS_ONLY, "admin": 200},
    ("POST", "/api/content/revisions/{number}/rollback"): {**ADMINS_ONLY, "admin": 200},
    ("GET", "/api/content/revisions/{number}/translations/{code}"): {"holder": 403, "other": 403, "translator": 200, "admin": 200},
    ("POST", "/api/content/translations/{code}"): {"holder": 403, "other": 403, "translator": 200, "admin": 200},
    ("POST", "/api/content/text-check"): {"holder": 403, "other": 403, "translator": 200, "admin": 200},
    ("POST", "/api/content/flow-view"): {"holder": 403, "other": 403, "translator": 200, "admin": 200},
    ("POST", "/api/content/resources-view"): {"holder": 403, "other": 403, "translator": 200, "admin": 200},
}
BODIES = {
    "messages": {"text": "Are you safe to talk now?"}, "notes": {"text": "called back later"}, "transfer": {"to": "ana@example.org"},
    "role": {"role": "translator", "languages": ["es"]},
    "edit": {"text": "a: 1\n", "edits": [{"path": ["a"], "value": 2}]}, "check": {"base": 1, "changes": {}},
    "try": {"base": 1, "changes": {}, "language": "es", "channel": "sms", "messages": ["hola"]},
    "revisions": {"base": 1, "changes": {}, "message": "nothing"},
    "text-check": {"language": "es", "text": "Hola", "key": "menu.intro"},
    "flow-view": {"base": 1, "changes": {}}, "resources-view": {"base": 1, "changes": {}},
}
# {number}, {before} and {after}: the newest revision; {code}: a language the translator has
PATH_VALUES = {"{number}": "1", "{before}": "1", "{after}": "1", "{code}": "es"}
SPECIAL = {("POST", "/api/auth/login"), ("GET", "/api/events")}  # tested on their own
ROLES = ("anonymous", "other", "translator", "admin", "holder")


def body_of(method: str, path: str) -> dict | None:
    """What a matrix call sends: a conversation move's text, or an account no one has yet."""
    if method != "POST":
        return None
    if path == "/api/users":
        return {"email": f"new{next(NUMBERS)}@example.org", "role": "translator", "languages": ["es"]}
    return BODIES.get(path.rsplit("/", 1)[-1])


def test_every_route_in_the_openapi_description_is_in_the_access_matrix(console):
    described = console.get("/openapi.json").json()["paths"]
    routes = {(method.upper(), path) for path, methods in described.items() for method in methods}
    assert routes == set(MATRIX) | SPECIAL
    assert all(path.startswith("/api/") for _, path in routes)  # webhooks and pages are not in it


def test_access_matrix(console):
    """Every route of the matrix, called by every role, on one served app: each call on a fresh
    conversation held by "holder" (and a fresh account as {user_id}); every mismatch listed."""
    people = console.people
    logout = ("POST", "/api/auth/logout")
    wrong = []
    for route in [r for r in sorted(MATRIX) if r != logout] + [logout]:
        method, template = route
        assert set(MATRIX[route]) | {"anonymous"} == set(ROLES), route
        for role in ROLES:
            for person in people.values():
                if person.cookie is None or route == logout:
                    console.service.clock.advance(seconds=30)  # a fresh code for each login
                    person.login()
            handoff_id = fresh_held(console)
            path = template.replace("{handoff_id}", handoff_id)
            for name, value in PATH_VALUES.items():
                path = path.replace(name, value)
            if "{user_id}" in template:
                email = f"target{next(NUMBERS)}@example.org"
                console.service.accounts.add(email, "advocate", PASSWORD, console.service.clock())
                path = path.replace("{user_id}", str(console.service.accounts.find(email).id))
            body = body_of(method, path)
            if path == "/api/content/translations/es":
                body = {"base": 1, "changes": {}}
            if role == "anonymous":
                status, expected = console.request(method, path, json=body).status_code, 401
            else:
                status, expected = people[role].call(method, path, json=body).status_code, MATRIX[route][role]
            if status != expected:
                wrong.append((role, method, path, status, expected))
    assert wrong == []


def test_anonymous_events_and_a_logged_in_stream(console):
    assert console.get("/api/events").status_code == 401
    ana = console.people["holder"]
    ana.login()
    with console.stream("GET", "/api/events", headers={"Cookie": f"sh_session={ana.cookie}"}) as stream:
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        seen = b""
        for chunk in stream.iter_bytes():
            seen += chunk
            if b"event: change" in seen:
                break
    assert b"event: change" in seen


def test_security_headers_on_console_and_api(console):
    for path in ("/console", "/console/console.js", "/api/me", "/openapi.json"):
        response = console.get(path)
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["referrer-policy"] == "no-referrer", path
        assert response.headers["cache-control"] == "no-store", path
    assert console.get("/console/../service.py").status_code == 404


def test_queue_entries_hold_no_address_and_the_audit_no_text(console, caplog):
    ana, root = console.people["holder"], console.people["admin"]
    ana.login()
    root.login()
    address = "+15550108888"
    escalate(console.service, address)
    (entry,) = ana.call("GET", "/api/conversations?status=waiting").json()
    assert set(entry) >= {"id", "label", "language", "channel", "status", "waiting_since", "urgent"}
    assert address not in str(entry) and address[1:] not in str(entry)
    handoff_id = entry["id"]
    ana.call("POST", f"/api/conversations/{handoff_id}/claim")
    console.service.handle(Inbound(Channel.SMS, address, SECRET_TEXT))
    ana.call("POST", f"/api/conversations/{handoff_id}/messages", json={"text": "I hear you, Miguel cannot see this chat"})
    ana.call("POST", f"/api/conversations/{handoff_id}/notes", json={"text": "follow up about the passport"})
    lines = ana.call("GET", f"/api/conversations/{handoff_id}/messages").json()
    assert [line["text"] for line in lines if line["sender"] == "person"][-1] == SECRET_TEXT
    audit = root.call("GET", "/api/audit").json()
    actions = {entry["action"] for entry in audit}
    assert {"claimed", "viewed", "answered", "noted", "requested"} <= actions
    audit_text = str(audit)
    for secret in ("Miguel", "passport", "Calle", address):
        assert secret not in audit_text
    # Nor anywhere readable in the database files or the logs.
    stored = stored_bytes(console.db)
    for secret in ("Miguel", "passport", "Calle 9", address, address[1:]):
        assert secret.encode() not in stored, secret
        assert secret not in caplog.text, secret
    assert "Miguel" not in str(rows(console.db, "SELECT * FROM audit_log"))


def test_after_the_person_left_the_advocate_sees_it_and_cannot_send(console):
    ana = console.people["holder"]
    ana.login()
    handoff_id = escalate(console.service, "+15550109999")
    ana.call("POST", f"/api/conversations/{handoff_id}/claim")
    console.service.handle(Inbound(Channel.SMS, "+15550109999", "EXIT"))
    (mine,) = ana.call("GET", "/api/conversations?status=mine").json()
    assert mine["id"] == handoff_id and mine["status"] == "left"
    assert ana.call("GET", f"/api/conversations/{handoff_id}/messages").json() == []
    refused = ana.call("POST", f"/api/conversations/{handoff_id}/messages", json={"text": "are you there?"})
    assert refused.status_code == 409 and refused.json()["detail"] == "the person has left"
    assert ana.call("POST", f"/api/conversations/{handoff_id}/close").status_code == 204


def test_bad_input_gets_clear_answers_not_500s(console):
    ana = console.people["holder"]
    odd = console.post("/api/auth/login", json={"email": ana.email, "password": PASSWORD, "otp": "١٢٣٤٥٦"})
    assert odd.status_code == 401
    assert console.post("/api/auth/login", json={"email": "a\x00@example.org", "password": "x", "otp": "123456"}).status_code == 401
    # Anonymous: 401 before the body is even parsed; a huge body: 413.
    assert console.post("/api/conversations/" + "a" * 32 + "/notes", content=b"{not json").status_code == 401
    assert console.post("/api/auth/login", content=b"x" * 100_000, headers={"content-type": "application/json"}).status_code == 413
    ana.login()
    assert ana.call("GET", "/api/conversations/not-an-id").status_code == 404
    assert ana.call("GET", "/api/conversations/" + "0" * 32).status_code == 404
    assert ana.call("POST", "/api/conversations/" + "0" * 32 + "/claim").status_code == 404
    assert ana.call("GET", "/api/conversations?status=everything").status_code == 422


def test_the_live_stream_ends_when_the_session_does(console):
    ana = console.people["holder"]
    ana.login()
    with console.stream("GET", "/api/events", headers={"Cookie": f"sh_session={ana.cookie}"}) as stream:
        chunks = stream.iter_bytes()
        next(chunks)
        started = time.monotonic()
        console.service.accounts.logout(ana.cookie)
        for _ in chunks:  # ends when the server closes the stream
            assert time.monotonic() - started < 10
    assert time.monotonic() - started < 10


@contextmanager
def writes_held(database_url: str):
    """Another connection holding what a write to the sessions needs: on SQLite the database's
    one write lock (BEGIN IMMEDIATE), on PostgreSQL the session and user tables in EXCLUSIVE
    mode (reads go on beside it, an UPDATE or DELETE waits)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                connection.exec_driver_sql("BEGIN")
                connection.exec_driver_sql("LOCK TABLE console_sessions, users IN EXCLUSIVE MODE")
            try:
                yield
            finally:
                connection.exec_driver_sql("ROLLBACK")
    finally:
        engine.dispose()


def test_an_anonymous_request_with_any_cookie_never_waits_for_a_write(console):
    """A made-up cookie, one logged out, or one timed out (anyone can send them) is answered 401
    while another writer holds the database: looking it up only reads."""
    ana, ben = console.people["holder"], console.people["other"]
    ana.login()
    ben.login()
    logged_out = ben.cookie
    assert ben.call("POST", "/api/auth/logout").status_code == 204
    console.service.clock.advance(minutes=31)  # ana's session has timed out
    with writes_held(console.db):
        started = time.monotonic()
        for cookie in ("made-up", logged_out, ana.cookie):
            for background in ("0", "1"):
                answer = console.get("/api/conversations", headers={"Cookie": f"sh_session={cookie}", "X-Background": background})
                assert answer.status_code == 401
        assert time.monotonic() - started < 3  # a write would wait for the lock (SQLite: 10 s, then fail)
    assert ana.call("GET", "/api/me").status_code == 401  # and timed out it stays


def test_automatic_refreshes_do_not_keep_an_idle_session_alive(console):
    ana = console.people["holder"]
    ana.login()
    for _ in range(4):
        console.service.clock.advance(minutes=10)
        headers = {"Cookie": f"sh_session={ana.cookie}", "X-Background": "1"}
        last = console.get("/api/conversations?status=waiting", headers=headers).status_code
    assert last == 401  # 40 minutes of background refreshes, no use: ended after 30


def test_trying_the_draft_answers_as_the_channel_and_keeps_nothing(console, caplog):
    admin = console.people["admin"]
    admin.login()
    body = {"base": 1, "changes": {}, "language": "es", "channel": "sms", "messages": ["hola", "2", SECRET_TEXT]}
    answer = admin.call("POST", "/api/content/try", json=body)
    assert answer.status_code == 200
    exchanges = answer.json()["exchanges"]
    assert [e["step"] for e in exchanges[:2]] == ["welcome", "safe_check"]
    assert exchanges[0]["replies"][0]["segments"] >= 1
    assert SECRET_TEXT not in caplog.text and "Miguel" not in caplog.text
    too_long = admin.call("POST", "/api/content/try", json={**body, "messages": ["x" * 1601]})
    assert too_long.status_code == 422 and "1600" in too_long.json()["detail"]["message"]
    assert admin.call("POST", "/api/content/try", json={**body, "channel": "fax"}).status_code == 422

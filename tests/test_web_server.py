"""How the web processes are served (``bot/web/server.py``), over real sockets on loopback: whose
forwarded-for header is believed, deadlines on receiving a request, and HSTS in production."""

from __future__ import annotations

import json
import select
import socket
import time
from contextlib import contextmanager
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest

from bot.config import ConfigError, Settings, generate_keys, trusted_proxies_from_env
from bot.service import Service
from bot.store import Pseudonyms
from bot.store.login_limits import address_key
from bot.web import create_app
from bot.web.server import DeadlineProtocol, uvicorn_options
from testkit.databases import rows
from tests.conftest import REPO
from tests.serving import serving
from tests.test_cli_serve import start, stop


def make_settings(tmp_path, database_url: str, **env: str) -> Settings:
    return Settings.from_env({
        "SAFEHARBOR_ENV": "test", "SAFEHARBOR_HOME": str(tmp_path / "home"), "SAFEHARBOR_CONTENT_DIR": str(REPO),
        "DATABASE_URL": database_url, **generate_keys(), **env,
    })


@contextmanager
def served(settings: Settings, **options):
    """The real app, served the way ``safeharbor serve`` serves it (``options`` on top)."""
    service = Service.from_settings(settings)
    try:
        with serving(create_app(service, settings, background=False), **{**uvicorn_options(settings), **options}) as base:
            yield base, service
    finally:
        service.close()


# -- whose address a request is -----------------------------------------------------------------------


def test_trusted_proxies_are_none_by_default_and_must_be_named():
    assert trusted_proxies_from_env({}) == ()
    assert trusted_proxies_from_env({"SAFEHARBOR_TRUSTED_PROXIES": " 10.0.0.0/8, ::1 ,192.0.2.7"}) == ("10.0.0.0/8", "::1", "192.0.2.7")
    for bad in ("*", "10.0.0.1, *", "proxy.internal", "10.0.0.0/33"):
        with pytest.raises(ConfigError, match="SAFEHARBOR_TRUSTED_PROXIES"):
            trusted_proxies_from_env({"SAFEHARBOR_TRUSTED_PROXIES": bad})


def address_subjects(settings: Settings, database_url: str, *addresses: str) -> dict[str, str]:
    """Which of ``addresses`` the login limits have counted an attempt for."""
    stored = {subject for (subject,) in rows(database_url, "SELECT subject FROM login_throttle")}
    pseudonyms = Pseudonyms(settings.pepper)
    return {a: pseudonyms.of("login-address", address_key(a)) in stored for a in addresses}


SENT = ("203.0.113.1", "203.0.113.2", "6.6.6.6, 198.51.100.20")  # the last: a client's own entry, then its proxy's


@pytest.mark.parametrize("trusted", ["", "127.0.0.1"])
def test_forwarded_for_is_believed_only_from_a_trusted_proxy(tmp_path, database_url, monkeypatch, trusted):
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")  # uvicorn's own variable must change nothing
    settings = make_settings(tmp_path, database_url, SAFEHARBOR_TRUSTED_PROXIES=trusted)
    with served(settings) as (base, _service):
        for forwarded in SENT:
            answer = httpx.post(f"{base}/api/auth/login", json={"email": "x@example.org", "password": "guess", "otp": "123456"},
                                headers={"X-Forwarded-For": forwarded})
            assert answer.status_code == 401
    counted = address_subjects(settings, database_url, "127.0.0.1", "203.0.113.1", "203.0.113.2", "198.51.100.20", "6.6.6.6")
    if trusted:
        assert counted == {"127.0.0.1": False, "203.0.113.1": True, "203.0.113.2": True, "198.51.100.20": True, "6.6.6.6": False}
    else:
        assert counted == {"127.0.0.1": True, "203.0.113.1": False, "203.0.113.2": False, "198.51.100.20": False, "6.6.6.6": False}


def test_safeharbor_serve_believes_no_forwarded_for_by_default(tmp_path):
    process, base = start(tmp_path, FORWARDED_ALLOW_IPS="*")
    try:
        for forwarded in SENT:
            httpx.post(f"{base}/api/auth/login", json={"email": "x@example.org", "password": "guess", "otp": "123456"},
                       headers={"X-Forwarded-For": forwarded})
    finally:
        code, err = stop(process)
    assert code == 0, err[-2000:]
    keys = json.loads((tmp_path / "dev-keys.json").read_text())
    database_url = f"sqlite:///{tmp_path / 'safeharbor.db'}"
    settings = Settings.from_env({"SAFEHARBOR_HOME": str(tmp_path), **keys})
    counted = address_subjects(settings, database_url, "127.0.0.1", "203.0.113.1", "198.51.100.20")
    assert counted == {"127.0.0.1": True, "203.0.113.1": False, "198.51.100.20": False}


# -- deadlines on receiving a request -----------------------------------------------------------------


class QuickDeadlines(DeadlineProtocol):
    header_seconds = 0.5
    body_seconds = 1.0


def closed_after(connection: socket.socket, limit: float, trickle: bytes = b"") -> float:
    """Seconds until the server closes ``connection`` (sending ``trickle`` a byte every 0.1 s
    meanwhile); fails past ``limit``."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if trickle:
            try:
                connection.send(trickle[:1])
            except OSError:
                return time.monotonic() - started
            trickle = trickle[1:] or trickle
        readable, _, _ = select.select([connection], [], [], 0.1)
        if readable:
            try:
                if connection.recv(65536) == b"":
                    return time.monotonic() - started
            except ConnectionResetError:
                return time.monotonic() - started
    raise AssertionError(f"the connection was still open after {limit} s")


@pytest.fixture
def quick(tmp_path, database_url):
    with served(make_settings(tmp_path, database_url), http=QuickDeadlines) as (base, service):
        yield urlparse(base).port, service


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def test_a_connection_that_sends_nothing_or_half_a_head_is_closed_at_the_header_deadline(quick):
    port, _service = quick
    with connect(port) as silent:
        assert 0.4 < closed_after(silent, 5) < 2
    with connect(port) as half:
        half.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n")  # no blank line
        assert 0.4 < closed_after(half, 5) < 2
    with connect(port) as trickling:  # a byte every 0.1 s: the deadline is for the whole head
        assert closed_after(trickling, 5, trickle=b"GET /healthz HTTP/1.1\r\nX-Padding: " + b"a" * 200) < 2


def test_a_body_that_does_not_arrive_is_cut_off_at_the_body_deadline(quick):
    port, _service = quick
    with connect(port) as slow:
        slow.sendall(b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n{\"email\"")
        assert 0.8 < closed_after(slow, 5, trickle=b"  ") < 3


def test_whole_requests_are_answered_and_kept_alive_connections_get_a_new_deadline(quick):
    port, _service = quick
    with connect(port) as kept:
        for _ in range(3):  # three requests over 1.5 s on one connection, each well within its deadline
            kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert kept.recv(65536).startswith(b"HTTP/1.1 200")
            time.sleep(0.5)
        kept.sendall(b"GET /healthz HTTP/1.1\r\n")  # then half of a fourth
        assert closed_after(kept, 5) < 2


def test_a_streaming_response_outlives_the_deadlines(quick):
    """The deadlines are on receiving the request: the console's live events stream on."""
    port, service = quick
    uri = service.accounts.add("ana@example.org", "advocate", "a long enough passphrase", service.clock())
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    login = service.accounts.login("ana@example.org", "a long enough passphrase", pyotp.TOTP(secret).now(), service.clock(), client="127.0.0.1")
    with connect(port) as stream:
        stream.sendall(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sh_session={login.token}\r\n\r\n".encode())
        first = stream.recv(65536)
        assert first.startswith(b"HTTP/1.1 200") and b"text/event-stream" in first
        stream.settimeout(2.5)  # past both deadlines
        with pytest.raises(TimeoutError):
            while stream.recv(65536):  # the retry line, and nothing else until a change
                pass


# -- HSTS ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["production", "development"])
def test_hsts_is_sent_in_production_only(tmp_path, database_url, env):
    settings = make_settings(tmp_path, database_url, SAFEHARBOR_ENV=env)
    with served(settings) as (base, _service):
        for path in ("/healthz", "/console", "/api/me"):
            answer = httpx.get(f"{base}{path}")
            if env == "production":
                assert answer.headers["strict-transport-security"] == "max-age=31536000"
            else:
                assert "strict-transport-security" not in answer.headers

"""End to end over real HTTP on loopback: uvicorn serving the app with its background worker, an
SMS conversation posted as Twilio posts it (signed webhooks; for every ``<Message>`` of a TwiML
answer, the status callbacks Twilio sends to its ``action`` URL), a quick exit, and the worker's
DELETEs going to Twilio's own OpenAPI description served by the Prism mock, through a proxy that
records each call (Prism answers 204 only for a DELETE the description accepts: a well-formed
account and message SID, with basic auth)."""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx
import pytest
from twilio.request_validator import RequestValidator

from bot.config import Settings, generate_keys
from bot.service import Service
from bot.web import create_app
from testkit.databases import rows, stored_bytes
from tests.conftest import REPO
from tests.serving import free_port, serving
from tests.test_twilio_send import prism  # noqa: F401  (the module's Prism fixture)

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "fedcba9876543210fedcba9876543210"
OURS = "+14155550100"
PHONE = "+14155550188"
FORWARDED = ("Authorization", "Content-Type", "Accept", "User-Agent")


class RecordingProxy:
    """Forwards every request to ``upstream`` (Prism) and records (method, path, status)."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.calls: list[tuple[str, str, int]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {name: self.headers[name] for name in FORWARDED if self.headers.get(name)}
                request = urllib.request.Request(proxy.upstream + self.path, data=body, method=self.command, headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=10) as answer:
                        status, payload, kind = answer.status, answer.read(), answer.headers.get("Content-Type")
                except urllib.error.HTTPError as error:
                    status, payload, kind = error.code, error.read(), error.headers.get("Content-Type")
                proxy.calls.append((self.command, self.path, status))
                self.send_response(status)
                if kind:
                    self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _forward  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def deletes(self) -> list[tuple[str, int]]:
        prefix = f"/2010-04-01/Accounts/{ACCOUNT}/Messages/"
        return [(path[len(prefix):-len(".json")], status) for method, path, status in self.calls
                if method == "DELETE" and path.startswith(prefix) and path.endswith(".json")]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def served(tmp_path, database_url, prism):  # noqa: F811
    proxy = RecordingProxy(prism)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings.from_env({
        "SAFEHARBOR_ENV": "test", "SAFEHARBOR_HOME": str(tmp_path), "SAFEHARBOR_CONTENT_DIR": str(REPO),
        "DATABASE_URL": database_url, "SAFEHARBOR_PUBLIC_URL": base, "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_FROM_NUMBER": OURS, "TWILIO_API_BASE_URL": proxy.url, **generate_keys(),
    })
    app = create_app(Service.from_settings(settings), settings, background=True)
    try:
        with serving(app, port), httpx.Client(base_url=base, timeout=10) as client:
            client.base, client.db, client.proxy = base, database_url, proxy
            yield client
    finally:
        proxy.close()


class Twilio:
    """Twilio's side of an SMS conversation: the person's messages posted to the webhook, and
    each TwiML reply sent, with its status callbacks posted where its ``action`` says."""

    def __init__(self, client):
        self.client = client
        self.inbound: list[str] = []
        self.outbound: list[str] = []
        self._next = 0

    def _sid(self) -> str:
        self._next += 1
        return f"SM{self._next:032x}"

    def _post(self, url: str, fields: dict) -> httpx.Response:
        signature = RequestValidator(TOKEN).compute_signature(url, fields)
        return self.client.post(urlsplit(url).path, data=fields, headers={"X-Twilio-Signature": signature})

    def text(self, body: str) -> list[str]:
        sid = self._sid()
        self.inbound.append(sid)
        fields = {"MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT, "From": PHONE, "To": OURS,
                  "Body": body, "NumMedia": "0", "SmsStatus": "received", "ApiVersion": "2010-04-01"}
        answer = self._post(f"{self.client.base}/webhooks/twilio/sms", fields)
        assert answer.status_code == 200, answer.text
        texts = []
        for message in ET.fromstring(answer.text).iter("Message"):
            action = message.get("action")
            assert action == f"{self.client.base}/webhooks/twilio/status"
            reply = self._sid()
            self.outbound.append(reply)
            for status in ("sent", "delivered"):
                callback = {"MessageSid": reply, "SmsSid": reply, "MessageStatus": status, "SmsStatus": status,
                            "AccountSid": ACCOUNT, "From": OURS, "To": PHONE, "ApiVersion": "2010-04-01"}
                assert self._post(action, callback).status_code == 204
            texts.append(message.text or "")
        return texts


def wait_for_deletes(proxy: RecordingProxy, count: int, timeout: float = 20.0) -> list[tuple[str, int]]:
    deadline = time.monotonic() + timeout
    while len(proxy.deletes()) < count:
        assert time.monotonic() < deadline, f"{len(proxy.deletes())} of {count} deletions"
        time.sleep(0.05)
    time.sleep(0.3)  # nothing more should come
    return proxy.deletes()


def test_a_quick_exit_over_sms_deletes_every_message_of_the_conversation_at_twilio(served, caplog):
    caplog.set_level(logging.DEBUG)
    twilio = Twilio(served)
    assert twilio.text("hola")[0].startswith("Hi, thanks for writing.")
    assert twilio.text("2")[0].startswith("Una pregunta primero.")
    assert twilio.text("1")[0].startswith("Aqui tienes algunas opciones.")
    time.sleep(0.3)
    assert served.proxy.deletes() == []  # nothing is deleted while the conversation goes on
    assert twilio.text("salir")[0].startswith("Listo.")  # its own line's callbacks come after the erasure

    expected = twilio.inbound + twilio.outbound
    deleted = wait_for_deletes(served.proxy, len(expected))
    assert sorted(sid for sid, _ in deleted) == sorted(expected)  # each one, once
    assert {status for _, status in deleted} == {204}  # Prism: what Twilio's description accepts
    assert [call for call in served.proxy.calls if call[0] != "DELETE"] == []  # SMS replies went as TwiML
    print(f"\nTwilio deletions per quick exit in the end-to-end test: {len(deleted)} "
          f"({len(twilio.inbound)} inbound, {len(twilio.outbound)} outbound)")
    assert len(twilio.inbound) == 4 and len(twilio.outbound) >= 4

    assert rows(served.db, "SELECT count(*) FROM conversations") == [(0,)]
    leftovers = stored_bytes(served.db) + caplog.text.encode()
    for secret in [PHONE, PHONE[1:], "hola", *expected]:
        assert secret.encode() not in leftovers, secret

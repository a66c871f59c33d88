"""``TwilioSender``: sends checked against Twilio's own OpenAPI description served by the Prism mock
(see ``../shared/peers/README.md``), and error mapping against a local stub that answers the way
Twilio answers when things go wrong (Prism cannot fail on command).

Prism is installed by ``.ci/run`` into ``.tools/prism`` (git-ignored); on a developer machine the
fixture installs it the same way when it is missing. Without npm the Prism tests fail, on purpose.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from bot.channels.base import SendError
from bot.channels.twilio_sms import TwilioSender

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO.parent / "shared" / "peers" / "twilio" / "twilio_api_v2010.json"
PRISM_VERSION = "5.14.2"
PRISM_DIR = REPO / ".tools" / "prism"
PRISM_BIN = PRISM_DIR / "node_modules" / ".bin" / "prism"
PRISM_START_TIMEOUT = 90.0

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "auth-token-for-tests"
FROM = "+14155550100"
TO = "+14155550123"
SERVICE = "MG" + "fedcba9876543210" * 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- Prism ------------------------------------------------------------------------------------------


def ensure_prism() -> Path:
    if PRISM_BIN.exists():
        return PRISM_BIN
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(
            f"npm was not found, and Prism is not installed in {PRISM_DIR}. Install Node 20 with npm "
            f"(Prism {PRISM_VERSION} needs Node 20), or run .ci/run once."
        )
    done = subprocess.run(
        [npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(PRISM_DIR),
         f"@stoplight/prism-cli@{PRISM_VERSION}"],
        capture_output=True, text=True, timeout=600,
    )
    if done.returncode != 0 or not PRISM_BIN.exists():
        pytest.fail(f"installing Prism failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return PRISM_BIN


def answers(base_url: str) -> bool:
    """Any HTTP answer (Prism says 404 for ``/``) means it listens."""
    try:
        urllib.request.urlopen(base_url + "/", timeout=1.0).close()
    except urllib.error.HTTPError:
        return True
    except OSError:  # refused, reset, timed out: not yet
        return False
    return True


@pytest.fixture(scope="module")
def prism(tmp_path_factory) -> str:
    """The base URL of a Prism mock of Twilio's REST API, for this module."""
    if not SPEC.is_file():
        pytest.fail(f"Twilio's OpenAPI description is missing: {SPEC} (the project's shared folder, with peers/, must be checked out beside this repository, as CI does)", pytrace=False)
    binary = ensure_prism()
    port = free_port()
    log_path = tmp_path_factory.mktemp("prism") / "prism.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(binary), "mock", "-h", "127.0.0.1", "-p", str(port), str(SPEC)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + PRISM_START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"Prism exited with {process.returncode}:\n{log_path.read_text(errors='replace')[-4000:]}")
            if answers(base_url):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"Prism did not answer within {PRISM_START_TIMEOUT:.0f}s:\n{log_path.read_text(errors='replace')[-4000:]}")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_send_from_a_number_returns_the_message_sid(prism):
    sender = TwilioSender(ACCOUNT, TOKEN, from_number=FROM, api_base_url=prism)
    sid = sender.send(TO, "Hello. Reply 1 for options.")
    # Prism answers 201 with the description's example resource, whose sid is "SMaaa...a".
    assert sid.startswith("SM") and len(sid) == 34


def test_send_through_a_messaging_service_with_a_status_callback(prism):
    sender = TwilioSender(
        ACCOUNT, TOKEN, messaging_service_sid=SERVICE, api_base_url=prism + "/",
        status_callback="https://safeharbor.example.org/webhooks/twilio/status",
    )
    assert sender.send(TO, "Hola").startswith("SM")


def test_a_request_missing_the_required_to_is_refused_as_permanent(prism):
    # An address lost upstream (None) leaves out To, which the description requires: Prism 422.
    sender = TwilioSender(ACCOUNT, TOKEN, from_number=FROM, api_base_url=prism)
    with pytest.raises(SendError) as raised:
        sender.send(None, "Hello")  # type: ignore[arg-type]
    assert raised.value.permanent and not raised.value.unsubscribed
    assert raised.value.retry_after is None
    assert "422" in str(raised.value)


def test_a_malformed_messaging_service_sid_is_refused_as_permanent(prism):
    sender = TwilioSender(ACCOUNT, TOKEN, messaging_service_sid="MG123", api_base_url=prism)
    with pytest.raises(SendError) as raised:
        sender.send(TO, "Hello")
    assert raised.value.permanent
    assert "422" in str(raised.value)


# -- a stub that fails the way Twilio fails ---------------------------------------------------------


def twilio_error(status: int, code: int, message: str) -> bytes:
    return json.dumps({"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}).encode()


def message_resource(account: str) -> bytes:
    return json.dumps({
        "account_sid": account, "api_version": "2010-04-01", "body": "Hello", "direction": "outbound-api",
        "error_code": None, "error_message": None, "from": FROM, "num_media": "0", "num_segments": "1",
        "sid": "SM" + "1234567890abcdef" * 2, "status": "queued", "to": TO,
        "uri": f"/2010-04-01/Accounts/{account}/Messages/SM{'1234567890abcdef' * 2}.json",
    }).encode()


def account(n: int) -> str:
    return f"AC{n:032x}"


OK, SERVER_ERROR, BUSY, RATE_LIMITED, RATE_LIMITED_DATE, RATE_LIMITED_BARE, UNSUBSCRIBED, BAD_AUTH, BAD_NUMBER, SLOW, NOT_JSON = (
    account(n) for n in range(1, 12)
)
# What the stub answers, by the account in the path: (status, headers, body, delay in seconds).
SCENARIOS = {
    OK: (201, {}, message_resource(OK), 0.0),
    SERVER_ERROR: (500, {}, twilio_error(500, 20500, "Internal Server Error"), 0.0),
    BUSY: (503, {"Retry-After": "3"}, b"<html>Service Unavailable</html>", 0.0),
    RATE_LIMITED: (429, {"Retry-After": "17"}, twilio_error(429, 20429, "Too Many Requests"), 0.0),
    RATE_LIMITED_DATE: (429, {"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"}, twilio_error(429, 20429, "Too Many Requests"), 0.0),
    RATE_LIMITED_BARE: (429, {}, twilio_error(429, 20429, "Too Many Requests"), 0.0),
    UNSUBSCRIBED: (400, {}, twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"), 0.0),
    BAD_AUTH: (401, {}, twilio_error(401, 20003, "Authenticate"), 0.0),
    BAD_NUMBER: (400, {}, twilio_error(400, 21211, f"The 'To' number {TO} is not a valid phone number."), 0.0),
    SLOW: (201, {}, message_resource(SLOW), 3.0),
    NOT_JSON: (201, {}, b"<html>captive portal</html>", 0.0),
}


class StubHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode("utf-8"), keep_blank_values=True)
        self.server.seen.append({"path": self.path, "headers": dict(self.headers.items()), "form": form})
        parts = self.path.split("/")
        sid = parts[3] if len(parts) > 4 and parts[1] == "2010-04-01" and parts[2] == "Accounts" else ""
        status, headers, body, delay = SCENARIOS.get(sid, (404, {}, twilio_error(404, 20404, "Not Found"), 0.0))
        time.sleep(delay)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:  # the client gave up (timeout case)
            pass

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture(scope="module")
def stub():
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubHandler)
    server.daemon_threads = True
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def stub_sender(stub, account_sid: str, **options) -> TwilioSender:
    options.setdefault("from_number", FROM)
    return TwilioSender(account_sid, TOKEN, api_base_url=f"http://127.0.0.1:{stub.server_port}", **options)


def send_error(sender: TwilioSender) -> SendError:
    with pytest.raises(SendError) as raised:
        sender.send(TO, "Hello")
    return raised.value


def test_the_request_carries_basic_auth_and_the_form_twilio_expects(stub):
    stub.seen.clear()
    sid = stub_sender(stub, OK, status_callback="https://safeharbor.example.org/webhooks/twilio/status").send(TO, "Hola, ¿cómo estás?")

    assert sid == "SM" + "1234567890abcdef" * 2
    [request] = stub.seen
    assert request["path"] == f"/2010-04-01/Accounts/{OK}/Messages.json"
    expected_auth = "Basic " + base64.b64encode(f"{OK}:{TOKEN}".encode()).decode()
    assert request["headers"]["Authorization"] == expected_auth
    assert request["form"] == {
        "To": [TO], "From": [FROM], "Body": ["Hola, ¿cómo estás?"],
        "StatusCallback": ["https://safeharbor.example.org/webhooks/twilio/status"],
    }


def test_a_messaging_service_sends_without_from(stub):
    stub.seen.clear()
    stub_sender(stub, OK, from_number=None, messaging_service_sid=SERVICE).send(TO, "Hi")
    [request] = stub.seen
    assert request["form"] == {"To": [TO], "MessagingServiceSid": [SERVICE], "Body": ["Hi"]}


def test_twilio_edge_and_region_in_the_environment_do_not_redirect_the_base_url(stub, monkeypatch):
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    stub.seen.clear()
    assert stub_sender(stub, OK).send(TO, "Hi").startswith("SM")
    assert len(stub.seen) == 1


@pytest.mark.parametrize("account_sid,retry_after", [(SERVER_ERROR, None), (BUSY, 3.0)])
def test_server_errors_are_transient(stub, account_sid, retry_after):
    error = send_error(stub_sender(stub, account_sid))
    assert not error.permanent and not error.unsubscribed
    assert error.retry_after == retry_after


def test_rate_limiting_is_transient_with_the_wait_twilio_asked_for(stub):
    error = send_error(stub_sender(stub, RATE_LIMITED))
    assert not error.permanent
    assert error.retry_after == 17.0


def test_retry_after_as_an_http_date_becomes_seconds_from_now(stub):
    error = send_error(stub_sender(stub, RATE_LIMITED_DATE))
    assert not error.permanent
    assert error.retry_after is not None and error.retry_after > 365 * 24 * 3600


def test_rate_limiting_without_retry_after_has_no_wait(stub):
    error = send_error(stub_sender(stub, RATE_LIMITED_BARE))
    assert not error.permanent
    assert error.retry_after is None


def test_an_unsubscribed_recipient_is_permanent_and_marked(stub):
    error = send_error(stub_sender(stub, UNSUBSCRIBED))
    assert error.unsubscribed and error.permanent
    assert error.retry_after is None
    assert "21610" in str(error)


@pytest.mark.parametrize("account_sid,code", [(BAD_AUTH, "20003"), (BAD_NUMBER, "21211")])
def test_other_client_errors_are_permanent(stub, account_sid, code):
    error = send_error(stub_sender(stub, account_sid))
    assert error.permanent and not error.unsubscribed
    assert code in str(error)


def test_errors_never_quote_the_number_even_when_twilio_does(stub):
    error = send_error(stub_sender(stub, BAD_NUMBER))
    assert TO not in str(error) and TO[1:] not in str(error)
    assert TO not in repr(error.args)


def test_a_timeout_is_transient(stub):
    started = time.monotonic()
    error = send_error(stub_sender(stub, SLOW, timeout=0.3))
    assert not error.permanent
    assert time.monotonic() - started < 2.5  # gave up at the timeout, did not wait for the answer


def test_a_refused_connection_is_transient():
    with socket.socket() as bound_not_listening:  # connecting to it is refused, and no one else gets the port
        bound_not_listening.bind(("127.0.0.1", 0))
        port = bound_not_listening.getsockname()[1]
        sender = TwilioSender(ACCOUNT, TOKEN, from_number=FROM, api_base_url=f"http://127.0.0.1:{port}", timeout=2.0)
        error = send_error(sender)
    assert not error.permanent and not error.unsubscribed


def test_a_success_status_without_a_message_resource_is_not_retried(stub):
    # It may have been sent: retrying could put the same text on the phone twice.
    error = send_error(stub_sender(stub, NOT_JSON))
    assert error.permanent


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="neither from_number nor messaging_service_sid"),
        pytest.param({"from_number": FROM, "messaging_service_sid": SERVICE}, id="both"),
        pytest.param({"from_number": FROM, "api_base_url": "api.twilio.com"}, id="base URL without scheme"),
        pytest.param({"from_number": FROM, "timeout": 0}, id="zero timeout"),
    ],
)
def test_misconfiguration_is_refused_at_construction(options):
    with pytest.raises(ValueError):
        TwilioSender(ACCOUNT, TOKEN, **options)


@pytest.mark.parametrize("account_sid,token", [("", TOKEN), (ACCOUNT, "")])
def test_empty_credentials_are_refused_at_construction(account_sid, token):
    # Without this the client would send no Authorization at all (or read os.environ).
    with pytest.raises(ValueError):
        TwilioSender(account_sid, token, from_number=FROM)


def test_the_sender_repr_shows_no_credentials():
    text = repr(TwilioSender(ACCOUNT, TOKEN, from_number=FROM))
    assert TOKEN not in text and ACCOUNT not in text


def test_no_log_line_holds_the_number_or_the_text(stub, captured_logs):
    body = "Your appointment is confirmed"
    stub_sender(stub, OK).send(TO, body)
    with pytest.raises(SendError):
        stub_sender(stub, BAD_NUMBER).send(TO, body)

    # The loggers that would write each request (twilio's client at INFO, urllib3's request line
    # at DEBUG, with the account and, for a deletion, the message's SID in the path) are held
    # above those levels even when everything else logs at DEBUG.
    import logging

    assert captured_logs.handler.level <= logging.DEBUG
    assert not logging.getLogger("twilio.http_client").isEnabledFor(logging.INFO)
    assert not logging.getLogger("urllib3.connectionpool").isEnabledFor(logging.DEBUG)
    assert TO not in captured_logs.text and TO[1:] not in captured_logs.text
    assert body not in captured_logs.text

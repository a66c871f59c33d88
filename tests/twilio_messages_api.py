"""A stub of Twilio's Message resource for deletions that fail on command (Prism cannot), checked
against Twilio's own OpenAPI description: each DELETE must name a path, account SID and message
SID that the description's ``DeleteMessage`` operation accepts, with basic auth, or it is
recorded as a violation (and answered the way Prism would: 422, 401 or 404).

    api = TwilioMessagesApi.start()
    api.script("SM...", [(400, 20009)])   # the first DELETE of that SID gets 20009, then 204
    ...
    api.deleted      # the SIDs Twilio would have deleted, in order
    api.stop()
"""

from __future__ import annotations

import json
import re
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SPEC = Path(__file__).resolve().parent.parent.parent / "shared" / "peers" / "twilio" / "twilio_api_v2010.json"
DELETE_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json"


def delete_operation() -> dict:
    """The description's ``DeleteMessage`` operation (parameters and responses)."""
    spec = json.loads(SPEC.read_text())
    operation = spec["paths"][DELETE_PATH]["delete"]
    assert operation["operationId"] == "DeleteMessage"
    return operation


def path_pattern(operation: dict) -> re.Pattern:
    """The DELETE path as a regex, each parameter by its schema's pattern."""
    patterns = {p["name"]: p["schema"]["pattern"].strip("^$") for p in operation["parameters"] if p["in"] == "path"}
    regex = re.escape(DELETE_PATH)
    for name, pattern in patterns.items():
        regex = regex.replace(re.escape("{" + name + "}"), f"(?P<{name}>{pattern})")
    return re.compile(regex)


def twilio_error(status: int, code: int) -> bytes:
    return json.dumps({"code": code, "message": "error", "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}).encode()


class TwilioMessagesApi:
    def __init__(self) -> None:
        operation = delete_operation()
        self.pattern = path_pattern(operation)
        self.success = min(int(code) for code in operation["responses"])  # 204
        self.calls: list[tuple[str, int]] = []  # (SID, status answered), in order
        self.deleted: list[str] = []
        self.violations: list[str] = []
        self._scripts: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @classmethod
    def start(cls) -> TwilioMessagesApi:
        api = cls()
        handler = type("Handler", (_Handler,), {"api": api})
        api._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        api._server.daemon_threads = True
        threading.Thread(target=api._server.serve_forever, daemon=True).start()
        return api

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def script(self, sid: str, failures: list[tuple[int, int]]) -> None:
        """The next DELETEs of ``sid`` fail with these (HTTP status, Twilio error code), in order."""
        with self._lock:
            self._scripts[sid].extend(failures)

    def answer(self, method: str, path: str, authorized: bool) -> tuple[int, bytes]:
        with self._lock:
            if method != "DELETE":
                self.violations.append(f"{method} {path}: only DELETE is expected")
                return 405, b""
            match = self.pattern.fullmatch(path)
            if match is None:
                self.violations.append(f"DELETE {path}: not a path the description accepts")
                return 422, twilio_error(422, 0)
            if not authorized:
                self.violations.append("DELETE without basic auth")
                return 401, twilio_error(401, 20003)
            sid = match["Sid"]
            if self._scripts[sid]:
                status, code = self._scripts[sid].pop(0)
                self.calls.append((sid, status))
                return status, twilio_error(status, code)
            self.calls.append((sid, self.success))
            if sid in self.deleted:
                return 404, twilio_error(404, 20404)  # deleted before: Twilio no longer has it
            self.deleted.append(sid)
            return self.success, b""

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    api: TwilioMessagesApi

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, body = self.api.answer(self.command, self.path, self.headers.get("Authorization", "").startswith("Basic "))
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    do_DELETE = do_POST = do_GET = _handle  # noqa: N815 (http.server's naming)

    def log_message(self, *args) -> None:
        pass

"""A fake Telegram Bot API that checks every call against the real API description.

The description is ``shared/peers/telegram/api.json`` (Bot API 10.1, written by others): each call
must name a method that exists there, give every required field and no field it does not list,
each value of the listed type (objects such as ``reply_markup`` checked field by field). A call
that breaks a rule is answered 400 like Telegram would, and the problem is kept in
``violations``, so a test ends with ``assert fake.violations == []``.

In the tests, use it through the ``fake_bot_api`` fixture (``tests/fake_bot_api.py``; import it
into the test module)::

    from fake_bot_api import fake_bot_api  # noqa: F401  (the fixture)

    def test_reply(fake_bot_api):
        sender = TelegramSender(fake_bot_api.token, api_base_url=fake_bot_api.url)
        ...
        assert fake_bot_api.calls_to("sendMessage")[0]["chat_id"] == 5550001
        assert fake_bot_api.violations == []

One server (uvicorn, loopback, a free port, a daemon thread) serves the whole test session
(``shared_fake``); the fixture resets its state before each test. Outside pytest (the benchmarks):
``with FakeBotApi() as fake: fake.url``.

What it answers (``{"ok": true, "result": ...}``):

- ``POST|GET /bot<token>/<method>``, parameters as JSON, URL-encoded form (what
  python-telegram-bot sends: non-string values JSON-encoded) or multipart, or in the query;
- a token other than ``fake.token``: 401 Unauthorized (not a violation: Telegram does the same);
- ``getMe``: the bot's User (its id is the token's number); ``sendMessage``: a Message with the
  next message_id (one counter for all chats, from 1001), the chat, date, text, reply_markup;
- ``getUpdates``: the updates queued with ``push_update`` (those below ``offset`` are confirmed and
  dropped), waiting up to ``timeout`` seconds for one; 409 Conflict while a webhook is set;
- ``setWebhook`` (kept in ``fake.webhook``), ``deleteWebhook``, ``getWebhookInfo``;
- any other valid method: ``true``.

``fake.fail(method, status=..., description=..., retry_after=..., times=1)`` makes the next
``times`` valid calls of ``method`` fail with that status (and ``parameters.retry_after``).

Every call is recorded in ``calls`` as ``(method, params)``, failed and invalid ones included,
params decoded (``chat_id`` 5550001, ``protect_content`` True, ``reply_markup`` a dict); those
answered ok also in ``accepted`` (``accepted_by(method)``, and when: ``accepted_at(method)``).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from functools import cache
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

REPO = Path(__file__).resolve().parent.parent
API_JSON = REPO.parent / "shared" / "peers" / "telegram" / "api.json"

TOKEN = "123456789:AAF-fake_T0ken-for-tests_only1234567"
FIRST_MESSAGE_ID = 1001
PRIMITIVES = {"Integer", "Float", "String", "Boolean", "InputFile"}


def most_in_any(times: list[float], seconds: float) -> int:
    """The most of ``times`` (e.g. ``accepted_at``) inside any window of ``seconds``.

    >>> most_in_any([0.0, 0.4, 0.9, 1.0, 1.1], 1.0)
    4
    """
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= seconds:
            start += 1
        most = max(most, end - start + 1)
    return most


# -- the API description ------------------------------------------------------------------------


class ApiDescriptionMissing(Exception):
    """api.json is not where it must be; the message says where and why (the fixture turns it into
    the test's failure)."""


@cache
def api_spec() -> dict[str, Any]:
    """api.json as a dict: ``{"methods": {name: {...}}, "types": {name: {...}}, ...}``."""
    if not API_JSON.is_file():
        raise ApiDescriptionMissing(
            f"the Bot API description is missing: {API_JSON} (the project's shared folder, with "
            "peers/, must be checked out beside this repository, as CI does)"
        )
    return json.loads(API_JSON.read_text(encoding="utf-8"))


def type_problems(type_name: str, value: Any, path: str | None = None) -> list[str]:
    """What in ``value`` does not match the api.json type ``type_name`` (``[]``: it matches).

    Tests use it to keep their hand-written Updates realistic:
    ``assert type_problems("Update", payload) == []``.
    """
    return _value_problems(value, [type_name], path or type_name)


def call_problems(method: str, params: dict[str, Any]) -> list[str]:
    """What is wrong with calling ``method`` with ``params`` (decoded values), per api.json."""
    spec = api_spec()["methods"].get(method)
    if spec is None:
        return [f"{method}: no such method in Bot API {api_spec()['version']}"]
    return _field_problems(spec, params, method)


def _field_problems(spec: dict[str, Any], given: dict[str, Any], path: str, of: str | None = None) -> list[str]:
    """What is wrong with ``given`` as the fields ``spec`` (a method or an object type of api.json)
    lists: fields it does not list, required ones missing, each value's type. ``of``: the type's
    name, said in the problems of an object (a method's are named by ``path`` alone)."""
    fields = {field["name"]: field for field in spec.get("fields", [])}
    problems = [f"{path}: unknown field {name!r}" + (f" for {of}" if of else "") for name in given if name not in fields]
    problems += [
        f"{path}: required field {name!r}" + (f" of {of}" if of else "") + " missing"
        for name, field in fields.items()
        if field["required"] and name not in given
    ]
    for name, value in given.items():
        if name in fields:
            problems += _value_problems(value, fields[name]["types"], f"{path}.{name}")
    return problems


def _value_problems(value: Any, types: list[str], path: str) -> list[str]:
    first: list[str] | None = None
    for type_name in types:
        problems = _one_type_problems(value, type_name, path)
        if not problems:
            return []
        first = first if first is not None else problems
    return first or []


def _one_type_problems(value: Any, type_name: str, path: str) -> list[str]:
    if type_name.startswith("Array of "):
        if not isinstance(value, list):
            return [f"{path}: expected {type_name}, got {type(value).__name__}"]
        inner = type_name.removeprefix("Array of ")
        return [p for index, item in enumerate(value) for p in _one_type_problems(item, inner, f"{path}[{index}]")]
    if type_name in PRIMITIVES:
        ok = {
            "Integer": isinstance(value, int) and not isinstance(value, bool),
            "Float": isinstance(value, (int, float)) and not isinstance(value, bool),
            "String": isinstance(value, str),
            "Boolean": isinstance(value, bool),
            "InputFile": isinstance(value, (str, _Upload)),
        }[type_name]
        return [] if ok else [f"{path}: expected {type_name}, got {type(value).__name__}"]
    spec = api_spec()["types"].get(type_name)
    if spec is None:
        return [f"{path}: unknown type {type_name}"]
    if "subtypes" in spec:
        return _value_problems(value, spec["subtypes"], path)
    if not isinstance(value, dict):
        return [f"{path}: expected {type_name} object, got {type(value).__name__}"]
    return _field_problems(spec, value, path, of=type_name)


@dataclass(frozen=True)
class _Upload:
    """A file part of a multipart call (its content is not kept)."""

    filename: str


def _decode(method: str, name: str, raw: str) -> Any:
    """A form value as python-telegram-bot encodes it: strings as is, anything else as JSON."""
    spec = api_spec()["methods"].get(method, {})
    types = next((f["types"] for f in spec.get("fields", []) if f["name"] == name), ["?"])
    if all(t in ("String", "InputFile") for t in types):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


# -- the fake -----------------------------------------------------------------------------------


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: int | None


class FakeBotApi:
    """The fake's state and its ASGI app; see the module docstring for what it answers."""

    def __init__(self, token: str = TOKEN):
        self.token = token
        self.url = ""  # "http://127.0.0.1:<port>" once started; pass as the sender's api_base_url
        self.app = Starlette(routes=[
            Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
            Route("/{path:path}", self._unknown_path, methods=["GET", "POST"]),
        ])
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # -- what tests use

    def reset(self) -> None:
        """Forget calls, violations, queued updates and failures, the webhook and the message counter."""
        with self._lock:
            self.calls: list[tuple[str, dict[str, Any]]] = []
            self.accepted: list[tuple[str, dict[str, Any]]] = []  # the calls answered ok
            self.accepted_times: list[tuple[str, float]] = []  # (method, time.monotonic()) of each
            self.violations: list[str] = []
            self.webhook: dict[str, Any] | None = None
            self._updates: deque[dict[str, Any]] = deque()
            self._failures: dict[str, deque[_Failure]] = {}
            self._next_message_id = FIRST_MESSAGE_ID
            self._next_update_id = 500000001

    def fail(self, method: str, *, status: int, description: str | None = None,
             retry_after: int | None = None, times: int = 1) -> None:
        """Make the next ``times`` valid calls of ``method`` fail with ``status``.

        ``fail("sendMessage", status=429, retry_after=3)``, ``fail("getMe", status=500)``,
        ``fail("deleteMessages", status=400, description="Bad Request: message can't be deleted")``.
        """
        if method not in api_spec()["methods"]:
            raise ValueError(f"no such Bot API method: {method}")
        failure = _Failure(status, description or _default_description(status, retry_after), retry_after)
        with self._lock:
            self._failures.setdefault(method, deque()).extend([failure] * times)

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an Update for getUpdates (``update_id`` assigned when absent); returns its id.
        An update that does not match api.json's Update type is recorded as a violation."""
        update = dict(update)
        with self._lock:
            if "update_id" not in update:
                update["update_id"] = self._next_update_id
            self._next_update_id = max(self._next_update_id, update["update_id"]) + 1
            self.violations += [f"push_update: {p}" for p in type_problems("Update", update)]
            self._updates.append(update)
        return update["update_id"]

    def accepted_by(self, method: str) -> list[dict[str, Any]]:
        """The params of each call of ``method`` that was answered ok (what Telegram "has")."""
        with self._lock:
            return [params for name, params in self.accepted if name == method]

    def accepted_at(self, method: str) -> list[float]:
        """When each call of ``method`` answered ok arrived (``time.monotonic()``), in order."""
        with self._lock:
            return [at for name, at in self.accepted_times if name == method]

    def calls_to(self, method: str, **match: Any) -> list[dict[str, Any]]:
        """The params of each call of ``method`` (with those ``match`` values), in order."""
        with self._lock:
            return [
                params for name, params in self.calls
                if name == method and all(params.get(key) == value for key, value in match.items())
            ]

    # -- serving

    def start(self) -> FakeBotApi:
        """Serve on a free loopback port in a daemon thread; sets ``url``."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-bot-api", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake Bot API did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._server = self._thread = None

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the app

    async def _unknown_path(self, request: Request) -> JSONResponse:
        with self._lock:
            self.violations.append(f"{request.method} {request.url.path}: not /bot<token>/<method>")
        return _error(400, "Bad Request: fake Bot API: path is not /bot<token>/<method>")

    async def _endpoint(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.path_params["method"]
        try:
            params = await _params(method, request)
        except ValueError as exc:
            with self._lock:
                self.calls.append((method, {}))
                self.violations.append(f"{method}: {exc}")
            return _error(400, f"Bad Request: fake Bot API: {exc}")

        problems = call_problems(method, params)
        with self._lock:
            self.calls.append((method, params))
            self.violations += problems
            failure = None if problems else _pop(self._failures.get(method))
        if problems:
            return _error(400, "Bad Request: fake Bot API: " + "; ".join(problems))
        if failure is not None:
            return _error(failure.status, failure.description, failure.retry_after)
        if method == "getUpdates":
            return await self._get_updates(params)
        with self._lock:
            self.accepted.append((method, params))
            self.accepted_times.append((method, time.monotonic()))
        return _ok(self._result(method, params))

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return self._bot_user()
        if method == "sendMessage":
            with self._lock:
                message_id = self._next_message_id
                self._next_message_id += 1
            message = {
                "message_id": message_id,
                "from": self._bot_user(short=True),
                "chat": _chat(params["chat_id"]),
                "date": int(time.time()),
                "text": params["text"],
            }
            if params.get("protect_content"):
                message["has_protected_content"] = True
            if isinstance(params.get("reply_markup"), dict) and "inline_keyboard" in params["reply_markup"]:
                message["reply_markup"] = params["reply_markup"]
            return message
        if method == "setWebhook":
            with self._lock:
                self.webhook = dict(params) if params["url"] else None
            return True
        if method == "deleteWebhook":
            with self._lock:
                self.webhook = None
                if params.get("drop_pending_updates"):
                    self._updates.clear()
            return True
        if method == "getWebhookInfo":
            with self._lock:
                info = {"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False,
                        "pending_update_count": len(self._updates)}
                if self.webhook and self.webhook.get("allowed_updates"):
                    info["allowed_updates"] = self.webhook["allowed_updates"]
            return info
        return True

    async def _get_updates(self, params: dict[str, Any]) -> JSONResponse:
        with self._lock:
            if self.webhook is not None:
                return _error(409, "Conflict: can't use getUpdates method while webhook is active; "
                                   "use deleteWebhook to delete the webhook first")
        offset = params.get("offset")
        limit = params.get("limit") or 100
        deadline = time.monotonic() + max(0, params.get("timeout") or 0)
        while True:
            with self._lock:
                if isinstance(offset, int) and offset > 0:
                    while self._updates and self._updates[0]["update_id"] < offset:
                        self._updates.popleft()
                ready = list(self._updates)[:limit]
            if ready or time.monotonic() >= deadline:
                return _ok(ready)
            await asyncio.sleep(0.02)

    def _bot_user(self, short: bool = False) -> dict[str, Any]:
        user = {"id": int(self.token.split(":", 1)[0]), "is_bot": True, "first_name": "Safeharbor Test",
                "username": "safeharbor_test_bot"}
        if not short:
            user |= {"can_join_groups": False, "can_read_all_group_messages": False,
                     "supports_inline_queries": False, "can_connect_to_business": False,
                     "has_main_web_app": False}
        return user


async def _params(method: str, request: Request) -> dict[str, Any]:
    """The call's parameters, decoded; ValueError when the body cannot be read."""
    params: dict[str, Any] = {k: _decode(method, k, v) for k, v in request.query_params.multi_items()}
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if not body:
        return params
    if content_type == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            raise ValueError("body is not JSON") from None
        if not isinstance(data, dict):
            raise ValueError("JSON body is not an object")
        params.update(data)
    elif content_type == "application/x-www-form-urlencoded":
        params.update({k: _decode(method, k, v) for k, v in parse_qsl(body.decode("utf-8"), keep_blank_values=True)})
    elif content_type == "multipart/form-data":
        form = await request.form()
        for key, value in form.multi_items():
            params[key] = _Upload(value.filename or "") if isinstance(value, UploadFile) else _decode(method, key, value)
    else:
        raise ValueError(f"unexpected content type {content_type!r}")
    return params


def _chat(chat_id: int | str) -> dict[str, Any]:
    if isinstance(chat_id, int) and chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "Test"}
    if isinstance(chat_id, int):
        return {"id": chat_id, "type": "supergroup", "title": "Test group"}
    return {"id": -1001000000001, "type": "channel", "title": "Test channel", "username": str(chat_id).lstrip("@")}


def _pop(queue: deque[_Failure] | None) -> _Failure | None:
    return queue.popleft() if queue else None


def _ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def _error(status: int, description: str, retry_after: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return JSONResponse(body, status_code=status)


def _default_description(status: int, retry_after: int | None) -> str:
    known = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden: bot was blocked by the user",
        409: "Conflict: terminated by other getUpdates request",
        429: f"Too Many Requests: retry after {retry_after}",
        500: "Internal Server Error",
        502: "Bad Gateway",
    }
    if status in known:
        return known[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# -- one fake per process ----------------------------------------------------------------------

_shared: FakeBotApi | None = None
_shared_lock = threading.Lock()


def shared_fake() -> FakeBotApi:
    """The process's running fake (started on first use, stopped at exit)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = FakeBotApi().start()
            atexit.register(_shared.stop)
        return _shared

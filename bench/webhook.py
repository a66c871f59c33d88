"""Turns per second of the SMS webhook over real HTTP, against a bare endpoint in the same run
(see bench/README.md).

    .venv/bin/python bench/webhook.py                  # 15 s per server, 16 connections
    .venv/bin/python bench/webhook.py --quick          # 5 s per server
    .venv/bin/python bench/webhook.py --duration 30 --connections 32

Two servers, one after the other, each in its own process on a free loopback port, each under
uvicorn (one worker, uvloop, httptools, no access log): a bare Starlette app whose
``POST /webhooks/twilio/sms`` only parses the form and answers a fixed TwiML message, then
safeharbor itself (``create_app(..., background=True)``, SQLite file, encrypted state, signature
checked). Each first gets every sender's first message, one at a time (so the timed turns
continue stored conversations); then ``wrk`` drives it with the same precomputed, distinct,
signed Twilio posts (a Lua script reads them from files; the client costs next to nothing per
request). wrk cannot tell a script which connection asks for the next request, so each wrk
thread holds one connection and sends its own senders' messages in order: one person's
messages never run concurrently. The figure that matters is the ratio of the two throughputs,
measured a minute apart on the same machine; the target (safeharbor at least 25 % of the bare
endpoint) is reported, never enforced. The exit status is 1 only when a request failed
(non-2xx, no ``<Message>``, the fallback reply, or a precomputed request sent twice).

``--profile`` then runs 1,000 turns through the same app in process (no HTTP) under cProfile
and prints where the time goes.

Results go to ``bench/results/webhook.json`` (git-ignored); the databases, keys and request files
live in a temporary directory. Needs ``wrk`` (Debian/Ubuntu: ``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import math
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere, even without the editable install
    sys.path.insert(0, str(ROOT))

RESULTS = BENCH / "results"
PATH = "/webhooks/twilio/sms"
TOKEN_ENV = "SAFEHARBOR_BENCH_TWILIO_TOKEN"  # how the parent hands the auth token to a server
DATABASE_ENV = "SAFEHARBOR_BENCH_DATABASE_URL"  # and the database (unset: a SQLite file in its home)
KEYS_ENV = "SAFEHARBOR_BENCH_KEYS"  # and, for several processes, the keys they share
TARGET_RATIO = 0.25
SEED = 2026
BARE_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>ok</Message></Response>'
OUR_NUMBER = "+14155550100"
ACCOUNT = "AC1f2e3d4c5b6a79881f2e3d4c5b6a7988"
SERVICE_SID = "MG9a8b7c6d5e4f30211a2b3c4d5e6f7a8b"


def progress(message: str) -> None:
    print(message, flush=True)


# -- the servers (each runs in a child process: webhook.py --serve bare|safeharbor) ------------------


def bare_app():
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def sms(request):
        await request.form()
        return Response(BARE_TWIML, media_type="application/xml")

    return Starlette(routes=[Route(PATH, sms, methods=["POST"])])


def safeharbor_app(home: Path, base_url: str, token: str):
    from bot.config import Settings, generate_keys
    from bot.service import Service
    from bot.web import create_app

    settings = Settings.from_env({
        **(json.loads(os.environ[KEYS_ENV]) if os.environ.get(KEYS_ENV) else generate_keys()),
        "SAFEHARBOR_ENV": "test",
        "SAFEHARBOR_HOME": str(home),
        "DATABASE_URL": os.environ.get(DATABASE_ENV) or f"sqlite:///{(home / 'bench.db').as_posix()}",
        "SAFEHARBOR_CONTENT_DIR": str(ROOT),
        "SAFEHARBOR_PUBLIC_URL": base_url,
        "TWILIO_AUTH_TOKEN": token,
        # Throughput, not the limits (bench/limits.py measures those): 2,000 numbers start at once
        # and each writes several times a second, far past the abuse limits' defaults.
        "SAFEHARBOR_LIMIT_NEW_CONVERSATIONS_PER_MINUTE": "100000000",
        "SAFEHARBOR_LIMIT_MESSAGES_PER_PERSON_PER_MINUTE": "100000000",
    })
    return create_app(Service.from_settings(settings), settings, background=True)


def serve(kind: str, home: Path, port: int = 0) -> int:
    """The child: bind a loopback port (free, or ``port`` shared with its siblings through
    SO_REUSEPORT: the kernel spreads connections over the processes), write it to
    ``home/port``, serve until SIGTERM."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    app = bare_app() if kind == "bare" else safeharbor_app(home, f"http://127.0.0.1:{port}", os.environ[TOKEN_ENV])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, workers=1, loop="uvloop", http="httptools", lifespan="on",
        log_level="warning", access_log=False, server_header=False,  # as `safeharbor serve`
    )
    (home / "port.tmp").write_text(str(port))
    os.replace(home / "port.tmp", home / "port")
    (home / "started").write_text(str(time.time()))
    stopped: list[int] = []
    # uvicorn shuts down on SIGTERM, restores this handler, then raises the signal again: here
    # that only notes it, so the lock waits below are still written.
    signal.signal(signal.SIGTERM, lambda signum, _frame: stopped.append(signum))
    uvicorn.Server(config).run(sockets=[sock])
    return 0


class Server:
    """Our server: one process, or ``processes`` sharing a port; ``stop`` (SIGTERM, then
    SIGKILL) is safe to call twice."""

    def __init__(self, kind: str, home: Path, token: str, processes: int = 1, database_url: str | None = None):
        home.mkdir(parents=True, exist_ok=True)
        self.kind, self.home = kind, home
        env = {**os.environ, TOKEN_ENV: token}
        if database_url:
            env[DATABASE_ENV] = database_url
        if processes > 1:
            from bot.config import generate_keys

            env[KEYS_ENV] = json.dumps(generate_keys())
        # One process stays on one CPU, away from wrk; several share the machine with it.
        pin = on_cpu(SERVER_CPU) if processes == 1 else None
        launched = time.monotonic()
        self.processes, port = [], 0
        for index in range(processes):
            folder = home / f"p{index}"
            folder.mkdir(parents=True, exist_ok=True)
            process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--serve", kind, "--home", str(folder), "--port", str(port)],
                env=env, cwd=folder, stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=pin,
            )
            RUNNING.append(process)
            self.processes.append(process)
            deadline = time.monotonic() + 60
            while not (folder / "port").exists():
                if process.poll() is not None:
                    raise SystemExit(f"the {kind} server exited at start (status {process.returncode})")
                if time.monotonic() > deadline:
                    raise SystemExit(f"the {kind} server did not start within 60 s")
                time.sleep(0.02)
            port = int((folder / "port").read_text())
            if index == 0:
                self.startup_s = time.monotonic() - launched  # interpreter, imports, content, database, socket
        self.process = self.processes[0]
        self.port = port
        self.base = f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        """User + system CPU of the server processes so far (all their threads)."""
        total = 0.0
        for process in self.processes:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def peak_rss_mb(self) -> list[float]:
        """Each process's peak resident memory so far (VmHWM), in MB."""
        peaks = []
        for process in self.processes:
            for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        return peaks

    def stop(self) -> None:
        for process in self.processes:
            stop_process(process)


RUNNING: list[subprocess.Popen] = []  # every child still to stop on the way out

# On a machine with two or more CPUs the server runs on one and wrk on another: left to the
# scheduler, the two share a core in some runs and not in others, and figures from different
# runs cannot be compared (bench/NOTES.md).
SERVER_CPU, CLIENT_CPU = 1, 0


def on_cpu(cpu: int):
    """A ``preexec_fn`` keeping the child on ``cpu`` (nothing where there is only one CPU)."""
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(available) < 2:
        return None
    chosen = available[cpu % len(available)]
    return lambda: os.sched_setaffinity(0, {chosen})


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process in RUNNING:
        RUNNING.remove(process)


def stop_all() -> None:
    for process in list(RUNNING):
        with contextlib.suppress(Exception):
            stop_process(process)


# -- the traffic -------------------------------------------------------------------------------


def bench_run_module():
    """bench/run.py as a module: its journeys, nonsense, ``machine()`` and table."""
    spec = importlib.util.spec_from_file_location("safeharbor_bench_run", BENCH / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


RUN = bench_run_module()


def sender_script(rng: random.Random, journeys: list[list[str]], nonsense: list[str], first: int):
    """A person's messages, without end: one journey after another (starting at ``first``), a
    stray message in 30 % of them. After an exit or "not safe now", the next journey starts over."""
    index = first
    while True:
        script = list(journeys[index % len(journeys)])
        if rng.random() < 0.3:
            script.insert(rng.randint(1, len(script)), rng.choice(nonsense))
        yield from script
        index += 1


def plan(senders: int, connections: int, total: int, journeys, nonsense) -> tuple[list[dict[str, str]], list[list[dict[str, str]]]]:
    """``(first, posts)``: every sender's first message (sent before the timed run, so the timed
    turns continue conversations already stored), then the posts each connection sends, in order.

    Sender ``s`` writes only on connection ``s % connections``, so one person's messages never
    run concurrently and arrive in order; a connection goes round its senders, one message each
    per round (a person writes again after everyone else on that connection has)."""
    rng = random.Random(SEED)
    scripts = [sender_script(random.Random(rng.random()), journeys, nonsense, s) for s in range(senders)]
    serial = 0

    def post(s: int) -> dict[str, str]:
        nonlocal serial
        serial += 1
        return twilio_fields(f"+1555{2_000_000 + s:07d}", next(scripts[s]), message_sid(serial))

    first = [post(s) for s in range(senders)]
    per_connection = math.ceil(total / connections)
    posts: list[list[dict[str, str]]] = [[] for _ in range(connections)]
    for k in range(connections):
        mine = list(range(k, senders, connections))
        while len(posts[k]) < per_connection:
            for s in mine:
                if len(posts[k]) >= per_connection:
                    break
                posts[k].append(post(s))
    return first, posts


def message_sid(serial: int) -> str:
    return "SM" + hashlib.sha256(f"bench-{SEED}-{serial}".encode()).hexdigest()[:32]


def twilio_fields(sender: str, body: str, sid: str) -> dict[str, str]:
    """An incoming SMS as Twilio posts it to a Messaging Service number (the fields of a real one)."""
    return {
        "ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": "0",
        "ToCity": "SAN FRANCISCO", "FromZip": "94103", "SmsSid": sid, "FromState": "CA",
        "SmsStatus": "received", "FromCity": "SAN FRANCISCO", "Body": body, "FromCountry": "US",
        "To": OUR_NUMBER, "MessagingServiceSid": SERVICE_SID, "ToZip": "94105",
        "NumSegments": "1", "MessageSid": sid, "AccountSid": ACCOUNT, "From": sender,
        "ApiVersion": "2010-04-01",
    }


def signed(fields: dict[str, str], url: str, token: str) -> tuple[str, dict[str, str]]:
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(token)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": validator.compute_signature(url, fields),
        "User-Agent": "TwilioProxy/1.1",
    }
    return urllib.parse.urlencode(fields), headers


def write_requests(folder: Path, posts: list[list[dict[str, str]]], url: str, token: str) -> int:
    """One file per connection, one request per line: method, path, header count, names and
    values, body; tab-separated (a form-encoded body holds no tab or newline)."""
    folder.mkdir(parents=True, exist_ok=True)
    size = 0
    for k, mine in enumerate(posts):
        lines = []
        for fields in mine:
            body, headers = signed(fields, url, token)
            cells = ["POST", PATH, str(len(headers))]
            for name, value in headers.items():
                cells += [name, value]
            lines.append("\t".join(cells + [body]))
        text = "\n".join(lines) + "\n"
        (folder / f"{k}.txt").write_text(text)
        size += len(text)
    return size


# -- the load generator ------------------------------------------------------------------------

# wrk cannot tell a script which connection asks for the next request, so each wrk thread holds
# one connection (-t N -c N) and thread k sends the file k.txt in order.
LUA = r"""
local counter, threads = 0, {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local folder = args[1]
  marker = args[2]
  list = {}
  for line in io.lines(folder .. "/" .. id .. ".txt") do
    local f = {}
    for cell in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = cell end
    local n, headers = tonumber(f[3]), {}
    for i = 0, n - 1 do headers[f[4 + 2 * i]] = f[5 + 2 * i] end
    list[#list + 1] = wrk.format(f[1], f[2], headers, f[4 + 2 * n])
  end
  position, wraps, sent, available = 0, 0, 0, #list
  non2xx, no_message, fallback = 0, 0, 0
  verifying = (id == 0)  -- wrk calls request() once on thread 0 to check it; that one is not sent
end

function request()
  if verifying then
    verifying = false
    return list[1]
  end
  position = position + 1
  if position > #list then
    position, wraps = 1, wraps + 1
  end
  sent = sent + 1
  return list[position]
end

function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
  if not body or not body:find("<Message>", 1, true) then no_message = no_message + 1 end
  if body and body:find(marker, 1, true) then fallback = fallback + 1 end
end

function done(summary, latency, requests)
  local t = {non2xx = 0, no_message = 0, fallback = 0, wraps = 0, sent = 0, available = 0}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(t) do t[name] = t[name] + thread:get(name) end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %.0f, "duration_us": %.0f, "bytes": %.0f, ' ..
    '"p50_us": %.0f, "p90_us": %.0f, "p99_us": %.0f, "mean_us": %.1f, "max_us": %.0f, ' ..
    '"non2xx": %.0f, "no_message": %.0f, "fallback": %.0f, "wraps": %.0f, "sent": %.0f, ' ..
    '"available": %.0f, "errors": {"connect": %.0f, "read": %.0f, "write": %.0f, ' ..
    '"status_over_399": %.0f, "timeout": %.0f}}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max,
    t.non2xx, t.no_message, t.fallback, t.wraps, t.sent, t.available,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def run_wrk(server: Server, folder: Path, script: Path, seconds: int, connections: int, marker: str, label: str) -> dict:
    command = [
        "wrk", f"-t{connections}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
        "-s", str(script), server.base + PATH, "--", str(folder), marker,
    ]
    window_start = time.time()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu_before = server.cpu_seconds()
    started = time.monotonic()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=on_cpu(CLIENT_CPU),
    )
    RUNNING.append(process)
    tick = 5 if seconds > 5 else 1
    while True:
        try:
            out, err = process.communicate(timeout=tick)
            break
        except subprocess.TimeoutExpired:
            elapsed = time.monotonic() - started
            if elapsed < seconds:
                progress(f"  {label}: {elapsed:.0f} / {seconds} s")
    RUNNING.remove(process)
    wall = time.monotonic() - started
    server_cpu = server.cpu_seconds() - server_cpu_before
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise SystemExit(f"wrk failed (status {process.returncode}):\n{err}{out}")
    line = next((line for line in out.splitlines() if line.startswith("WRK_JSON ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no result:\n{err}{out}")
    result = json.loads(line.split(" ", 1)[1])
    result["requests_per_s"] = result["requests"] / (result["duration_us"] / 1e6)
    result["server_cpu_share"] = server_cpu / wall  # 1.0 = one core busy for the whole run
    result["wrk_cpu_share"] = (
        children_after.ru_utime + children_after.ru_stime - children_before.ru_utime - children_before.ru_stime
    ) / wall
    result["window"] = [window_start, time.time()]
    result["connections"] = connections
    result["threads"] = connections
    result["seconds"] = seconds
    return result


def first_messages(server: Server, posts: list[dict[str, str]], token: str, label: str) -> None:
    """Every sender's first message, posted one at a time before the timed run: the timed turns
    then continue stored conversations, the server's first requests (imports, pools, caches)
    stay out of the figures, and a wrong signature or a failing turn shows at once."""
    import httpx

    started = time.monotonic()
    with httpx.Client(base_url=server.base, timeout=30) as client:
        for n, fields in enumerate(posts, start=1):
            body, headers = signed(fields, server.base + PATH, token)
            response = client.post(PATH, content=body.encode(), headers=headers)
            if response.status_code != 200 or "<Message>" not in response.text:
                raise SystemExit(f"{server.kind}: a first message was answered {response.status_code}: {response.text[:200]!r}")
            if n % 500 == 0 and n < len(posts):
                progress(f"  {label}: {n:,} / {len(posts):,} first messages")
    progress(f"  {label}: {len(posts):,} first messages in {time.monotonic() - started:.1f} s")


def wait_ready(server: Server, probe: dict[str, str], token: str) -> None:
    """Until the server answers: ``GET /healthz`` for safeharbor, a post for the bare app."""
    import httpx

    deadline = time.monotonic() + 60
    with httpx.Client(base_url=server.base, timeout=5) as client:
        while True:
            if server.process.poll() is not None:
                raise SystemExit(f"the {server.kind} server exited (status {server.process.returncode})")
            try:
                if server.kind == "safeharbor":
                    ok = client.get("/healthz").status_code == 200
                else:
                    body, headers = signed(probe, server.base + PATH, token)
                    ok = client.post(PATH, content=body.encode(), headers=headers).status_code == 200
                if ok:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the {server.kind} server does not answer on {server.base}")
            time.sleep(0.1)


# -- the profile (--profile): where a safeharbor request's time goes, in process --------------------

PROFILE_URL = "http://127.0.0.1:8000"
KEY_FUNCTIONS = [  # (label, file suffix, function): cumulative time per request
    ("whole request (ASGI app)", "starlette/applications.py", "__call__"),
    ("  form parsing (parse_qsl)", "urllib/parse.py", "parse_qsl"),
    ("  signature check (is_authentic)", "twilio_sms/_signature.py", "is_authentic"),
    ("  Service.receive (one turn, committed)", "bot/service/__init__.py", "receive"),
    ("    BEGIN IMMEDIATE or SAVEPOINT, RELEASE (Writer.cursor)", "bot/store/sqlite_writer.py", "cursor"),
    ("      COMMIT (sqlite3)", "~", "<method 'commit' of 'sqlite3.Connection' objects>"),
    ("    load + unwrap key + decrypt", "bot/store/held.py", "__init__"),
    ("    engine step (Engine.resume)", "bot/engine/engine.py", "resume"),
    ("    seal + update the state (save)", "bot/store/held.py", "save"),
    ("    claim the delivery, seal the reply", "bot/store/held.py", "record_delivery"),
    ("  TwiML (twiml: prepare_sms + escaping)", "twilio_sms/_twiml.py", "twiml"),
]


async def asgi_post(app, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """One POST straight into the ASGI app: no client, no socket, nothing but the app's work."""
    host = PROFILE_URL.split("//", 1)[1]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": PATH, "raw_path": PATH.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", host.encode()), (b"content-length", str(len(body)).encode())]
        + [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
    }
    delivered, status, chunks = False, 0, []

    async def receive():
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def area(filename: str, function: str) -> str:
    """Which library (or part of safeharbor) a profile entry belongs to."""
    if filename == "~":
        if "sqlite3" in function:
            return "sqlite3 (C: the SQL itself)"
        return "built-ins (C)"
    if "/site-packages/" in filename:
        package = filename.split("/site-packages/", 1)[1].split("/", 1)[0]
        return package.removesuffix(".py")
    if str(ROOT) + "/bot/" in filename:
        part = filename.split(str(ROOT) + "/bot/", 1)[1]
        return "safeharbor " + (part.split("/", 1)[0] if "/" in part else part.removesuffix(".py"))
    if filename.startswith(str(ROOT)):
        return "bench"
    import sysconfig

    stdlib = sysconfig.get_paths()["stdlib"] + "/"
    if filename.startswith(stdlib):
        return "stdlib " + filename[len(stdlib):].removesuffix(".py").replace("/", ".")
    return filename


def profile_safeharbor(requests: int, journeys, nonsense, output: Path) -> dict:
    """cProfile ``requests`` posts through the same app, in process and one at a time, the turn
    run on the event loop as on SQLite it always is (so one profile holds all of it). Returns figures
    per request: unprofiled timings, cumulative time of the main steps, tottime by area."""
    import asyncio
    import cProfile
    import pstats
    import statistics

    receive_times: list[float] = []
    token = "p" * 32
    senders = max(100, requests // 4)
    first, posts = plan(senders, 1, 3 * requests, journeys, nonsense)
    posts = posts[0]
    with tempfile.TemporaryDirectory(prefix="safeharbor-webhook-profile-") as tmp:
        app = safeharbor_app(Path(tmp), PROFILE_URL, token)
        service = app.state.service
        receive = service.receive

        def timed_receive(delivery):
            start = time.perf_counter()
            try:
                return receive(delivery)
            finally:
                receive_times.append(time.perf_counter() - start)

        service.receive = timed_receive  # the webhook calls it through the instance
        prepared = [(body.encode(), headers) for body, headers in (signed(f, PROFILE_URL + PATH, token) for f in first + posts)]
        first_n = len(first)

        async def post_all(batch, times=None):
            for body, headers in batch:
                start = time.perf_counter()
                status, answer = await asgi_post(app, body, headers)
                if times is not None:
                    times.append(time.perf_counter() - start)
                if status != 200 or b"<Message>" not in answer:
                    raise SystemExit(f"profile: a request was answered {status}: {answer[:200]!r}")

        asyncio.run(post_all(prepared[:first_n]))  # first messages, and warm-up
        whole: list[float] = []
        receive_times.clear()
        asyncio.run(post_all(prepared[first_n:first_n + requests], whole))
        unprofiled = {
            "whole_request_mean_us": statistics.mean(whole) * 1e6,
            "whole_request_median_us": statistics.median(whole) * 1e6,
            "receive_mean_us": statistics.mean(receive_times) * 1e6,
            "receive_median_us": statistics.median(receive_times) * 1e6,
        }
        profiler = cProfile.Profile()
        profiler.enable()
        asyncio.run(post_all(prepared[first_n + requests:first_n + 2 * requests]))
        profiler.disable()
        service.close()
    output.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(output)
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    by_area: dict[str, float] = {}
    for (filename, _line, function), (_cc, _nc, tottime, _cumtime, _callers) in stats.stats.items():
        name = area(filename, function)
        by_area[name] = by_area.get(name, 0.0) + tottime
    key = {}
    for label, suffix, function in KEY_FUNCTIONS:
        cumulative = sum(
            entry[3] for (filename, _line, name), entry in stats.stats.items() if name == function and filename.endswith(suffix)
        )
        key[label] = cumulative / requests * 1e6
    top = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:15]
    return {
        "requests": requests,
        "unprofiled": unprofiled,
        "profiled_total_us_per_request": total / requests * 1e6,
        "cumulative_us_per_request": key,
        "tottime_share_by_area": {name: t / total for name, t in sorted(by_area.items(), key=lambda item: -item[1])},
        "top_tottime": [
            {"function": f"{area(f, fn)}: {Path(f).name}:{line}({fn})" if f != "~" else fn,
             "calls": entry[1], "tottime_us_per_request": entry[2] / requests * 1e6}
            for (f, line, fn), entry in top
        ],
        "pstats": str(output),
    }


def print_profile(found: dict) -> None:
    u = found["unprofiled"]
    print(f"\nProfile of safeharbor, in process ({found['requests']} continuing turns, one at a time, no HTTP):")
    print(f"  unprofiled: {u['whole_request_mean_us']:,.0f} µs per request (median {u['whole_request_median_us']:,.0f}), "
          f"of which Service.receive {u['receive_mean_us']:,.0f} µs (median {u['receive_median_us']:,.0f})")
    print(f"  profiled (cProfile inflates small calls): {found['profiled_total_us_per_request']:,.0f} µs per request")
    print("  cumulative time per request:")
    for label, us in found["cumulative_us_per_request"].items():
        if us:  # a step the current code does not take (e.g. another form parser) is left out
            print(f"    {label:<48} {us:8,.0f} µs")
    print("  own time (tottime) by library:")
    for name, share in list(found["tottime_share_by_area"].items())[:12]:
        print(f"    {name:<48} {share:8.1%}")
    print("  top functions by own time (µs per request):")
    for row in found["top_tottime"]:
        print(f"    {row['tottime_us_per_request']:7.1f}  {row['calls'] / found['requests']:5.1f}x  {row['function']}")
    print(f"  written: {found['pstats']}  (python -m pstats)")


# -- the machine and the report ------------------------------------------------------------------


def describe_machine() -> dict:
    from importlib import metadata

    described = RUN.machine()
    for package in ("uvicorn", "uvloop", "httptools", "starlette", "fastapi", "python-multipart", "twilio"):
        try:
            described.setdefault("packages", {})[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            described.setdefault("packages", {})[package] = None
    version = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    described["wrk"] = (version.stdout or version.stderr).splitlines()[0].strip() if (version.stdout or version.stderr) else None
    return described


def ms(us: float) -> str:
    return f"{us / 1000:.2f} ms" if us < 10_000 else f"{us / 1000:.1f} ms"


def table(results: dict[str, dict]) -> str:
    names = {"bare": "bare Starlette (parse form, fixed TwiML)", "safeharbor": "safeharbor (encrypted state)"}
    header = ("server", "requests/s", "p50", "p90", "p99", "requests", "non-2xx", "server CPU", "wrk CPU")
    rows = [header]
    for key, r in results.items():
        rows.append((
            names[key], f"{r['requests_per_s']:,.0f}", ms(r["p50_us"]), ms(r["p90_us"]), ms(r["p99_us"]),
            f"{r['requests']:,}", str(r["non2xx"]), f"{r['server_cpu_share']:.0%}", f"{r['wrk_cpu_share']:.0%}",
        ))
    return RUN.text_table(rows)


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 s per server instead of 15")
    parser.add_argument("--duration", type=int, help="seconds of load per server (default 15, --quick 5)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections, one wrk thread each (default 16)")
    parser.add_argument("--senders", type=int, default=2_000, help="distinct phone numbers writing (default 2000)")
    parser.add_argument("--requests", type=int, help="distinct requests to precompute (default 6000 per second of load)")
    parser.add_argument("--profile", action="store_true", help="then cProfile safeharbor in process: top costs per request")
    parser.add_argument("--profile-only", action="store_true", help="only the profile, no load")
    parser.add_argument("--output", type=Path, default=RESULTS / "webhook.json")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite",
                        help="safeharbor's database: a SQLite file, or a fresh schema on SAFEHARBOR_TEST_POSTGRES_URL")
    parser.add_argument("--processes", type=int, default=1, help="safeharbor web processes sharing the port (default 1)")
    parser.add_argument("--rate", type=int, help="aim at this many requests/s in all (wrk waits between requests) instead of as many as possible")
    parser.add_argument("--serve", choices=["bare", "safeharbor"], help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def fallback_marker() -> str:
    """The start of the fallback reply ("Sorry, something went wrong"): an answer holding it is a
    failed turn, which would otherwise be timed as a fast one."""
    try:
        from bot.service import FALLBACK_TEXT
    except ImportError:
        FALLBACK_TEXT = "Sorry, something went wrong."  # noqa: N806
    return FALLBACK_TEXT.split(".")[0]


def measure_server(kind: str, tmp: Path, args, load: dict) -> dict:
    """Start one server (``kind``), check it answers, post every sender's first message, then time
    wrk against it; the server is stopped whatever happens."""
    label = load["label"]
    progress(f"{label}: starting the server ...")
    server = (Server(kind, tmp / kind, load["token"], args.processes, load["database_url"]) if kind == "safeharbor"
              else Server(kind, tmp / kind, load["token"]))
    try:
        wait_ready(server, load["probe"], load["token"])
        folder = tmp / kind / "requests"
        size = write_requests(folder, load["posts"], server.base + PATH, load["token"])
        progress(f"{label}: answering on {server.base}; {size / 1e6:.1f} MB of signed requests written; "
                 f"each sender's first message ...")
        first_messages(server, load["first"], load["token"], label)
        progress(f"{label}: wrk, {load['seconds']} s, {load['connections']} connections ...")
        result = run_wrk(server, folder, load["script"], load["seconds"], load["connections"], load["marker"], label)
        result["peak_rss_mb"] = server.peak_rss_mb()
        result["startup_s"] = server.startup_s
        result["processes"] = len(server.processes)
    finally:
        server.stop()
    progress(f"{label}: {result['requests_per_s']:,.0f} requests/s, p50 {ms(result['p50_us'])}, "
             f"p99 {ms(result['p99_us'])}, non-2xx {result['non2xx']}, server CPU {result['server_cpu_share']:.0%}")
    return result


def measure_both(args, load: dict) -> dict[str, dict]:
    """The bare endpoint, then safeharbor, each in a temporary directory of its own files."""
    results: dict[str, dict] = {}
    delay_ms = round(load["connections"] / args.rate * 1000) if args.rate else 0
    with tempfile.TemporaryDirectory(prefix="safeharbor-webhook-bench-") as tmp:
        script = Path(tmp) / "requests.lua"
        script.write_text(LUA + (f"\nfunction delay()\n  return {delay_ms}\nend\n" if delay_ms else ""))
        for step, kind in enumerate(("bare", "safeharbor"), start=1):
            results[kind] = measure_server(kind, Path(tmp), args, {**load, "script": script, "label": f"[{step}/2] {kind}"})
    return results


def problems_of(results: dict[str, dict]) -> list[str]:
    """What makes the run fail: any safeharbor answer that is not a served turn, or a precomputed
    request sent twice (a redelivery, answered from its record, not a turn)."""
    sh, bare = results["safeharbor"], results["bare"]
    problems = []
    failed = sh["non2xx"] + sh["errors"]["connect"] + sh["errors"]["read"] + sh["errors"]["write"] + sh["errors"]["timeout"]
    if failed:
        problems.append(f"safeharbor: {sh['non2xx']} non-2xx answers, errors {sh['errors']}")
    if sh["no_message"]:
        problems.append(f"safeharbor: {sh['no_message']} answers without a TwiML <Message>")
    if sh["fallback"]:
        problems.append(f"safeharbor: {sh['fallback']} turns failed (the fallback reply)")
    if sh["wraps"]:
        problems.append(f"safeharbor sent {sh['sent']:,} requests but only {sh['available']:,} were precomputed: "
                        "repeats are redeliveries, answered from their record; raise --requests")
    if bare["non2xx"] or bare["no_message"]:
        problems.append(f"bare: {bare['non2xx']} non-2xx, {bare['no_message']} without <Message>")
    return problems


def print_summary(args, results: dict[str, dict], ratio: float, seconds: int, connections: int) -> None:
    sh, bare = results["safeharbor"], results["bare"]
    print()
    print(table(results))
    print(f"\nsafeharbor / bare: {ratio:.1%} (target >= {TARGET_RATIO:.0%}: {'yes' if ratio >= TARGET_RATIO else 'NO'})")
    print(f"safeharbor: {args.database}, {sh['processes']} process(es), peak memory {', '.join(f'{m:.0f} MB' for m in sh['peak_rss_mb'])}, "
          f"start-up {sh['startup_s']:.2f} s (to listening, content loaded)" + (f"; aimed at {args.rate} requests/s" if args.rate else ""))
    print(f"wrk: {connections} connection{'s' if connections != 1 else ''}, one thread each; {seconds} s per server; "
          f"safeharbor {sh['sent']:,} of {sh['available']:,} precomputed requests used; "
          f"the bare run went round them {bare['sent'] / bare['available']:.1f} times")


def postgres_schema() -> tuple[str | None, str | None]:
    """A fresh schema on SAFEHARBOR_TEST_POSTGRES_URL: ``(url, schema)``, or ``(None, None)`` after
    saying why PostgreSQL cannot be used."""
    sys.path.insert(0, str(ROOT))
    from testkit.databases import new_postgres_schema, postgres_unavailable

    reason = postgres_unavailable()
    if reason:
        print(reason, file=sys.stderr)
        return None, None
    return new_postgres_schema()


def report_of(args, run: dict, results: dict[str, dict], ratio: float, problems: list[str], profiled: dict | None) -> dict:
    """What bench/results/webhook.json holds: the run's settings, the machine, every figure."""
    report = {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "seconds": round(time.time() - run["started"], 1),
        "duration_per_server_s": run["seconds"],
        "connections": run["connections"],
        "database": args.database,
        "processes": args.processes,
        "rate_aimed": args.rate,
        "senders": run["senders"],
        "first_messages": len(run["first"]),
        "requests_precomputed": sum(len(p) for p in run["posts"]),
        "machine": run["machine"],
        "load_average_at_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "results": results,
        "ratio_safeharbor_over_bare": ratio,
        "target_ratio": TARGET_RATIO,
        "target_met": ratio >= TARGET_RATIO,
        "problems": problems,
    }
    if profiled:
        report["profile_safeharbor"] = profiled
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        return serve(args.serve, args.home, args.port)

    if args.profile_only:
        print_profile(profile_safeharbor(400 if args.quick else 1_000, RUN.JOURNEYS,
                                         RUN.NONSENSE, RESULTS / "webhook_safeharbor.pstats"))
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed; this benchmark needs it as its load generator.\n"
              "Debian/Ubuntu: apt-get install wrk   (macOS: brew install wrk)", file=sys.stderr)
        return 2
    seconds = args.duration or (5 if args.quick else 15)
    connections = max(1, args.connections)
    senders = max(args.senders, connections)
    # About twice what safeharbor answers here (bench/NOTES.md): run out, and wrk would go round
    # them again, and the repeats would be redeliveries, not turns.
    total = args.requests or seconds * 6_000

    def on_term(signum, frame):  # noqa: ARG001 - SIGTERM ends the run like Ctrl-C: servers stopped
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    started = time.time()
    journeys = RUN.JOURNEYS
    nonsense = RUN.NONSENSE
    machine_at_start = describe_machine()
    marker = fallback_marker()
    token = hashlib.sha256(f"bench-token-{time.time_ns()}".encode()).hexdigest()[:32]

    progress(f"precomputing {senders:,} first messages and {total:,} requests: {senders:,} senders over {connections} connections ...")
    first, posts = plan(senders, connections, total, journeys, nonsense)
    probe = twilio_fields("+14440000000", "hola", message_sid(0))  # the bare app's readiness check
    database_url, schema = (None, None)
    if args.database == "postgresql":
        database_url, schema = postgres_schema()
        if schema is None:
            return 2
    load = {"token": token, "probe": probe, "first": first, "posts": posts, "seconds": seconds,
            "connections": connections, "marker": marker, "database_url": database_url}
    try:
        results = measure_both(args, load)
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr)
        return 130
    finally:
        stop_all()
        if schema:
            from testkit.databases import drop_postgres_schema

            drop_postgres_schema(schema)

    ratio = results["safeharbor"]["requests_per_s"] / results["bare"]["requests_per_s"]
    problems = problems_of(results)
    print_summary(args, results, ratio, seconds, connections)

    profiled = None
    if args.profile:
        progress("\nprofiling safeharbor in process ...")
        profiled = profile_safeharbor(400 if args.quick else 1_000, journeys, nonsense, RESULTS / "webhook_safeharbor.pstats")
        print_profile(profiled)

    report = report_of(args, {"started": started, "seconds": seconds, "connections": connections, "senders": senders,
                              "first": first, "posts": posts, "machine": machine_at_start},
                       results, ratio, problems, profiled)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten: {args.output}")
    if problems:
        print("\nFAILED:\n- " + "\n- ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        stop_all()

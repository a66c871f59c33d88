"""Conversations and messages admitted per minute under a scripted flood, against the configured
limits, through several web processes on one database; then a flood of Telegram replies sent by
two worker processes, against the Bot API's rates (see bench/README.md, "Limits under a flood").

    .venv/bin/python bench/limits.py                         # PostgreSQL, 2 web processes, 2 minutes
    .venv/bin/python bench/limits.py --quick                 # 1 minute, a smaller Telegram flood
    .venv/bin/python bench/limits.py --database sqlite --processes 1
    .venv/bin/python bench/limits.py --minutes 3 --new-per-minute 60 --per-person 20

Part 1, SMS: ``safeharbor serve --workers N --no-background`` with the limits configured, signed
Twilio posts over loopback. Before the flood, three people start talking and two "fast writers"
start; at the next clock minute the flood begins: ``--flooders`` threads post "hi" from a new
number each time, as fast as the server answers; each fast writer posts "menu" every 0.5 s (120
a minute); each of the three people writes every 4 s, as a person would. Reported per clock
minute: new numbers posted, admitted (the database's own count and the full answers seen) and
answered with the short static answer, against the configured limit; per fast writer, messages
answered, told to wait, and left unanswered, against the per-person limit; whether any of the
three people was ever held back; the latency of the flood's answers.

Part 2, Telegram: ``safeharbor serve`` and two ``safeharbor worker`` processes against a fake Bot
API (testkit/fake_bot_api.py, on loopback); ``--telegram-chats`` new chats write "hi" at once and a
few chats write ten messages each; reported: sends per second (the most in any one second) against
``SAFEHARBOR_LIMIT_TELEGRAM_PER_SECOND``, the most to one chat in any 3 s (Telegram: about one a
second, short bursts allowed), and whether every queued reply was sent.

Nothing is enforced: the figures are printed, and written to bench/results/limits.json.
Needs PostgreSQL for ``--database postgresql`` (SAFEHARBOR_TEST_POSTGRES_URL, as the tests).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from bot.config import generate_keys  # noqa: E402
from bench._support import free_port  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TOKEN = "0123456789abcdef0123456789abcdef"
SECRET = "bench-limits-secret_1"
BUSY = "Many people are writing right now."
TOLD = "Thanks. Messages are coming in fast"


def minute_of(moment: float) -> int:
    return int(moment) - int(moment) % 60


class Server:
    """``safeharbor serve`` (N processes sharing a port) and, optionally, workers, on one database."""

    def __init__(self, env: dict, processes: int, workers: int = 0, home: Path | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**env, "SAFEHARBOR_PUBLIC_URL": self.base, "PYTHONPATH": str(ROOT), "SAFEHARBOR_LOG_LEVEL": "ERROR"}
        self.children = [self._start(["serve", "--no-background", "--workers", str(processes), "--port", str(self.port)], env, home)]
        self.children += [self._start(["worker"], env, home) for _ in range(workers)]
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or any(c.poll() is not None for c in self.children):
                self.stop()
                raise SystemExit("safeharbor did not start (see its output above)")
            time.sleep(0.2)

    @staticmethod
    def _start(args: list[str], env: dict, home: Path | None) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "bot", *args], env=env, cwd=home or ROOT, start_new_session=True)

    def stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)


class Sms:
    """Signed Twilio posts to one server; thread-safe."""

    def __init__(self, base: str):
        self.base = base
        self.client = httpx.Client(base_url=base, timeout=60, limits=httpx.Limits(max_connections=64))
        self._serial = 0
        self._lock = threading.Lock()

    def post(self, number: str, body: str) -> tuple[list[str], float]:
        with self._lock:
            self._serial += 1
            sid = f"SM{self._serial:032x}"
        fields = {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": "AC" + "1" * 32, "From": number,
                  "To": "+14155550100", "Body": body, "NumMedia": "0", "ApiVersion": "2010-04-01"}
        signature = RequestValidator(TOKEN).compute_signature(f"{self.base}/webhooks/twilio/sms", fields)
        started = time.perf_counter()
        response = self.client.post("/webhooks/twilio/sms", data=fields, headers={"X-Twilio-Signature": signature})
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        return [m.text or "" for m in ET.fromstring(response.text).iter("Message")], elapsed


def database(kind: str) -> tuple[str, object]:
    """A fresh database URL, and what to call to drop it."""
    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix="safeharbor-limits-")
        return f"sqlite:///{folder}/bench.db", lambda: None
    from testkit.databases import drop_postgres_schema, new_postgres_schema, postgres_unavailable

    reason = postgres_unavailable()
    if reason:
        raise SystemExit(reason)
    url, schema = new_postgres_schema()
    return url, lambda: drop_postgres_schema(schema)


def server_counts(url: str) -> dict[int, int]:
    from testkit.databases import rows

    return {start: count for start, count in rows(url, "SELECT window_start, count FROM limit_windows WHERE name = 'new_conversations'")}


def start_talking(sms: Sms, people: list[str], writers: list[str]) -> None:
    """The three people and the two fast writers start their conversations; returns at the start
    of the next clock minute, when the flood begins."""
    for number in people:
        for text in ("hi", "1", "1"):
            sms.post(number, text)
    for number in writers:
        sms.post(number, "hi")
    wait = 60 - time.time() % 60
    print(f"  three people and two fast writers started; the flood starts at the next minute, in {wait:.0f} s", flush=True)
    time.sleep(wait + 0.05)


def sms_flood(args, url: str) -> dict:
    env = {**os.environ, "SAFEHARBOR_ENV": "test", "DATABASE_URL": url, "SAFEHARBOR_CONTENT_DIR": str(ROOT),
           "TWILIO_AUTH_TOKEN": TOKEN, **generate_keys(),
           "SAFEHARBOR_LIMIT_NEW_CONVERSATIONS_PER_MINUTE": str(args.new_per_minute),
           "SAFEHARBOR_LIMIT_MESSAGES_PER_PERSON_PER_MINUTE": str(args.per_person)}
    home = Path(tempfile.mkdtemp(prefix="safeharbor-limits-home-"))
    env["SAFEHARBOR_HOME"] = str(home)
    from bot.store import open_database

    open_database(url).dispose()  # the schema, once, before the processes start
    print(f"part 1: {args.processes} web process(es) on {args.database}, limits {args.new_per_minute} new conversations "
          f"and {args.per_person} messages per person per minute", flush=True)
    server = Server(env, args.processes, home=home)
    sms = Sms(server.base)
    people = [f"+1415550{n:04d}" for n in range(3)]
    writers = [f"+1415551{n:04d}" for n in range(2)]
    try:
        start_talking(sms, people, writers)
        end = time.time() + args.minutes * 60 - 0.5
        flood: list[tuple[int, str, float]] = []  # (minute, "full" | "busy", seconds)
        writes: dict[str, list[tuple[int, str]]] = defaultdict(list)  # number -> (minute, answered | told | silent)
        people_held_back = Counter()
        errors = Counter()
        serial = iter(range(10**9))
        lock = threading.Lock()

        def flooder():
            while time.time() < end:
                number = f"+1{2000000000 + next(serial):010d}"
                try:
                    replies, elapsed = sms.post(number, "hi")
                except Exception as exc:  # noqa: BLE001 - counted, reported
                    errors[type(exc).__name__] += 1
                    continue
                kind = "busy" if replies and BUSY in replies[0] else "full"
                with lock:
                    flood.append((minute_of(time.time()), kind, elapsed))

        def writer(number: str):
            while time.time() < end:
                at = time.time()
                replies, _ = sms.post(number, "menu")
                kind = "silent" if not replies else "told" if replies[0].startswith(TOLD) else "answered"
                writes[number].append((minute_of(at), kind))
                time.sleep(max(0.0, 0.5 - (time.time() - at)))

        def person(number: str):
            texts = ["menu", "2", "menu", "3"]
            n = 0
            while time.time() < end:
                replies, _ = sms.post(number, texts[n % len(texts)])
                n += 1
                if not replies or BUSY in replies[0] or replies[0].startswith(TOLD):
                    people_held_back[number] += 1
                time.sleep(4)

        threads = [threading.Thread(target=flooder) for _ in range(args.flooders)]
        threads += [threading.Thread(target=writer, args=(n,)) for n in writers]
        threads += [threading.Thread(target=person, args=(n,)) for n in people]
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            time.sleep(5)
            with lock:
                now_minute = minute_of(time.time())
                this = [k for m, k, _ in flood if m == now_minute]
            print(f"  {time.strftime('%H:%M:%S')}  flood posts {len(flood):6d} (this minute: {this.count('full')} full, "
                  f"{this.count('busy')} short)  fast writers {sum(len(v) for v in writes.values())} posts", flush=True)
        counted = server_counts(url)
    finally:
        server.stop()
    return {
        "processes": args.processes, "database": args.database, "flooders": args.flooders,
        "minutes": minute_rows(flood, writes, writers, counted, args.new_per_minute),
        "per_person_configured": args.per_person, "people_held_back": sum(people_held_back.values()), "errors": dict(errors),
        # admitted turns queue on the minute's row (PostgreSQL); the short answers should not
        "latency_ms": {"admitted": percentiles(flood, "full"), "short_answer": percentiles(flood, "busy")},
    }


def minute_rows(flood: list[tuple[int, str, float]], writes: dict[str, list[tuple[int, str]]], writers: list[str],
                counted: dict[int, int], configured: int) -> list[dict]:
    """Per clock minute of the flood: posted, full and short answers, the database's count of
    admitted conversations, and each fast writer's messages by how they were answered."""
    rows = []
    for m in sorted({m for m, _, _ in flood}):
        kinds = Counter(k for mm, k, _ in flood if mm == m)
        row = {"minute": time.strftime("%H:%M", time.gmtime(m)), "posted": kinds["full"] + kinds["busy"], "full_answers": kinds["full"],
               "short_answers": kinds["busy"], "admitted_by_database": counted.get(m, 0), "configured": configured}
        for index, number in enumerate(writers):
            got = Counter(k for mm, k in writes[number] if mm == m)
            row[f"writer{index + 1}"] = {"posted": sum(got.values()), "answered": got["answered"], "told": got["told"], "silent": got["silent"]}
        rows.append(row)
    return rows


def percentiles(flood: list[tuple[int, str, float]], kind: str) -> dict:
    """Latency in ms of the flood's answers of one kind ("full" | "busy"); {} when there was none."""
    latencies = sorted(e for _, k, e in flood if k == kind)
    if not latencies:
        return {}
    return {"count": len(latencies), "p50": 1000 * statistics.median(latencies),
            "p99": 1000 * latencies[int(0.99 * (len(latencies) - 1))], "max": 1000 * latencies[-1]}


def telegram_flood(args, url: str) -> dict:
    from testkit.fake_bot_api import FakeBotApi, most_in_any

    with FakeBotApi() as fake:
        env = {**os.environ, "SAFEHARBOR_ENV": "test", "DATABASE_URL": url, "SAFEHARBOR_CONTENT_DIR": str(ROOT),
               "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE_URL": fake.url, "TELEGRAM_WEBHOOK_SECRET": SECRET,
               **generate_keys(), "SAFEHARBOR_LIMIT_NEW_CONVERSATIONS_PER_MINUTE": "1000000",
               "SAFEHARBOR_LIMIT_TELEGRAM_PER_SECOND": str(args.telegram_rate)}
        home = Path(tempfile.mkdtemp(prefix="safeharbor-limits-tg-"))
        env["SAFEHARBOR_HOME"] = str(home)
        from bot.store import open_database

        open_database(url).dispose()
        print(f"part 2: {args.telegram_chats} new Telegram chats at once and 5 chats writing 10 messages each, "
              f"2 workers, {args.telegram_rate} sends/s configured", flush=True)
        server = Server(env, 1, workers=2, home=home)
        client = httpx.Client(base_url=server.base, timeout=60)
        update = iter(range(1, 10**9))
        try:
            def say(chat: int, text: str):
                n = next(update)
                message = {"message_id": n, "from": {"id": chat, "is_bot": False, "first_name": "P"},
                           "chat": {"id": chat, "type": "private", "first_name": "P"}, "date": int(time.time()), "text": text}
                client.post("/webhooks/telegram", json={"update_id": n, "message": message},
                            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}).raise_for_status()

            started = time.monotonic()
            for chat in range(args.telegram_chats):
                say(700000000 + chat, "hi")
            bursts = [710000000 + n for n in range(5)]
            for text in ["hi", "1", "1"] + ["menu"] * 7:
                for chat in bursts:
                    say(chat, text)
            posted = time.monotonic() - started
            expected = args.telegram_chats + 10 * len(bursts)
            deadline = time.monotonic() + 30 + expected / args.telegram_rate * 3
            while len(fake.accepted_by("sendMessage")) < expected and time.monotonic() < deadline:
                time.sleep(1)
                print(f"  {time.strftime('%H:%M:%S')}  sent {len(fake.accepted_by('sendMessage'))} of {expected}", flush=True)
        finally:
            client.close()
            server.stop()
        times = fake.accepted_at("sendMessage")
        chats = [str(c["chat_id"]) for c in fake.accepted_by("sendMessage")]
        by_chat = defaultdict(list)
        for chat, at in zip(chats, times):
            by_chat[chat].append(at)
        return {
            "configured_per_second": args.telegram_rate, "queued": expected, "sent": len(times),
            "posting_seconds": round(posted, 2), "sending_seconds": round(max(times) - min(times), 2) if times else None,
            "most_in_any_second": most_in_any(times, 1.0), "most_to_one_chat_in_any_3_s": max(most_in_any(v, 3.0) for v in by_chat.values()),
            "not_accepted": sum(1 for method, _ in fake.calls if method == "sendMessage") - len(times), "violations": len(fake.violations),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--processes", type=int, default=2, help="web processes (serve --workers N)")
    parser.add_argument("--minutes", type=int, default=2, help="whole clock minutes of flood")
    parser.add_argument("--flooders", type=int, default=8, help="threads posting from new numbers")
    parser.add_argument("--new-per-minute", type=int, default=30)
    parser.add_argument("--per-person", type=int, default=20)
    parser.add_argument("--telegram-chats", type=int, default=600)
    parser.add_argument("--telegram-rate", type=int, default=25, help="SAFEHARBOR_LIMIT_TELEGRAM_PER_SECOND")
    parser.add_argument("--quick", action="store_true", help="one minute of flood, 200 Telegram chats")
    parser.add_argument("--only", choices=("sms", "telegram"))
    args = parser.parse_args()
    if args.quick:
        args.minutes, args.telegram_chats = 1, 200
    report: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count()}
    for part, run in (("sms", sms_flood), ("telegram", telegram_flood)):
        if args.only and args.only != part:
            continue
        url, drop = database(args.database)
        try:
            report[part] = run(args, url)
        finally:
            drop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "limits.json").write_text(json.dumps(report, indent=2))
    if "sms" in report:
        sms = report["sms"]
        print("\nminute  posted  admitted (database / full answers)  configured  short answers  "
              + "  ".join(f"writer{i} answered/told/silent of posted" for i in (1, 2)))
        for row in sms["minutes"]:
            writers = "  ".join(f"{w['answered']:>4}/{w['told']}/{w['silent']:<4} of {w['posted']:<4}" for w in (row["writer1"], row["writer2"]))
            print(f"{row['minute']}  {row['posted']:>6}  {row['admitted_by_database']:>8} / {row['full_answers']:<8}"
                  f"{'':>19}{row['configured']:>6}  {row['short_answers']:>13}  {writers}")
        admitted, short = sms["latency_ms"]["admitted"], sms["latency_ms"]["short_answer"]
        print(f"per-person limit {sms['per_person_configured']}/min; the three people held back {sms['people_held_back']} time(s); "
              f"errors {sms['errors'] or 'none'}")
        print(f"answers to the flood: admitted p50 {admitted.get('p50', 0):.1f} ms, p99 {admitted.get('p99', 0):.1f} ms, "
              f"max {admitted.get('max', 0):.1f} ms; short answers p50 {short.get('p50', 0):.1f} ms, p99 {short.get('p99', 0):.1f} ms")
    if "telegram" in report:
        tg = report["telegram"]
        print(f"\nTelegram: {tg['sent']} of {tg['queued']} replies sent in {tg['sending_seconds']} s; at most {tg['most_in_any_second']} "
              f"in any second (configured {tg['configured_per_second']}); at most {tg['most_to_one_chat_in_any_3_s']} to one chat in any 3 s; "
              f"{tg['not_accepted']} calls refused; {tg['violations']} API violations")
    print(f"\nwritten to {RESULTS / 'limits.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

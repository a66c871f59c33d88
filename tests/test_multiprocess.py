"""Several processes on one PostgreSQL: ``safeharbor serve --workers 4`` and two ``safeharbor
worker`` processes, signed SMS and Telegram webhooks for many conversations at once, a third of
them redelivered 2 or 3 times concurrently. Every conversation's replies must equal a
sequential, single-process run of the same messages; no delivery is applied twice, no Telegram
message is sent twice, none is lost.

The CI-sized run is about 1,000 deliveries (``SAFEHARBOR_MP_MESSAGES``); the full size lives in
``bench/multiprocess.py``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fake_bot_api import fake_bot_api  # noqa: F401  (the fixture)
from starlette.datastructures import FormData
from twilio.request_validator import RequestValidator

from bot.channels import telegram, twilio_sms
from bot.config import Settings, generate_keys
from bot.service import Service
from testkit.databases import rows
from tests.conftest import REPO
from tests.serving import free_port

pytestmark = pytest.mark.postgresql_only

TOKEN = "77777777777777777777777777777777"
SECRET = "multiprocess-secret_1"
SCRIPTS = [
    ["hi", "1", "1", "2", "1", "1", "2", "3"],
    ["hola", "2", "si", "3", "2", "1", "4", "menú", "salir"],
    ["help me", "1", "yes", "1", "menu", "2"],
    ["hello", "english", "yes", "I need a lawyer", "other", "place to stay", "main menu", "EXIT"],
    ["hi", "1", "1", "5", "1", "1", "2", "menu"],
    ["hi", "1", "1", "language", "2", "ayuda", "1", "7", "1"],
    ["hi", "asdf", "1", "??", "1", "what?", "4", "1"],
    ["Hola, me dio este número una amiga", "2", "sí", "6", "1", "menu", "3", "5", "1"],
]


def plan(total: int, people: int | None = None, seed: int = 2026):
    """Conversations (channel, address, texts) adding up to about ``total`` messages; with
    ``people``, exactly that many conversations of ``total // people`` messages each (scripts
    one after another)."""
    rng = random.Random(seed)
    conversations, count, n = [], 0, 0
    while (n < people) if people else (count < total):
        texts = list(rng.choice(SCRIPTS))
        if people:
            while len(texts) < total // people:
                texts += rng.choice(SCRIPTS)
            texts = texts[: total // people]
        channel = "telegram" if n % 3 == 0 else "sms"
        address = str(600000000 + n) if channel == "telegram" else f"+1415555{n:04d}"
        conversations.append((channel, address, texts))
        count += len(texts)
        n += 1
    return conversations


class Deliveries:
    """Builds the provider payloads, with ids that never repeat across conversations."""

    def __init__(self, base: str):
        self.base = base
        self.serial = 0

    def sms(self, address: str, text: str) -> tuple[dict, dict]:
        self.serial += 1
        sid = f"SM{self.serial:032x}"
        fields = {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": "AC" + "7" * 32, "From": address,
                  "To": "+14155550100", "Body": text, "NumMedia": "0", "ApiVersion": "2010-04-01"}
        signature = RequestValidator(TOKEN).compute_signature(f"{self.base}/webhooks/twilio/sms", fields)
        return fields, {"X-Twilio-Signature": signature}

    def telegram(self, chat: str, text: str) -> dict:
        self.serial += 1
        user = {"id": int(chat), "is_bot": False, "first_name": "P"}
        return {"update_id": self.serial, "message": {
            "message_id": self.serial, "from": user, "chat": {"id": int(chat), "type": "private"}, "date": int(time.time()), "text": text,
        }}


def expected_replies(conversations, settings_env: dict, tmp: Path, base: str) -> tuple[dict[str, list[str]], dict[str, list[int]]]:
    """A sequential run of the same deliveries, in this process, on its own SQLite database:
    the replies of each conversation, and for Telegram how many there are after each message."""
    settings = Settings.from_env({**settings_env, "DATABASE_URL": f"sqlite:///{tmp / 'reference.db'}"})
    service = Service.from_settings(settings)
    deliveries = Deliveries(base)
    replies: dict[str, list[str]] = {}
    counts: dict[str, list[int]] = {}
    for channel, address, texts in conversations:
        got = replies.setdefault(address, [])
        for text in texts:
            if channel == "sms":
                fields, _ = deliveries.sms(address, text)
                reception = service.receive(twilio_sms.parse_message(FormData(list(fields.items()))))
                document = twilio_sms.twiml(reception.outputs, reception.alphabet)
                got.extend(m.text or "" for m in ET.fromstring(document).iter("Message"))
            else:
                reception = service.receive(telegram.parse_update(deliveries.telegram(address, text)))
                got.extend(telegram.render(output, int(address))["text"] for output in reception.outputs)
                counts.setdefault(address, []).append(len(got))
    service.close()
    return replies, counts


def start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args], env=env, cwd=REPO, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_until_healthy(client: httpx.Client, log: Path, seconds: float = 60) -> None:
    """Until ``GET /healthz`` answers 200 (processes started with ``start``); the log's tail
    when they never do."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.2)


def test_four_web_processes_and_two_workers_match_a_sequential_run(tmp_path, database_url, fake_bot_api):  # noqa: F811
    total = int(os.environ.get("SAFEHARBOR_MP_MESSAGES", "1000"))
    people = int(os.environ["SAFEHARBOR_MP_CONVERSATIONS"]) if os.environ.get("SAFEHARBOR_MP_CONVERSATIONS") else None
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env_settings = {
        "SAFEHARBOR_ENV": "test", "SAFEHARBOR_HOME": str(tmp_path / "home"), "SAFEHARBOR_CONTENT_DIR": str(REPO),
        "SAFEHARBOR_PUBLIC_URL": base, "TWILIO_AUTH_TOKEN": TOKEN, "TELEGRAM_BOT_TOKEN": fake_bot_api.token,
        "TELEGRAM_WEBHOOK_SECRET": SECRET, "TELEGRAM_API_BASE_URL": fake_bot_api.url, **generate_keys(),
        # Correctness under concurrency, compared with a run that has no limits: none is reached
        # (tests/test_limits.py has two processes sharing one).
        "SAFEHARBOR_LIMIT_NEW_CONVERSATIONS_PER_MINUTE": "1000000", "SAFEHARBOR_LIMIT_MESSAGES_PER_PERSON_PER_MINUTE": "1000000",
    }
    conversations = plan(total, people)
    expected, telegram_reply_counts = expected_replies(conversations, env_settings, tmp_path, base)

    env = {**os.environ, **env_settings, "DATABASE_URL": database_url, "SAFEHARBOR_LOG_LEVEL": "WARNING"}
    web = start(["serve", "--workers", "4", "--no-background", "--port", str(port)], env, tmp_path / "web.log")
    workers = [start(["worker"], env, tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            wait_until_healthy(client, tmp_path / "web.log")

            rng = random.Random(7)
            deliveries = Deliveries(base)
            prepared = []  # per conversation: [(kind, payload, headers, copies)]
            for channel, address, texts in conversations:
                items = []
                for text in texts:
                    copies = rng.choice((2, 3)) if rng.random() < 1 / 3 else 1
                    if channel == "sms":
                        fields, headers = deliveries.sms(address, text)
                        items.append(("sms", fields, headers, copies))
                    else:
                        items.append(("telegram", deliveries.telegram(address, text), {"X-Telegram-Bot-Api-Secret-Token": SECRET}, copies))
                prepared.append((channel, address, items))

            got: dict[str, list[str]] = defaultdict(list)
            telegram_counts = telegram_reply_counts
            applied_copies = Counter()

            local = threading.local()
            clients: list[httpx.Client] = []

            def own_client() -> httpx.Client:
                # One client per thread: httpx's pool, shared by a hundred threads, closed sockets
                # under another thread's request now and then (EBADF on the client side).
                if not hasattr(local, "client"):
                    local.client = httpx.Client(base_url=base, timeout=30)
                    clients.append(local.client)
                return local.client

            def post(kind, payload, headers):
                client = own_client()
                if kind == "sms":
                    response = client.post("/webhooks/twilio/sms", data=payload, headers=headers)
                    assert response.status_code == 200, response.text
                    return [m.text or "" for m in ET.fromstring(response.text).iter("Message")]
                response = client.post("/webhooks/telegram", json=payload, headers=headers)
                assert response.status_code == 200, response.text
                assert response.json() == {}, "a turn failed (the fallback was answered)"
                return None

            def converse(channel, address, items, pool):
                # One person writes in order, each message after reading the replies to the last
                # (on Telegram they come from the workers: a quick exit or a greeting rightly
                # drops replies not yet sent). The provider's redeliveries of a message arrive
                # at the same time as it, on other connections and so other processes.
                waiting_for = 0
                for kind, payload, headers, copies in items:
                    if kind == "telegram":
                        deadline = time.monotonic() + 60
                        while len(fake_bot_api.calls_to("sendMessage", chat_id=int(address))) < waiting_for:
                            assert time.monotonic() < deadline, f"chat {address}: replies did not arrive"
                            time.sleep(0.05)
                    answers = list(pool.map(lambda _: post(kind, payload, headers), range(copies)))
                    applied_copies[copies] += 1
                    if kind == "sms":
                        assert all(a == answers[0] for a in answers), "a redelivery got another reply"
                        got[address].extend(answers[0])
                    else:
                        waiting_for = telegram_counts[address].pop(0)

            started = time.monotonic()
            with ThreadPoolExecutor(48) as outer, ThreadPoolExecutor(96) as inner:
                for future in [outer.submit(converse, c, a, i, inner) for c, a, i in prepared]:
                    future.result()
            elapsed = time.monotonic() - started
            for each in clients:
                each.close()

            # Telegram replies go out through the outbox, sent by the two workers.
            telegram_expected = sum(len(expected[a]) for c, a, _ in conversations if c == "telegram")
            deadline = time.monotonic() + 90
            while len(fake_bot_api.calls_to("sendMessage")) < telegram_expected:
                assert time.monotonic() < deadline, f"{len(fake_bot_api.calls_to('sendMessage'))} of {telegram_expected} Telegram replies"
                time.sleep(0.2)
            time.sleep(1.0)  # anything sent twice would show now
            for call in fake_bot_api.calls_to("sendMessage"):
                got[str(call["chat_id"])].append(call["text"])

        sent = sum(len(texts) for _, _, texts in conversations)
        redelivered = sum(n for copies, n in applied_copies.items() if copies > 1)
        for channel, address, _ in conversations:
            assert got[address] == expected[address], (channel, address)
        assert len(fake_bot_api.calls_to("sendMessage")) == telegram_expected  # none twice, none lost
        assert fake_bot_api.violations == []
        (applied,) = rows(database_url, "SELECT count(*) FROM deliveries")[0]
        assert applied == sent  # each delivery applied once, whatever the copies
        assert redelivered > sent / 4
        print(f"\n{sent} messages ({redelivered} redelivered 2-3 times) over {len(conversations)} conversations "
              f"through 4 web processes and 2 workers in {elapsed:.1f} s")
    finally:
        stop(web)
        for worker in workers:
            stop(worker)

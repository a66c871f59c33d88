"""A worker process killed in the middle of its work (SIGKILL, no goodbye) loses nothing: the
Bot API refuses the first sends (5xx), the worker backs off, is killed while waiting, and
another worker process sends the message, once, in order with what followed it.

Not covered, because no one can: a worker killed after the provider accepted a message and
before it recorded that. Its claim expires (2 minutes) and the message goes out again; neither
Twilio nor Telegram takes an idempotency key that would let the second send be refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from fake_bot_api import fake_bot_api  # noqa: F401  (the fixture)

from bot.channels import telegram
from bot.config import Settings, generate_keys
from bot.service import Service
from testkit.databases import rows
from tests.conftest import REPO

CHAT = 730012345


def worker(env: dict, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bot", "worker"], env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def test_a_killed_worker_loses_nothing_and_the_next_sends_once(tmp_path, database_url, fake_bot_api):  # noqa: F811
    env = {
        **os.environ, "SAFEHARBOR_ENV": "test", "SAFEHARBOR_HOME": str(tmp_path), "SAFEHARBOR_CONTENT_DIR": str(REPO),
        "DATABASE_URL": database_url, "TELEGRAM_BOT_TOKEN": fake_bot_api.token, "TELEGRAM_API_BASE_URL": fake_bot_api.url,
        "TELEGRAM_WEBHOOK_SECRET": "killed-secret_1", **generate_keys(),
    }
    service = Service.from_settings(Settings.from_env(env))
    update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "hi", "chat": {"id": CHAT, "type": "private"},
                                          "from": {"id": CHAT, "is_bot": False, "first_name": "W"}}}
    reception = service.receive(telegram.parse_update(update))
    expected = [telegram.render(output, CHAT)["text"] for output in reception.outputs]
    service.close()
    fake_bot_api.fail("sendMessage", status=502, times=3)  # the first sends fail: the worker backs off

    log = (tmp_path / "workers.log").open("w")
    first = worker(env, log)
    try:
        deadline = time.monotonic() + 30
        # It tried, was refused, and is waiting to try again (the retry is recorded).
        while not rows(database_url, "SELECT id FROM outbox WHERE status = 'pending' AND attempts >= 1"):
            assert time.monotonic() < deadline, "the first worker never tried"
            time.sleep(0.02)
        os.killpg(first.pid, signal.SIGKILL)  # killed in its backoff: the message must not be lost
        first.wait()
        sent_before = fake_bot_api.accepted_by("sendMessage")
        assert sent_before == []

        second = worker(env, log)
        try:
            deadline = time.monotonic() + 60
            while len(fake_bot_api.accepted_by("sendMessage")) < len(expected):
                assert time.monotonic() < deadline, "the message was lost"
                time.sleep(0.05)
            time.sleep(1.5)  # a second copy would show by now
            assert [call["text"] for call in fake_bot_api.accepted_by("sendMessage")] == expected  # once, in order
        finally:
            os.killpg(second.pid, signal.SIGTERM)
            second.wait(timeout=20)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)

"""``safeharbor serve``, ``serve --telegram-polling`` and ``telegram set-webhook`` as real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
from fake_bot_api import fake_bot_api  # noqa: F401  (the fixture)

from tests.conftest import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(home, **extra) -> dict:
    """The environment of a child process: the embedded database under ``home`` unless ``extra``
    names a ``DATABASE_URL``."""
    env = {**os.environ, "SAFEHARBOR_HOME": str(home), "SAFEHARBOR_CONTENT_DIR": str(REPO)}
    env.pop("DATABASE_URL", None)
    return {**env, **extra}


def start(home, *args, **extra) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port), *args],
        env=environment(home, **extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"serve did not start: {process.communicate()[1][-2000:]}")
        time.sleep(0.1)


def stop(process: subprocess.Popen) -> tuple[int, str]:
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError("serve did not stop on Ctrl-C")
    return process.returncode, err


def test_serve_runs_on_the_embedded_defaults_and_stops_cleanly(tmp_path):
    process, base = start(tmp_path)
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    assert httpx.post(f"{base}/webhooks/telegram", json={}).status_code == 403  # Telegram off: nothing accepted
    assert httpx.post(f"{base}/webhooks/twilio/sms", data={"Body": "hi"}).status_code == 403
    code, err = stop(process)
    assert code == 0 and "Traceback" not in err
    assert "SMS is off" in err and "using development keys" in err
    assert (tmp_path / "safeharbor.db").exists() and (tmp_path / "dev-keys.json").exists()


def test_production_refuses_to_serve_without_keys(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--port", str(free_port())],
        env=environment(tmp_path, SAFEHARBOR_ENV="production"), capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 2 and "production never uses generated keys" in done.stderr


def test_set_webhook_registers_the_public_url_with_the_secret(tmp_path, fake_bot_api):  # noqa: F811
    done = subprocess.run(
        [sys.executable, "-m", "bot", "telegram", "set-webhook"],
        env=environment(
            tmp_path, TELEGRAM_BOT_TOKEN=fake_bot_api.token, TELEGRAM_WEBHOOK_SECRET="hook_secret-1",
            TELEGRAM_API_BASE_URL=fake_bot_api.url, SAFEHARBOR_PUBLIC_URL="https://help.example.org",
        ),
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 0, done.stderr
    (call,) = fake_bot_api.calls_to("setWebhook")
    assert call["url"] == "https://help.example.org/webhooks/telegram" and call["secret_token"] == "hook_secret-1"
    assert fake_bot_api.violations == []
    missing = subprocess.run(
        [sys.executable, "-m", "bot", "telegram", "set-webhook"], env=environment(tmp_path),
        capture_output=True, text=True, timeout=30,
    )
    assert missing.returncode == 2 and "TELEGRAM_BOT_TOKEN" in missing.stderr


def test_telegram_polling_answers_without_a_public_url(tmp_path, fake_bot_api):  # noqa: F811
    process, _ = start(
        tmp_path, "--telegram-polling",
        TELEGRAM_BOT_TOKEN=fake_bot_api.token, TELEGRAM_API_BASE_URL=fake_bot_api.url,
    )
    try:
        chat = {"id": 5550123, "type": "private", "first_name": "M"}
        fake_bot_api.push_update({"message": {
            "message_id": 5, "date": int(time.time()), "chat": chat, "text": "hola",
            "from": {"id": 5550123, "is_bot": False, "first_name": "M"},
        }})
        deadline = time.monotonic() + 15
        while not fake_bot_api.accepted_by("sendMessage"):
            assert time.monotonic() < deadline, "no reply while polling"
            time.sleep(0.1)
        reply = fake_bot_api.accepted_by("sendMessage")[0]
        assert reply["chat_id"] == 5550123 and reply["text"].startswith("Hi, thanks for writing.")
        assert fake_bot_api.calls_to("deleteWebhook")  # polling needs the webhook removed
    finally:
        code, err = stop(process)
    assert code == 0 and "Traceback" not in err
    assert fake_bot_api.violations == []

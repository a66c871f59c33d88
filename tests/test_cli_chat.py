"""``safeharbor chat`` as a person or a script drives it: a real process, a real SQLite file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.domain.sms import sms_cost
from tests.conftest import REPO


def chat(home: Path, lines: list[str] | bytes, *args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "SAFEHARBOR_HOME": str(home), "SAFEHARBOR_CONTENT_DIR": str(REPO), **(env_extra or {})}
    env.pop("DATABASE_URL", None)
    data = lines if isinstance(lines, bytes) else ("\n".join(lines) + "\n").encode()
    return subprocess.run(
        [sys.executable, "-m", "bot", "chat", *args], input=data, capture_output=True, env=env, timeout=60
    )


def replies(done: subprocess.CompletedProcess) -> list[str]:
    """One reply block per inbound line (each reply is followed by a blank line)."""
    return done.stdout.decode().split("\n\n")[:-1]


def test_a_scripted_conversation_prints_one_reply_per_line_with_numbered_choices(tmp_path):
    done = chat(tmp_path, ["hola", "2", "1", "2", "1"], "--from", "+15550001111")
    assert done.returncode == 0, done.stderr
    out = replies(done)
    assert len(out) == 5
    assert out[0].startswith("Hi, thanks for writing. / Hola, gracias por escribir.")
    assert out[0].endswith("1 English\n2 Español")
    assert out[2].startswith("Aqui tienes algunas opciones.") and "\n7 Idioma / Language" in out[2]  # as SMS sends it
    assert "- Ayuda legal gratis, corte de inmigracion (DOJ): www.justice.gov/eoir/" in out[4]  # the name in Spanish, folded
    assert "Traceback" not in done.stderr.decode()


def test_chat_as_sms_prints_the_body_sms_sends_and_as_telegram_the_text_as_written(tmp_path):
    lines = ["hola", "2"]
    sms = replies(chat(tmp_path / "sms", lines, "--from", "+15550001212", "--channel", "sms"))
    telegram = replies(chat(tmp_path / "tg", lines, "--from", "+15550001212", "--channel", "telegram"))

    # every accent folded, é too (GSM-7 has it, but half-accented Spanish reads as a mistake);
    # ñ, ¿ and ¡ stay; and nothing an SMS would not carry
    assert "¿Es seguro para ti hablar ahora? Si no lo es, no pasa nada. Escribe de nuevo cuando quieras, de dia o de noche." in sms[1]
    assert sms[1].endswith("1 Puedo hablar\n2 Ahora no")
    assert "2 Español" in sms[0]
    assert not set("áéíóúüÁÉÍÓÚ") & set("".join(sms))
    assert all(sms_cost(reply).encoding == "GSM-7" for reply in sms)
    assert "cuando quieras, de día o de noche." in telegram[1]  # Telegram carries the text as written
    assert telegram[1].endswith("[1 Puedo hablar] [2 Ahora no]")


def test_the_same_address_continues_the_conversation_from_the_database(tmp_path):
    chat(tmp_path, ["hi", "1", "1"], "--from", "+15550002222")
    again = replies(chat(tmp_path, ["3"], "--from", "+15550002222"))
    assert again[0].startswith("Here is some information. You have rights")
    other = replies(chat(tmp_path, ["3"], "--from", "+15550003333"))
    assert other[0].startswith("Hi, thanks for writing.")  # another person starts at the beginning


def test_bad_input_gets_gentle_re_prompts_and_never_a_crash(tmp_path):
    nasty = b"\n".join([
        b"hi", b"1", b"1",
        b"", b"   ", b"\xff\xfe\x00garbage\x80", "😀".encode(), "שלום".encode(), b"x" * 5000,
        b"'; DROP TABLE conversations; --", b"99",
    ]) + b"\n"
    done = chat(tmp_path, nasty, "--from", "+15550004444")
    assert done.returncode == 0
    out = replies(done)
    assert len(out) == 11
    assert out[3].startswith("Let's try again.\nReply with a number, or write a few words about what you need.")
    assert "1 I need help now" in out[3]
    for reply in out[4:]:  # missed again and again: a person is offered, and never a bare "didn't get that"
        assert reply.startswith("Here are some options.\nI may not have understood"), reply
        assert "Talk to a person" in reply
    assert b"Traceback" not in done.stderr


def test_a_reader_that_stops_early_ends_the_chat_quietly(tmp_path):
    env = {**os.environ, "SAFEHARBOR_HOME": str(tmp_path), "SAFEHARBOR_CONTENT_DIR": str(REPO)}
    env.pop("DATABASE_URL", None)
    chat_process = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    chat_process.stdin.write(b"hola\n")
    chat_process.stdin.flush()
    assert chat_process.stdout.readline().startswith(b"Hi, thanks for writing.")  # one line, then the reader goes away
    chat_process.stdout.close()
    _, errors = chat_process.communicate(b"hola\n2\n1\n" * 50, timeout=60)
    assert b"Traceback" not in errors and b"BrokenPipe" not in errors
    assert chat_process.returncode == 141


def test_telegram_style_shows_buttons(tmp_path):
    out = replies(chat(tmp_path, ["hi"], "--channel", "telegram"))
    assert out[0].endswith("[1 English] [2 Español]")


def test_production_without_keys_refuses_with_a_clear_message(tmp_path):
    done = chat(tmp_path, ["hi"], env_extra={"SAFEHARBOR_ENV": "production"})
    assert done.returncode == 2
    assert b"production never uses generated keys" in done.stderr
    assert b"Traceback" not in done.stderr and done.stdout == b""
    assert not (tmp_path / "dev-keys.json").exists()


def test_the_safeharbor_command_is_installed():
    command = shutil.which("safeharbor", path=str(Path(sys.executable).parent)) or shutil.which("safeharbor")
    if command is None:
        pytest.fail("the safeharbor console script is not installed (pip install -e .)")
    done = subprocess.run([command, "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "chat" in done.stdout and "flows" in done.stdout


def test_keys_generate_prints_usable_environment_lines(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bot", "keys", "generate"], capture_output=True, text=True, timeout=30)
    values = dict(line.split("=", 1) for line in done.stdout.splitlines())
    assert set(values) == {"SAFEHARBOR_ENCRYPTION_KEYS", "SAFEHARBOR_PEPPER"}
    served = chat(tmp_path, ["hi"], env_extra={"SAFEHARBOR_ENV": "production", **values})
    assert served.returncode == 0 and replies(served)[0].startswith("Hi, thanks for writing.")

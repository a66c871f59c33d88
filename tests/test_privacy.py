"""Privacy as behaviour: after real conversations, neither the database file nor the logs hold
the sender's address or anything they wrote (DESIGN "Minimal encrypted state")."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from bot.domain import Channel, Inbound
from testkit.databases import stored_bytes
from tests.conftest import REPO
from tests.waiting import eventually

ADDRESS = "+15557654321"
# Things a frightened person might type; none of it may be kept or logged.
WRITTEN = [
    "hola",
    "2",
    "1",
    "me llamo Rosa Mendez y estoy en 42 Elm Street",
    "2",
    "necesito un abogado por favor, mi jefe tiene mi pasaporte",
    "idioma",
    "1",
    "my boss Carlos Ruiz took my passport at Sunrise Farms",
    "3",
]
DISTINCTIVE = ["Rosa Mendez", "42 Elm Street", "Carlos Ruiz", "Sunrise Farms", "mi jefe tiene mi pasaporte"]


def address_forms(address: str) -> list[bytes]:
    digits = address.lstrip("+")
    return [form.encode(encoding) for form in (address, digits, digits[1:]) for encoding in ("utf-8", "utf-16-le")]


def text_forms(text: str) -> list[bytes]:
    return [text.encode("utf-8"), text.encode("utf-16-le"), text.lower().encode("utf-8")]


database_bytes = stored_bytes  # SQLite: the files, read raw; PostgreSQL: every row of every table


def test_the_database_and_logs_hold_no_address_and_no_message(sql_service, settings, caplog):
    caplog.set_level(logging.DEBUG)
    for text in WRITTEN:
        sql_service.handle(Inbound(Channel.SMS, ADDRESS, text))
    stored = database_bytes(settings.database_url)
    logged = caplog.text.encode()
    assert len(stored) > 500  # there is something to look at
    assert logging.getLogger("safeharbor.service").isEnabledFor(logging.DEBUG)  # and every level was captured
    for form in address_forms(ADDRESS):
        assert form not in stored and form not in logged
    for text in DISTINCTIVE:
        for form in text_forms(text):
            assert form not in stored and form not in logged, text


def test_the_chat_command_keeps_and_logs_nothing_personal(tmp_path):
    env = {
        **os.environ,
        "SAFEHARBOR_HOME": str(tmp_path),
        "SAFEHARBOR_LOG_LEVEL": "DEBUG",
        "SAFEHARBOR_CONTENT_DIR": str(REPO),
    }
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--from", ADDRESS],
        input="\n".join(WRITTEN) + "\n",
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )
    assert " DEBUG " in done.stderr  # debug logging was on
    stored = database_bytes(f"sqlite:///{tmp_path / 'safeharbor.db'}")
    for form in address_forms(ADDRESS):
        assert form not in stored and form.decode(errors="ignore") not in done.stderr
    for text in DISTINCTIVE:
        assert text.encode() not in stored and text not in done.stderr


def test_after_quick_exit_nothing_of_the_person_is_left_in_the_file(sql_service, settings):
    for text in WRITTEN:
        sql_service.handle(Inbound(Channel.SMS, ADDRESS, text))
    pseudonym = sql_service.pseudonyms.of("sms", ADDRESS)
    tag = sql_service.store.keys.tag(pseudonym)[1].encode()  # what finds the conversation
    assert tag in database_bytes(settings.database_url)
    assert pseudonym.encode() not in database_bytes(settings.database_url)  # never stored itself
    sql_service.handle(Inbound(Channel.SMS, ADDRESS, "SALIR"))
    assert eventually(lambda: tag not in database_bytes(settings.database_url))

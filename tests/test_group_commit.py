"""Group commit on SQLite: the turns the web app runs on its event loop within two passes share a
transaction, each in its own savepoint, and no answer goes out before that transaction commits.

Driven the way the webhooks drive it (``await Service.turn(Service.receive, delivery)``), on a real
SQLite file, with failures SQLite itself produces; what was grouped is read from the writer's own
counters (``Writer.counters``)."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from dataclasses import replace

import httpx
import pytest
from twilio.request_validator import RequestValidator

from bot.channels.base import Delivery
from bot.config import Settings, generate_keys
from bot.domain import Channel, Inbound
from bot.service import Service
from bot.store import database
from bot.store.writer import Counters, writer_of
from bot.web import create_app
from testkit.databases import rows
from tests.conftest import REPO
from tests.serving import free_port, serving

pytestmark = pytest.mark.sqlite_only


def sms(address: str, text: str, sid: str) -> Delivery:
    return Delivery("twilio", sid, Inbound(Channel.SMS, address, text))


async def on_the_loop(service: Service, delivery: Delivery):
    """What ``web.webhooks`` does with a delivery."""
    return await service.turn(service.receive, delivery)


async def one_pass(service: Service, *calls):
    """Every call started in the same pass of the loop (as requests that arrived together)."""
    return await asyncio.gather(*calls, return_exceptions=True)


async def after_passes(passes: int, call):
    """``call`` started ``passes`` passes of the loop later (a request read in a later poll)."""
    for _ in range(passes):
        await asyncio.sleep(0)
    return await call


def conversations(url: str) -> int:
    return rows(url, "SELECT count(*) FROM conversations")[0][0]


def counted(service: Service, run) -> Counters:
    """What the store's writer counted while ``run()`` ran (the differences)."""
    counters = service.store.writer.counters
    before = replace(counters)
    run()
    return Counters(**{name: getattr(counters, name) - value for name, value in vars(before).items()})


def test_turns_of_one_pass_share_a_commit_and_answer_as_one_at_a_time(sql_service, settings):
    first = []
    counters = counted(sql_service, lambda: first.extend(asyncio.run(one_pass(
        sql_service, *(on_the_loop(sql_service, sms(f"+1555000{i:04d}", "hola", f"SM{i}")) for i in range(6))
    ))))
    assert counters == Counters(groups=1, grouped_turns=6)  # six turns, one transaction, nothing failed
    assert conversations(settings.database_url) == 6
    assert all(r.outputs[0].text.startswith("Hi, thanks for writing.") for r in first)
    # The same people write again, one at a time: the stored state is what the grouped turns left.
    second = [sql_service.receive(sms(f"+1555000{i:04d}", "2", f"SN{i}")) for i in range(6)]
    assert all(r.outputs[0].text.startswith("Una pregunta primero.") for r in second)


def test_a_turn_of_the_next_pass_joins_the_group_and_one_a_pass_later_begins_the_next(sql_service, settings):
    counters = counted(sql_service, lambda: asyncio.run(one_pass(
        sql_service,
        on_the_loop(sql_service, sms("+15550003001", "hola", "SM-1")),
        after_passes(1, on_the_loop(sql_service, sms("+15550003002", "hola", "SM-2"))),
    )))
    assert counters == Counters(groups=1, grouped_turns=2)  # the request read while the first turn's group was open joined it
    counters = counted(sql_service, lambda: asyncio.run(one_pass(
        sql_service,
        on_the_loop(sql_service, sms("+15550003003", "hola", "SM-3")),
        after_passes(2, on_the_loop(sql_service, sms("+15550003004", "hola", "SM-4"))),
    )))
    assert counters == Counters(groups=2, grouped_turns=2)  # the group did not wait for it: committed, and a new one begun
    assert conversations(settings.database_url) == 4


def test_a_redelivery_in_the_same_pass_is_applied_once_and_gets_the_same_reply(sql_service, settings):
    asyncio.run(on_the_loop(sql_service, sms("+15550001111", "hi", "SM-a")))
    answers = []
    counters = counted(sql_service, lambda: answers.extend(asyncio.run(one_pass(
        sql_service,
        on_the_loop(sql_service, sms("+15550001111", "1", "SM-b")),
        on_the_loop(sql_service, sms("+15550001111", "1", "SM-b")),  # Twilio's retry, arriving with it
        on_the_loop(sql_service, sms("+15550002222", "hola", "SM-c")),
    ))))
    original, again, third = answers
    # One commit; the retry's turn rolled back alone (its answer read from the first one's record).
    assert counters.groups == 1 and counters.rolled_back_turns == 1 and counters.failed_groups == 0
    assert again.outputs == original.outputs and original.outputs[0].text.startswith("One question first.")
    assert third.outputs[0].text.startswith("Hi, thanks for writing.")
    assert rows(settings.database_url, "SELECT count(*) FROM deliveries")[0][0] == 3
    # Applied once: the next message is read at the next step, not two steps on.
    (menu,) = sql_service.receive(sms("+15550001111", "1", "SM-d")).outputs
    assert menu.text.startswith("Here are some options.")


def test_a_commit_sqlite_refuses_fails_every_turn_of_the_group_and_keeps_none_of_them(sql_service, settings):
    def breaks_the_commit():
        # A row that violates a foreign key, checked only at COMMIT (deferred): SQLite itself
        # refuses the group's commit, as a full disk or an I/O error would.
        with sql_service.store.transaction() as cursor:
            cursor.execute("PRAGMA defer_foreign_keys=ON")
            cursor.execute("INSERT INTO data_keys (conversation_id, wrapped) VALUES ('nobody', x'00')")

    answers = []
    counters = counted(sql_service, lambda: answers.extend(asyncio.run(one_pass(
        sql_service, on_the_loop(sql_service, sms("+15550003333", "hola", "SM-x")), sql_service.turn(breaks_the_commit),
    ))))
    person, broken = answers
    assert isinstance(person, Exception) and isinstance(broken, Exception)  # the web app answers the fallback
    assert counters.failed_groups == 1 and counters.groups == 0 and counters.grouped_turns == 0
    assert conversations(settings.database_url) == 0
    assert rows(settings.database_url, "SELECT count(*) FROM deliveries")[0][0] == 0  # a retry will be applied
    # The next pass starts afresh on a sound connection.
    (again,) = asyncio.run(one_pass(sql_service, on_the_loop(sql_service, sms("+15550003333", "hola", "SM-x"))))
    assert again.outputs[0].text.startswith("Hi, thanks for writing.")
    assert conversations(settings.database_url) == 1


def test_a_write_outside_the_group_on_the_loop_commits_the_group_first(sql_service, settings):
    def turn_then_status():
        sql_service.receive(sms("+15550004444", "hola", "SM-y"))
        # A status callback handled on the loop while the group is open: it must not wait for
        # the loop (the lock is the loop's own), it commits the group and goes on.
        sql_service.record_status("twilio", "SM-sent-1", "delivered", None)

    counters = counted(sql_service, lambda: asyncio.run(asyncio.wait_for(sql_service.turn(turn_then_status), timeout=10)))
    assert counters.early_commits == 1 and counters.groups == 1 and counters.failed_groups == 0
    assert conversations(settings.database_url) == 1
    assert rows(settings.database_url, "SELECT count(*) FROM delivery_statuses")[0][0] == 1


TOKEN = "0123456789abcdef0123456789abcdef"


def test_concurrent_webhooks_over_http_each_get_their_own_answer_once_committed(tmp_path, database_url):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings.from_env({
        "SAFEHARBOR_ENV": "test", "SAFEHARBOR_HOME": str(tmp_path), "SAFEHARBOR_CONTENT_DIR": str(REPO),
        "DATABASE_URL": database_url, "SAFEHARBOR_PUBLIC_URL": base, "TWILIO_AUTH_TOKEN": TOKEN, **generate_keys(),
        "SAFEHARBOR_LIMIT_NEW_CONVERSATIONS_PER_MINUTE": "1000",  # forty people at once, as many as a test of commits needs
    })
    people = [f"+1555010{i:04d}" for i in range(40)]

    def signed(address: str, text: str, sid: str):
        fields = {"MessageSid": sid, "From": address, "To": "+14155550100", "Body": text, "NumMedia": "0", "AccountSid": "AC" + "1" * 32}
        return fields, {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(f"{base}/webhooks/twilio/sms", fields)}

    async def person(client: httpx.AsyncClient, index: int, address: str) -> list[str]:
        answers = []
        for step, text in enumerate(["hola", "2", "si"]):
            fields, headers = signed(address, text, f"SM{index:04d}{step}")
            response = await client.post("/webhooks/twilio/sms", data=fields, headers=headers)
            assert response.status_code == 200
            answers.append(ET.fromstring(response.text).find("Message").text)
            # Whatever was answered is already committed: another connection reads it.
            assert rows(database_url, "SELECT count(*) FROM deliveries WHERE delivery IS NOT NULL")[0][0] >= 1
        return answers

    async def everyone():
        async with httpx.AsyncClient(base_url=base, timeout=20, limits=httpx.Limits(max_connections=40)) as client:
            return await asyncio.gather(*(person(client, i, a) for i, a in enumerate(people)))

    with serving(create_app(Service.from_settings(settings), settings, background=False), port):
        answers = asyncio.run(everyone())
    assert all(a[0].startswith("Hi, thanks for writing.") for a in answers)
    assert all(a[1].startswith("Una pregunta primero.") for a in answers)
    assert all(a[2].startswith("Aqui tienes algunas opciones.") for a in answers)
    assert conversations(database_url) == len(people)


def test_when_sqlite_rolls_the_whole_group_back_no_later_turn_commits_on_its_own(tmp_path):
    """On a full disk or an I/O error SQLite rolls back the whole transaction by itself: the turns
    after it in the same pass must fail with the group, not begin and commit transactions of
    their own (their people would be answered with the fallback while their turn was kept)."""
    import sqlite3

    engine = database.open_database(f"sqlite:///{tmp_path / 'g.db'}", check_schema=False)
    connection = engine.raw_connection()
    connection.cursor().execute("CREATE TABLE t (x)")
    connection.commit()
    connection.close()

    writer = writer_of(engine)

    def insert(x, rolled_back_by_sqlite=False):
        try:
            with database.cursor_transaction(engine) as cursor:
                cursor.execute("INSERT INTO t VALUES (?)", (x,))
                if rolled_back_by_sqlite:
                    cursor.execute("ROLLBACK")  # what SQLite itself does on SQLITE_FULL or SQLITE_IOERR
                    raise sqlite3.OperationalError("database or disk is full")
        except Exception:  # noqa: BLE001 - the service answers this turn with the fallback
            pass

    async def turn(x, rolled_back_by_sqlite=False):
        try:
            await writer.turn(insert, x, rolled_back_by_sqlite)
            return "answered"
        except Exception:  # noqa: BLE001
            return "fallback"

    async def one_pass_of_four():
        return await asyncio.gather(turn(1), turn(2, True), turn(3), turn(4))

    assert asyncio.run(one_pass_of_four()) == ["fallback"] * 4
    assert writer.counters == Counters(failed_groups=1, rolled_back_turns=1)
    assert rows(f"sqlite:///{tmp_path / 'g.db'}", "SELECT x FROM t") == []  # nothing kept that was not answered
    writer.close()
    engine.dispose()


def test_a_turn_whose_group_a_write_of_its_own_committed_early_still_raises_that_commit_s_failure(tmp_path):
    """A turn writes in the group, then (a status, a limit) in a transaction of its own, which
    commits the group first: if that commit fails, the turn raises it, however many groups its
    writes went into."""
    engine = database.open_database(f"sqlite:///{tmp_path / 'g.db'}", check_schema=False)
    writer = writer_of(engine)
    with database.write_transaction(engine) as connection:
        connection.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        connection.exec_driver_sql("CREATE TABLE child (parent INTEGER REFERENCES parent (id))")

    def grouped_then_alone():
        with writer.cursor() as cursor:
            cursor.execute("PRAGMA defer_foreign_keys=ON")
            cursor.execute("INSERT INTO child VALUES (7)")  # refused at the group's commit
        with database.write_transaction(engine) as connection:
            connection.exec_driver_sql("INSERT INTO parent VALUES (1)")

    with pytest.raises(Exception, match="FOREIGN KEY"):
        asyncio.run(writer.turn(grouped_then_alone))
    assert writer.counters == Counters(failed_groups=1, early_commits=1)
    assert rows(f"sqlite:///{tmp_path / 'g.db'}", "SELECT count(*) FROM child") == [(0,)]
    writer.close()
    engine.dispose()

"""``TelegramSender`` against the fake Bot API (every call checked against api.json)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import httpx
import pytest
from fake_bot_api import fake_bot_api  # noqa: F401  (the fixture)

from bot.channels.base import SendError
from bot.channels.telegram import TelegramSender, parse_update, render
from bot.domain.messages import ChoiceView, InboundKind, Outbound
from testkit.fake_bot_api import FIRST_MESSAGE_ID, FakeBotApi

CHAT = "5550001"
# PTB itself warns, when it builds a RetryAfter, that retry_after will become a timedelta.
PTB_RETRY_AFTER_WARNING = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
BODY = "hola-this-is-private-text"


def run(coroutine_function, fake: FakeBotApi, **sender_kwargs):
    """Run ``coroutine_function(sender)`` in a fresh event loop with a sender on ``fake``."""

    async def main():
        async with TelegramSender(fake.token, api_base_url=fake.url, **sender_kwargs) as sender:
            return await coroutine_function(sender)

    return asyncio.run(main())


def methods(fake: FakeBotApi) -> list[str]:
    return [name for name, _ in fake.calls]


def update_payload(update_id: int, text: str) -> dict:
    chat = {"id": int(CHAT), "first_name": "Ana", "type": "private"}
    return {
        "update_id": update_id,
        "message": {"message_id": update_id % 1000, "from": {"id": int(CHAT), "is_bot": False, "first_name": "Ana",
                                                             "language_code": "es"},
                    "chat": chat, "date": 1795694400, "text": text},
    }


# -- sendMessage ----------------------------------------------------------------------------------


def test_send_message_returns_the_message_id_and_sends_valid_params(fake_bot_api):
    outbound = Outbound(BODY, (ChoiceView(1, "English"), ChoiceView(2, "Español")))

    async def send(sender):
        return [await sender.send_message(render(outbound, CHAT)), await sender.send_message(render(Outbound("2nd"), CHAT))]

    ids = run(send, fake_bot_api)

    assert ids == [FIRST_MESSAGE_ID, FIRST_MESSAGE_ID + 1]
    assert fake_bot_api.violations == []
    assert methods(fake_bot_api) == ["getMe", "sendMessage", "sendMessage"]  # initialized once
    first = fake_bot_api.calls_to("sendMessage")[0]
    assert first == {
        "chat_id": 5550001,
        "text": BODY,
        "protect_content": True,
        "reply_markup": {"inline_keyboard": [[{"text": "1 English", "callback_data": "choice:1"}],
                                             [{"text": "2 Español", "callback_data": "choice:2"}]]},
    }
    assert "reply_markup" not in fake_bot_api.calls_to("sendMessage")[1]


def test_api_base_url_with_trailing_slash(fake_bot_api):
    async def send(sender):
        return await sender.send_message(render(Outbound("hi"), CHAT))

    assert run(send, fake_bot_api, **{}) == FIRST_MESSAGE_ID

    async def main():
        async with TelegramSender(fake_bot_api.token, api_base_url=fake_bot_api.url + "/") as sender:
            return await sender.send_message(render(Outbound("hi"), CHAT))

    assert asyncio.run(main()) == FIRST_MESSAGE_ID + 1
    assert fake_bot_api.violations == []


def test_wrong_token_is_permanent_and_the_token_is_not_in_the_reason(fake_bot_api):
    wrong = "987654321:AAwrong-token-value_xyz"

    async def main():
        async with TelegramSender(wrong, api_base_url=fake_bot_api.url) as sender:
            await sender.send_message(render(Outbound("hi"), CHAT))

    with pytest.raises(SendError) as raised:
        asyncio.run(main())
    assert raised.value.permanent
    assert "wrong-token" not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__context__ is None  # PTB's error names the token
    assert fake_bot_api.calls == []


def test_nothing_private_reaches_the_logs(fake_bot_api, captured_logs):
    async def send(sender):
        await sender.send_message(render(Outbound(BODY, (ChoiceView(1, "English"),)), CHAT))
        await sender.delete_messages(CHAT, [5])

    run(send, fake_bot_api)

    assert fake_bot_api.calls_to("sendMessage")  # the call happened...
    assert any(r.name == "telegram.Bot" for r in captured_logs.records)  # ...and PTB did log it
    text = captured_logs.text
    assert BODY not in text
    assert CHAT not in text
    assert fake_bot_api.token not in text
    assert fake_bot_api.token.split(":")[1] not in text


# -- deleteMessages -------------------------------------------------------------------------------


def test_delete_messages_in_batches_of_100(fake_bot_api):
    ids = list(range(250, 0, -1)) + [7, 7]  # unsorted, with a duplicate

    run(lambda sender: sender.delete_messages(CHAT, ids), fake_bot_api)

    batches = fake_bot_api.calls_to("deleteMessages")
    assert [b["message_ids"] for b in batches] == [list(range(1, 101)), list(range(101, 201)), list(range(201, 251))]
    assert {b["chat_id"] for b in batches} == {5550001}
    assert fake_bot_api.violations == []


def test_delete_nothing_calls_nothing(fake_bot_api):
    run(lambda sender: sender.delete_messages(CHAT, []), fake_bot_api)
    assert "deleteMessages" not in methods(fake_bot_api)


def test_undeletable_batch_is_retried_one_by_one_and_old_ones_skipped(fake_bot_api):
    fake_bot_api.fail("deleteMessages", status=400, description="Bad Request: message can't be deleted")
    fake_bot_api.fail("deleteMessage", status=400, description="Bad Request: message can't be deleted for everyone")

    run(lambda sender: sender.delete_messages(CHAT, [31, 12, 20]), fake_bot_api)  # no error

    assert fake_bot_api.calls_to("deleteMessages") == [{"chat_id": 5550001, "message_ids": [12, 20, 31]}]
    assert fake_bot_api.calls_to("deleteMessage") == [
        {"chat_id": 5550001, "message_id": 12},  # refused (older than 48 h): skipped
        {"chat_id": 5550001, "message_id": 20},
        {"chat_id": 5550001, "message_id": 31},
    ]
    assert fake_bot_api.violations == []


def test_undeletable_single_message_is_skipped(fake_bot_api):
    fake_bot_api.fail("deleteMessages", status=400, description="Bad Request: message to delete not found")

    run(lambda sender: sender.delete_messages(CHAT, [12]), fake_bot_api)

    assert len(fake_bot_api.calls_to("deleteMessages")) == 1
    assert fake_bot_api.calls_to("deleteMessage") == []


def test_only_the_refused_batch_is_retried_one_by_one(fake_bot_api):
    async def delete(sender):
        await sender.delete_messages(CHAT, [1])  # initialize first, so the next failure hits batch 2
        fake_bot_api.fail("deleteMessages", status=400, description="Bad Request: message can't be deleted")
        await sender.delete_messages(CHAT, list(range(1, 103)))

    run(delete, fake_bot_api)

    assert [len(b["message_ids"]) for b in fake_bot_api.calls_to("deleteMessages")] == [1, 100, 2]
    assert [c["message_id"] for c in fake_bot_api.calls_to("deleteMessage")] == list(range(1, 101))


def test_other_delete_errors_are_raised(fake_bot_api):
    fake_bot_api.fail("deleteMessages", status=400, description="Bad Request: chat not found")

    with pytest.raises(SendError) as raised:
        run(lambda sender: sender.delete_messages(CHAT, [1, 2]), fake_bot_api)

    assert raised.value.permanent
    assert fake_bot_api.calls_to("deleteMessage") == []


@PTB_RETRY_AFTER_WARNING
def test_delete_told_to_wait_raises_retry_after(fake_bot_api):
    fake_bot_api.fail("deleteMessages", status=429, retry_after=7)

    with pytest.raises(SendError) as raised:
        run(lambda sender: sender.delete_messages(CHAT, [1, 2]), fake_bot_api)

    assert raised.value.retry_after == 7


# -- callbacks, webhook, polling ------------------------------------------------------------------


def test_answer_callback(fake_bot_api):
    run(lambda sender: sender.answer_callback("4382bfdwdsb323b2d9"), fake_bot_api)

    assert fake_bot_api.calls_to("answerCallbackQuery") == [{"callback_query_id": "4382bfdwdsb323b2d9"}]
    assert fake_bot_api.violations == []


def test_set_and_delete_webhook(fake_bot_api):
    async def webhook(sender):
        await sender.set_webhook("https://example.org/webhooks/telegram", "s3cret-Token_1")
        was = fake_bot_api.webhook
        await sender.delete_webhook()
        return was

    was = run(webhook, fake_bot_api)

    assert was == {
        "url": "https://example.org/webhooks/telegram",
        "secret_token": "s3cret-Token_1",
        "allowed_updates": ["message", "edited_message", "callback_query"],
    }
    assert fake_bot_api.webhook is None
    assert fake_bot_api.calls_to("deleteWebhook") == [{}]
    assert fake_bot_api.violations == []


def test_get_updates_returns_dicts_parse_update_reads(fake_bot_api):
    first = fake_bot_api.push_update(update_payload(700000001, "hola"))
    fake_bot_api.push_update(update_payload(700000002, "SALIR"))

    async def poll(sender):
        got = await sender.get_updates(None, 0)
        after = await sender.get_updates(got[-1]["update_id"] + 1, 0)
        return got, after

    got, after = run(poll, fake_bot_api)

    assert [u["update_id"] for u in got] == [first, first + 1]
    deliveries = [parse_update(u) for u in got]
    assert [d.inbound.text for d in deliveries] == ["hola", "SALIR"]
    assert {d.inbound.address for d in deliveries} == {CHAT}
    assert deliveries[0].inbound.kind is InboundKind.TEXT and deliveries[0].inbound.message_ref == 1
    assert after == []  # confirmed by the offset
    polls = fake_bot_api.calls_to("getUpdates")
    assert "offset" not in polls[0] and polls[1]["offset"] == first + 2
    assert polls[0]["timeout"] == 0
    assert polls[0]["allowed_updates"] == ["message", "edited_message", "callback_query"]
    assert fake_bot_api.violations == []


def test_get_updates_long_polls_until_an_update_arrives(fake_bot_api):
    def push_later():
        time.sleep(0.3)
        fake_bot_api.push_update(update_payload(700000010, "late"))

    threading.Thread(target=push_later).start()
    started = time.monotonic()

    got = run(lambda sender: sender.get_updates(None, 5), fake_bot_api, timeout=1.0)

    assert [u["update_id"] for u in got] == [700000010]
    assert time.monotonic() - started < 4  # answered when the update came, not at the timeout
    assert fake_bot_api.calls_to("getUpdates")[0]["timeout"] == 5


def test_get_updates_while_a_webhook_is_set_is_permanent(fake_bot_api):
    async def poll(sender):
        await sender.set_webhook("https://example.org/webhooks/telegram", "s")
        await sender.get_updates(None, 0)

    with pytest.raises(SendError) as raised:
        run(poll, fake_bot_api)
    assert raised.value.permanent
    assert "Conflict" in str(raised.value)


def test_sender_can_be_used_again_after_close(fake_bot_api):
    async def twice():
        sender = TelegramSender(fake_bot_api.token, api_base_url=fake_bot_api.url)
        first = await sender.send_message(render(Outbound("a"), CHAT))
        await sender.close()
        second = await sender.send_message(render(Outbound("b"), CHAT))
        await sender.close()
        await sender.close()  # idempotent
        return first, second

    assert asyncio.run(twice()) == (FIRST_MESSAGE_ID, FIRST_MESSAGE_ID + 1)
    assert methods(fake_bot_api) == ["getMe", "sendMessage", "getMe", "sendMessage"]


# -- errors -----------------------------------------------------------------------------------------


def send_hi(sender):
    return sender.send_message(render(Outbound("hi"), CHAT))


@PTB_RETRY_AFTER_WARNING
def test_told_to_wait(fake_bot_api):
    fake_bot_api.fail("sendMessage", status=429, retry_after=3)

    with pytest.raises(SendError) as raised:
        run(send_hi, fake_bot_api)

    assert raised.value.retry_after == 3.0
    assert not raised.value.permanent


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(fake_bot_api, status):
    fake_bot_api.fail("sendMessage", status=status)

    with pytest.raises(SendError) as raised:
        run(send_hi, fake_bot_api)

    assert not raised.value.permanent
    assert raised.value.retry_after is None


@pytest.mark.parametrize(
    ("status", "description"),
    [
        (403, "Forbidden: bot was blocked by the user"),
        (400, "Bad Request: chat not found"),
        (400, "Bad Request: message is too long"),
    ],
)
def test_refusals_are_permanent(fake_bot_api, status, description):
    fake_bot_api.fail("sendMessage", status=status, description=description)

    with pytest.raises(SendError) as raised:
        run(send_hi, fake_bot_api)

    assert raised.value.permanent
    assert raised.value.retry_after is None
    assert description.split(": ", 1)[1].lower() in str(raised.value).lower()  # PTB drops "Bad Request: "


def test_failure_at_initialization_is_transient_and_retried(fake_bot_api):
    fake_bot_api.fail("getMe", status=500)

    async def send_twice(sender):
        with pytest.raises(SendError) as raised:
            await send_hi(sender)
        assert not raised.value.permanent
        return await send_hi(sender)

    assert run(send_twice, fake_bot_api) == FIRST_MESSAGE_ID
    assert methods(fake_bot_api) == ["getMe", "getMe", "sendMessage"]


def test_fail_applies_to_the_next_n_calls_only(fake_bot_api):
    fake_bot_api.fail("answerCallbackQuery", status=500, times=2)

    async def answer(sender):
        outcomes = []
        for _ in range(3):
            try:
                await sender.answer_callback("q")
                outcomes.append("ok")
            except SendError:
                outcomes.append("failed")
        return outcomes

    assert run(answer, fake_bot_api) == ["failed", "failed", "ok"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_is_transient():
    async def main():
        async with TelegramSender("123:abc", api_base_url=f"http://127.0.0.1:{_free_port()}", timeout=2) as sender:
            await send_hi(sender)

    with pytest.raises(SendError) as raised:
        asyncio.run(main())

    assert not raised.value.permanent
    assert raised.value.retry_after is None


def test_timeout_is_transient():
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"

        async def main():
            async with TelegramSender("123:abc", api_base_url=url, timeout=0.3) as sender:
                await send_hi(sender)

        started = time.monotonic()
        with pytest.raises(SendError) as raised:
            asyncio.run(main())

    assert not raised.value.permanent
    assert "TimedOut" in str(raised.value)
    assert time.monotonic() - started < 5


def test_sender_needs_a_token():
    with pytest.raises(ValueError):
        TelegramSender("")


# -- the fake itself catches what it must -----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "data", "expected"),
    [
        ("sendMessage", {"chat_id": "1", "text": "x", "disable_web_page_preview": "true"}, "unknown field 'disable_web_page_preview'"),
        ("sendMessage", {"chat_id": "1"}, "required field 'text' missing"),
        ("sendMessage", {"chat_id": "1", "text": "x", "protect_content": "yes"}, "expected Boolean"),
        ("sendMessage", {"chat_id": "1", "text": "x", "reply_markup": '{"inline_keyboard": [[{"label": "1"}]]}'},
         "reply_markup"),
        ("deleteMessages", {"chat_id": "1", "message_ids": "5"}, "expected Array of Integer"),
        ("sendMesage", {"chat_id": "1", "text": "x"}, "no such method"),
    ],
)
def test_fake_rejects_and_records_violations(fake_bot_api, method, data, expected):
    response = httpx.post(f"{fake_bot_api.url}/bot{fake_bot_api.token}/{method}", data=data)

    assert response.status_code == 400
    assert response.json()["ok"] is False
    assert any(expected in v for v in fake_bot_api.violations), fake_bot_api.violations


def test_fake_accepts_json_bodies_and_flags_wrong_paths(fake_bot_api):
    ok = httpx.post(f"{fake_bot_api.url}/bot{fake_bot_api.token}/sendMessage", json={"chat_id": 1, "text": "x"})
    wrong = httpx.post(f"{fake_bot_api.url}/bot/{fake_bot_api.token}/sendMessage", json={"chat_id": 1, "text": "x"})

    assert ok.json()["result"]["message_id"] == FIRST_MESSAGE_ID
    assert ok.json()["result"]["chat"] == {"id": 1, "type": "private", "first_name": "Test"}
    assert wrong.status_code == 400
    assert len(fake_bot_api.violations) == 1 and "not /bot<token>/<method>" in fake_bot_api.violations[0]


def test_fake_answers_are_real_bot_api_objects(fake_bot_api):
    from testkit.fake_bot_api import type_problems

    base = f"{fake_bot_api.url}/bot{fake_bot_api.token}"
    markup = render(Outbound("x", (ChoiceView(1, "A"),)), CHAT)["reply_markup"]
    sent = httpx.post(f"{base}/sendMessage", json={"chat_id": 5, "text": "x", "protect_content": True, "reply_markup": markup})
    me = httpx.post(f"{base}/getMe")

    assert type_problems("Message", sent.json()["result"]) == []
    assert type_problems("User", me.json()["result"]) == []
    assert me.json()["result"]["id"] == int(fake_bot_api.token.split(":")[0])


def test_fake_flags_unrealistic_pushed_updates(fake_bot_api):
    fake_bot_api.push_update({"update_id": 1, "message": {"message_id": 1, "text": "no chat, no date"}})
    assert len(fake_bot_api.violations) == 2

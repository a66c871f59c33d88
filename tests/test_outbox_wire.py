"""The outbox's wire form (``bot.domain.messages``): the JSON the outbox rows and recorded webhook
replies hold. Rows already queued are read back by a newer version, so the form does not change:
the same keys, in the same order, as the service has always written them."""

from __future__ import annotations

import json

from bot.domain.messages import ChoiceView, Outbound, decode_output, decode_outputs, encode_output, encode_outputs, send_payload

MESSAGE = Outbound("Hi.", (ChoiceView(1, "English"), ChoiceView(2, "Español")), offer="a1")


def test_a_message_round_trips_and_old_rows_without_offer_still_read():
    assert decode_output(encode_output(MESSAGE)) == MESSAGE
    assert decode_outputs(encode_outputs([MESSAGE, Outbound("Bye.")])) == (MESSAGE, Outbound("Bye."))
    assert decode_output({"text": "Old.", "choices": [[1, "Yes"]]}) == Outbound("Old.", (ChoiceView(1, "Yes"),))


def test_a_recorded_webhook_reply_is_the_same_bytes():
    assert encode_outputs([MESSAGE]) == b'[{"text": "Hi.", "choices": [[1, "English"], [2, "Espa\\u00f1ol"]], "offer": "a1"}]'


def test_each_send_payload_has_its_keys_in_the_order_queued_rows_have_them():
    reply = send_payload("+15550001", MESSAGE, after_exit=False)  # a turn's reply on a queued channel
    assert json.dumps(reply) == json.dumps({"to": "+15550001", "after_exit": False, **encode_output(MESSAGE)})
    advocate = send_payload("+15550001", Outbound("Hello"), alphabet="gsm7", quiet=True)  # an advocate's line
    assert list(advocate) == ["to", "text", "choices", "offer", "alphabet", "quiet"]
    notice = send_payload("-100200", Outbound("New chat waiting: Heron 4821"), notice=True)  # to the advocates' group
    assert notice == {"to": "-100200", "text": "New chat waiting: Heron 4821", "choices": [], "offer": None, "notice": True}
    assert list(notice) == ["to", "text", "choices", "offer", "notice"]

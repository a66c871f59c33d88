"""``bot.channels.twilio_sms``: signature checks, parsing of Twilio's form posts, TwiML replies.

Payloads carry the full field set Twilio posts to an incoming-message webhook (Twilio's "request to
your incoming message Webhook URL" documentation; WhatsApp adds ProfileName, WaId, MessageType...)
and are signed the way Twilio signs, with twilio's own ``RequestValidator.compute_signature``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import FormData, Headers
from twilio.request_validator import RequestValidator

from bot.channels.base import BadPayload
from bot.channels.twilio_sms import (
    PROVIDER,
    SECRETS,
    StatusUpdate,
    is_authentic,
    parse_message,
    parse_status,
    sms_body,
    twiml,
)
from bot.domain.messages import Channel, ChoiceView, InboundKind, Outbound

TOKEN = "12345678901234567890123456789012"
SHARED_KEY = "whsk_9d1f0c2e7b4a4f3e8c6d5b2a1f0e9d8c"
PUBLIC_URL = "https://safeharbor.example.org/webhooks/twilio/sms"
ACCOUNT = "AC1f2e3d4c5b6a79881f2e3d4c5b6a7988"
PERSON = "+14155550123"
OUR_NUMBER = "+14155550100"
SMS_SID = "SM5d8f1c2b9a3e4f6a7b8c9d0e1f2a3b4c"
MMS_SID = "MM0a1b2c3d4e5f60718293a4b5c6d7e8f9"
SETTINGS_SHA256 = "key=webhooks_sharedkey_0123456789abcdef,algorithm=HMAC_SHA256"


def sms(body: str = "Hola", **extra: str) -> dict[str, str]:
    """An incoming SMS as Twilio posts it to a Messaging Service number."""
    fields = {
        "ToCountry": "US", "ToState": "CA", "SmsMessageSid": SMS_SID, "NumMedia": "0",
        "ToCity": "SAN FRANCISCO", "FromZip": "94103", "SmsSid": SMS_SID, "FromState": "CA",
        "SmsStatus": "received", "FromCity": "SAN FRANCISCO", "Body": body, "FromCountry": "US",
        "To": OUR_NUMBER, "MessagingServiceSid": "MG9a8b7c6d5e4f30211a2b3c4d5e6f7a8b", "ToZip": "94105",
        "NumSegments": "1", "MessageSid": SMS_SID, "AccountSid": ACCOUNT, "From": PERSON,
        "ApiVersion": "2010-04-01",
    }
    fields.update(extra)
    return fields


def whatsapp(body: str = "Hola", **extra: str) -> dict[str, str]:
    fields = {
        "SmsMessageSid": SMS_SID, "NumMedia": "0", "ProfileName": "M", "MessageType": "text",
        "SmsSid": SMS_SID, "WaId": PERSON[1:], "SmsStatus": "received", "Body": body,
        "To": f"whatsapp:{OUR_NUMBER}", "NumSegments": "1", "ReferralNumMedia": "0",
        "MessageSid": SMS_SID, "AccountSid": ACCOUNT, "From": f"whatsapp:{PERSON}",
        "ApiVersion": "2010-04-01",
    }
    fields.update(extra)
    return fields


def mms(body: str = "", **extra: str) -> dict[str, str]:
    media = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/{MMS_SID}/Media/ME0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    return sms(body, SmsMessageSid=MMS_SID, SmsSid=MMS_SID, MessageSid=MMS_SID, NumMedia="1",
               MediaContentType0="image/jpeg", MediaUrl0=media, **extra)


def sign(params, url: str = PUBLIC_URL, secret: str = TOKEN, algorithm: str | None = None) -> str:
    return RequestValidator(secret).compute_signature(url, params, algorithm)


# -- authenticity -----------------------------------------------------------------------------------


def test_a_request_signed_by_twilio_for_our_public_url_is_authentic():
    params = sms()
    assert is_authentic(PUBLIC_URL, params, {"X-Twilio-Signature": sign(params)}, TOKEN)


@pytest.mark.parametrize("name", ["x-twilio-signature", "X-TWILIO-SIGNATURE", "X-Twilio-Signature"])
def test_header_names_are_matched_in_any_case(name):
    params = sms()
    assert is_authentic(PUBLIC_URL, params, {name: sign(params)}, TOKEN)


def test_starlette_form_and_headers_are_accepted_as_the_web_app_passes_them():
    params = sms()
    form = FormData(list(params.items()))
    headers = Headers({"X-Twilio-Signature": sign(params), "Content-Type": "application/x-www-form-urlencoded"})
    assert is_authentic(PUBLIC_URL, form, headers, TOKEN)


def refused_cases():
    signed = sms("I need help")
    good = sign(signed)
    forged = dict(signed, Body="I need help. Reply with your address")
    yield pytest.param(PUBLIC_URL, forged, {"X-Twilio-Signature": good}, TOKEN, id="body changed after signing")
    yield pytest.param(PUBLIC_URL, dict(signed, From="+14155559999"), {"X-Twilio-Signature": good}, TOKEN, id="sender changed after signing")
    yield pytest.param(PUBLIC_URL, dict(signed, Extra="1"), {"X-Twilio-Signature": good}, TOKEN, id="field added after signing")
    other_path = sign(signed, url="https://safeharbor.example.org/webhooks/twilio/status")
    yield pytest.param(PUBLIC_URL, signed, {"X-Twilio-Signature": other_path}, TOKEN, id="signed for another path")
    # A request whose Host header an attacker set: its signature covers http://evil.example/...;
    # the URL checked is always ours, built from SAFEHARBOR_PUBLIC_URL.
    evil = sign(signed, url="http://evil.example/webhooks/twilio/sms")
    yield pytest.param(PUBLIC_URL, signed, {"X-Twilio-Signature": evil, "Host": "evil.example"}, TOKEN, id="signed for an attacker's Host")
    yield pytest.param(PUBLIC_URL, signed, {}, TOKEN, id="missing signature header")
    yield pytest.param(PUBLIC_URL, signed, {"X-Twilio-Signature": ""}, TOKEN, id="empty signature header")
    yield pytest.param(PUBLIC_URL, signed, {"X-Twilio-Signature": sign(signed, secret="0" * 32)}, TOKEN, id="signed with another token")
    yield pytest.param(PUBLIC_URL, signed, {"X-Twilio-Signature": good}, "0" * 32, id="checked with another token")
    # With an empty secret anyone can compute the HMAC: never accept it.
    yield pytest.param(PUBLIC_URL, signed, {"X-Twilio-Signature": sign(signed, secret="")}, "", id="empty auth token")
    yield pytest.param(PUBLIC_URL, signed, {"X-Twilio-Signature": good[:-2] + "AA"}, TOKEN, id="tampered signature")


@pytest.mark.parametrize("url,params,headers,token", list(refused_cases()))
def test_requests_not_signed_by_twilio_for_this_url_are_refused(url, params, headers, token):
    assert not is_authentic(url, params, headers, token)


def test_hmac_sha256_with_the_shared_key_is_authentic_when_the_settings_header_asks_for_it():
    params = sms()
    headers = {
        "X-Twilio-Signature": sign(params, secret=SHARED_KEY, algorithm="HMAC_SHA256"),
        "X-Twilio-Webhooks-Signature-Settings": SETTINGS_SHA256,
    }
    assert is_authentic(PUBLIC_URL, params, headers, TOKEN, shared_key=SHARED_KEY)


def test_settings_header_in_lower_case_is_read():
    params = sms()
    headers = {
        "x-twilio-signature": sign(params, secret=SHARED_KEY, algorithm="HMAC_SHA256"),
        "x-twilio-webhooks-signature-settings": SETTINGS_SHA256,
    }
    assert is_authentic(PUBLIC_URL, params, headers, TOKEN, shared_key=SHARED_KEY)


def test_without_a_configured_shared_key_the_settings_header_means_the_auth_token():
    params = sms()
    headers = {
        "X-Twilio-Signature": sign(params, secret=TOKEN, algorithm="HMAC_SHA256"),
        "X-Twilio-Webhooks-Signature-Settings": SETTINGS_SHA256,
    }
    assert is_authentic(PUBLIC_URL, params, headers, TOKEN)


@pytest.mark.parametrize(
    "signature,settings",
    [
        pytest.param(sign(sms(), secret=SHARED_KEY), SETTINGS_SHA256, id="SHA1 signature presented as HMAC_SHA256"),
        pytest.param(sign(sms(), secret=TOKEN, algorithm="HMAC_SHA256"), SETTINGS_SHA256, id="auth token used while a shared key is configured"),
        pytest.param(sign(sms(), secret=SHARED_KEY, algorithm="HMAC_SHA256"), None, id="SHA256 signature without the settings header"),
        pytest.param(sign(sms(), secret=SHARED_KEY, algorithm="HMAC_SHA256"), "key=k,algorithm=HMAC_MD5", id="unknown algorithm"),
    ],
)
def test_shared_key_signatures_that_do_not_match_the_settings_are_refused(signature, settings):
    headers = {"X-Twilio-Signature": signature}
    if settings is not None:
        headers["X-Twilio-Webhooks-Signature-Settings"] = settings
    assert not is_authentic(PUBLIC_URL, sms(), headers, TOKEN, shared_key=SHARED_KEY)


def test_the_auth_token_still_verifies_requests_without_settings_when_a_shared_key_is_configured():
    params = sms()
    assert is_authentic(PUBLIC_URL, params, {"X-Twilio-Signature": sign(params)}, TOKEN, shared_key=SHARED_KEY)


# Repeated keys: Twilio signs every value of a repeated field.
REPEATED = list(mms().items()) + [("MediaUrl1", "https://api.twilio.com/m/1"), ("Tag", "b"), ("Tag", "a")]


def test_every_value_of_a_repeated_field_is_covered_by_the_signature():
    form = FormData(REPEATED)
    headers = {"X-Twilio-Signature": sign(form)}

    assert is_authentic(PUBLIC_URL, form, headers, TOKEN)
    assert is_authentic(PUBLIC_URL, REPEATED, headers, TOKEN)  # a plain list of pairs works too
    dropped = [pair for pair in REPEATED if pair != ("Tag", "a")]
    assert not is_authentic(PUBLIC_URL, FormData(dropped), headers, TOKEN)
    changed = [("Tag", "c") if pair == ("Tag", "a") else pair for pair in REPEATED]
    assert not is_authentic(PUBLIC_URL, FormData(changed), headers, TOKEN)


# The webhook computes the signature itself (one HMAC call) and reads the body with its own
# splitter; both must agree with the twilio library and the standard library on any input, or a
# real Twilio request would be refused (or a forged one let in).
_form_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.tuples(_form_text, _form_text), max_size=25),
    st.sampled_from([PUBLIC_URL, "http://127.0.0.1:8000/webhooks/twilio/sms", "https://h.example/p?x=1&y=%20"]),
    st.sampled_from([(None, "sha1"), ("HMAC_SHA1", "sha1"), ("HMAC_SHA256", "sha256")]),
    st.sampled_from([TOKEN, SHARED_KEY, "ключ-🔑"]),
)
def test_our_signature_is_the_one_twilios_library_computes(pairs, url, algorithm, secret):
    from bot.channels.twilio_sms._form import signed_params
    from bot.channels.twilio_sms._signature import signature_of

    name, digest = algorithm
    expected = RequestValidator(secret).compute_signature(url, signed_params(pairs), name)
    assert signature_of(secret, url, pairs, digest) == expected
    headers = {"X-Twilio-Signature": expected}
    if name == "HMAC_SHA256":
        headers["X-Twilio-Webhooks-Signature-Settings"] = SETTINGS_SHA256
    assert is_authentic(url, pairs, headers, secret)
    assert not is_authentic(url, pairs + [("Injected", "1")], headers, secret)


@settings(max_examples=500, deadline=None)
@given(st.one_of(
    st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.lists(st.tuples(st.text(max_size=20), st.text(max_size=20)), max_size=10).map(
        lambda pairs: __import__("urllib.parse").parse.urlencode(pairs).encode()
    ),
    st.binary(max_size=200),
))
def test_the_form_is_read_exactly_as_parse_qsl_reads_it(body):
    from urllib.parse import parse_qsl

    from bot.channels.twilio_sms import decode_form

    try:
        expected = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        with pytest.raises(UnicodeDecodeError):
            decode_form(body)
        return
    assert decode_form(body) == expected


@pytest.mark.parametrize("odd", [("NumMedia", 0), ("Body", b"hi"), (b"Body", b"hi"), ("Body", None)])
def test_a_field_that_is_not_text_is_refused_without_an_error(odd):
    params = list(sms().items()) + [odd]
    assert not is_authentic(PUBLIC_URL, params, {"X-Twilio-Signature": sign(sms())}, TOKEN)


def test_a_signature_made_for_the_url_with_its_default_port_is_still_accepted():
    # Twilio sometimes signs https://host:443/...: the fast path misses, twilio's validate
    # (which tries the URL with and without the port) decides.
    params = sms()
    with_port = "https://safeharbor.example.org:443/webhooks/twilio/sms"
    assert is_authentic(PUBLIC_URL, params, {"X-Twilio-Signature": sign(params, url=with_port)}, TOKEN)


def test_secrets_and_provider_are_declared_for_redaction_and_dedupe():
    assert SECRETS == ("TWILIO_AUTH_TOKEN", "TWILIO_WEBHOOK_SHARED_KEY")
    assert PROVIDER == "twilio"


# -- parsing messages -------------------------------------------------------------------------------


def test_an_sms_becomes_a_text_delivery_keyed_by_message_sid():
    delivery = parse_message(sms("Hola, necesito ayuda"))

    assert delivery.provider == "twilio"
    assert delivery.delivery_id == SMS_SID
    assert delivery.inbound.channel is Channel.SMS
    assert delivery.inbound.address == PERSON
    assert delivery.inbound.text == "Hola, necesito ayuda"
    assert delivery.inbound.kind is InboundKind.TEXT


def test_a_whatsapp_message_keeps_its_prefixed_address_and_channel():
    delivery = parse_message(whatsapp("hello"))

    assert delivery.inbound.channel is Channel.WHATSAPP
    assert delivery.inbound.address == f"whatsapp:{PERSON}"
    assert delivery.inbound.text == "hello"
    assert delivery.inbound.kind is InboundKind.TEXT


def test_media_without_text_is_media_and_is_not_fetched():
    delivery = parse_message(mms(""))

    assert delivery.delivery_id == MMS_SID
    assert delivery.inbound.kind is InboundKind.MEDIA
    assert delivery.inbound.text == ""


def test_media_with_a_caption_is_text():
    delivery = parse_message(mms("this is the place"))

    assert delivery.inbound.kind is InboundKind.TEXT
    assert delivery.inbound.text == "this is the place"


def test_a_post_without_body_field_is_an_empty_text_not_an_error():
    fields = sms()
    del fields["Body"]
    delivery = parse_message(fields)
    assert (delivery.inbound.kind, delivery.inbound.text) == (InboundKind.TEXT, "")


def test_old_posts_with_only_sms_message_sid_are_keyed_by_it():
    fields = sms()
    del fields["MessageSid"]
    assert parse_message(fields).delivery_id == SMS_SID


OPT_OUT = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]


@pytest.mark.parametrize("body", OPT_OUT + [w.lower() for w in OPT_OUT] + ["Stop", "stop.", " STOP ", "Quit!", "end\n"])
def test_a_carrier_opt_out_word_as_the_whole_body_is_an_opt_out(body):
    delivery = parse_message(sms(body))
    assert delivery.inbound.kind is InboundKind.OPT_OUT
    assert delivery.inbound.text == body


@pytest.mark.parametrize("body", ["START", "start", "Unstop", "UNSTOP."])
def test_start_and_unstop_restart(body):
    assert parse_message(sms(body)).inbound.kind is InboundKind.RESTART


@pytest.mark.parametrize("body", ["stop please", "don't stop", "STOP STOP", "stopped", "HELP", "the end", "S.T.O.P"])
def test_words_inside_a_sentence_are_plain_text(body):
    assert parse_message(sms(body)).inbound.kind is InboundKind.TEXT


@pytest.mark.parametrize("word", ["Stop", "cancel", "END", "start"])
def test_carrier_words_are_plain_text_on_whatsapp(word):
    """Carriers block on these for SMS; on WhatsApp they reach us as words and get an answer."""
    assert parse_message(whatsapp(word)).inbound.kind is InboundKind.TEXT


def test_twilios_own_opt_out_type_still_counts_on_whatsapp():
    assert parse_message(whatsapp("Stop", OptOutType="STOP")).inbound.kind is InboundKind.OPT_OUT


@pytest.mark.parametrize(
    "body,opt_out_type,kind",
    [
        ("PARA", "STOP", InboundKind.OPT_OUT),  # a custom (Spanish) Advanced Opt-Out keyword
        ("COMENZAR", "START", InboundKind.RESTART),
        ("HELP", "HELP", InboundKind.TEXT),
        ("AYUDA", "HELP", InboundKind.TEXT),
        ("stop", "HELP", InboundKind.TEXT),  # Twilio's classification wins over our word list
    ],
)
def test_advanced_opt_out_type_decides_when_twilio_sends_it(body, opt_out_type, kind):
    delivery = parse_message(sms(body, OptOutType=opt_out_type))
    assert delivery.inbound.kind is kind
    assert delivery.inbound.text == body


@pytest.mark.parametrize(
    "remove,field",
    [(("MessageSid", "SmsMessageSid"), "MessageSid"), (("From",), "From")],
)
def test_missing_required_fields_are_bad_payloads_naming_the_field_not_values(remove, field):
    fields = sms("secret words")
    for name in remove:
        del fields[name]
    with pytest.raises(BadPayload) as raised:
        parse_message(fields)
    message = str(raised.value)
    assert field in message
    assert PERSON not in message and "secret words" not in message


def test_an_empty_from_is_missing():
    with pytest.raises(BadPayload, match="From"):
        parse_message(sms(From=""))


def test_a_num_media_that_is_not_a_number_is_a_bad_payload():
    with pytest.raises(BadPayload, match="NumMedia"):
        parse_message(sms(NumMedia="two"))


# -- parsing status callbacks -----------------------------------------------------------------------


def status(message_status: str, **extra: str) -> dict[str, str]:
    fields = {
        "SmsSid": SMS_SID, "SmsStatus": message_status, "MessageStatus": message_status, "To": PERSON,
        "MessagingServiceSid": "MG9a8b7c6d5e4f30211a2b3c4d5e6f7a8b", "MessageSid": SMS_SID,
        "AccountSid": ACCOUNT, "From": OUR_NUMBER, "ApiVersion": "2010-04-01",
    }
    fields.update(extra)
    return fields


def test_a_delivered_status_has_no_error_and_names_whom_it_went_to():
    update = parse_status(status("delivered"))
    assert update == StatusUpdate(SMS_SID, "delivered", None, Channel.SMS, PERSON)
    assert update.deletable and not update.unsubscribed
    assert PERSON not in repr(update) and SMS_SID not in repr(update)


def test_a_status_for_something_that_is_not_a_message_sid_is_not_deletable():
    assert not parse_status(status("delivered", MessageSid="SM123")).deletable
    assert not parse_status(status("delivered", MessageSid="CA" + "0" * 32)).deletable  # a call, not a message


def test_a_failure_because_the_person_opted_out_is_marked_unsubscribed():
    update = parse_status(status("failed", ErrorCode="21610"))
    assert update == StatusUpdate(SMS_SID, "failed", 21610, Channel.SMS, PERSON)
    assert update.unsubscribed and (update.unsubscribed_channel, update.unsubscribed_address) == (Channel.SMS, PERSON)
    assert parse_status(status("delivered")).unsubscribed_address is None  # whom to stop writing to: 21610 only
    assert PERSON not in repr(update)


def test_other_failures_are_not_unsubscriptions():
    update = parse_status(status("undelivered", ErrorCode="30003"))
    assert update.error_code == 30003
    assert not update.unsubscribed


@pytest.mark.parametrize("field", ["MessageSid", "MessageStatus"])
def test_status_without_sid_or_status_is_a_bad_payload(field):
    fields = status("sent")
    del fields[field]
    with pytest.raises(BadPayload, match=field):
        parse_status(fields)


# -- TwiML ------------------------------------------------------------------------------------------


def messages_of(document: str) -> list[str]:
    root = ET.fromstring(document.encode("utf-8"))
    assert root.tag == "Response"
    assert all(child.tag == "Message" for child in root)
    return [child.text or "" for child in root]


def test_choices_are_numbered_lines_in_one_message_per_output():
    outputs = [
        Outbound("Hello.", (ChoiceView(1, "English"), ChoiceView(2, "Español"))),
        Outbound("Reply 0 at any time to start over."),
    ]
    assert messages_of(twiml(outputs)) == ["Hello.\n1 English\n2 Español", "Reply 0 at any time to start over."]


def test_spanish_accents_outside_gsm7_are_folded_for_a_gsm7_language():
    assert messages_of(twiml([Outbound("¿Estás?")])) == ["¿Estas?"]
    assert messages_of(twiml([Outbound("“Sí” — aquí…")])) == ['"Si" - aqui...']


def test_accents_are_kept_for_a_ucs2_language():
    assert messages_of(twiml([Outbound("¿Estás?")], alphabet="ucs2")) == ["¿Estás?"]


def test_xml_special_characters_are_escaped_and_survive_a_round_trip():
    text = 'Tom & Jerry <3 "quotes" </Message><Redirect>http://evil.example</Redirect>'
    document = twiml([Outbound(text)])

    assert "&amp;" in document and "&lt;3" in document
    assert "<Redirect>" not in document
    assert messages_of(document) == [text]


def test_characters_xml_cannot_carry_are_dropped_so_the_document_stays_valid():
    assert messages_of(twiml([Outbound("a\x00b\x07c")])) == ["abc"]


def test_no_outputs_give_an_empty_response():
    document = twiml([])
    root = ET.fromstring(document.encode("utf-8"))
    assert root.tag == "Response" and len(root) == 0


def test_outputs_that_render_empty_are_left_out():
    assert messages_of(twiml([Outbound(""), Outbound("ok")])) == ["ok"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=300), max_size=4), st.sampled_from(["gsm7", "ucs2"]))
def test_twiml_is_the_document_twilios_own_builder_writes(texts, alphabet):
    # Our TwiML is written as a string for speed; it must stay byte for byte what the twilio
    # library's MessagingResponse (ElementTree) produces for the same bodies.
    from twilio.twiml.messaging_response import MessagingResponse

    outputs = [Outbound(text) for text in texts]
    expected = MessagingResponse()
    for output in outputs:
        body = sms_body(output, alphabet)
        if body.strip():
            expected.message(body)
    assert twiml(outputs, alphabet) == expected.to_xml()

"""Whatever a provider (or someone holding its secret) posts, the webhooks never answer 5xx and
never show a stack trace: arbitrary signed form bodies, arbitrary Update JSON."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from bot.config import Settings, generate_keys
from bot.service import Service
from bot.web import create_app
from tests.conftest import REPO

TOKEN = "00112233445566778899aabbccddeeff"
PUBLIC = "https://safeharbor.example.org"
SECRET = "fuzz-secret"
EXAMPLES = int(os.environ.get("SAFEHARBOR_FUZZ_EXAMPLES", "500"))  # bench/fuzz.py runs 10,000


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    home = tmp_path_factory.mktemp("fuzz")
    settings = Settings.from_env({
        "SAFEHARBOR_ENV": "test", "SAFEHARBOR_HOME": str(home), "SAFEHARBOR_CONTENT_DIR": str(REPO),
        "DATABASE_URL": f"sqlite:///{home / 'db.sqlite'}", "SAFEHARBOR_PUBLIC_URL": PUBLIC,
        "TWILIO_AUTH_TOKEN": TOKEN, "TELEGRAM_BOT_TOKEN": "123456:fuzz", "TELEGRAM_WEBHOOK_SECRET": SECRET,
        **generate_keys(),
    })
    return TestClient(create_app(Service.from_settings(settings), settings, background=False))


text = st.text(max_size=40)
twilio_fields = st.dictionaries(
    st.sampled_from(["MessageSid", "SmsMessageSid", "From", "To", "Body", "NumMedia", "OptOutType", "AccountSid",
                     "MediaUrl0", "MessageStatus", "ErrorCode", "ApiVersion"]) | st.text(min_size=1, max_size=12),
    text | st.sampled_from(["STOP", "start", "0", "1", "-3", "x", "whatsapp:+1", "+14155550100", "HELP"]),
    max_size=10,
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=twilio_fields, path=st.sampled_from(["/webhooks/twilio/sms", "/webhooks/twilio/status"]))
def test_signed_twilio_forms_never_get_a_server_error(web, fields, path):
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}{path}", fields)
    response = web.post(path, data=fields, headers={"X-Twilio-Signature": signature})
    # An empty form is sent with no Content-Type at all: not a Twilio form, refused.
    assert response.status_code in ((200, 204, 400) if fields else (403,)), response.text
    assert "Traceback" not in response.text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False) | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=20,
)
update_like = st.fixed_dictionaries(
    {"update_id": st.integers(0, 2**31) | text},
    optional={
        "message": st.fixed_dictionaries(
            {"message_id": st.integers(0, 2**31) | text, "date": st.integers(0, 2**31),
             "chat": st.fixed_dictionaries({"id": st.integers(-2**40, 2**40) | text, "type": st.sampled_from(["private", "group", "x"])})},
            optional={"text": text | st.integers(), "from": json_values, "photo": json_values, "sticker": json_values},
        ),
        "callback_query": json_values,
        "edited_message": json_values,
    },
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=update_like | json_values)
def test_telegram_updates_with_the_secret_never_get_a_server_error(web, body):
    response = web.post("/webhooks/telegram", content=json.dumps(body), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert response.status_code in (200, 400), response.text
    assert "Traceback" not in response.text


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200))
def test_raw_bytes_never_get_a_server_error(web, raw):
    for path, headers in (("/webhooks/telegram", {"X-Telegram-Bot-Api-Secret-Token": SECRET}), ("/webhooks/twilio/sms", {"X-Twilio-Signature": "x"})):
        response = web.post(path, content=raw, headers={**headers, "Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code < 500


@pytest.mark.parametrize("depth", [1000, 3000])
def test_a_telegram_body_nested_deeper_than_python_recurses_gets_400(web, depth):
    for body in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth,
                 '{"update_id": 1, "message": ' + '{"a":' * depth + "1" + "}" * depth + "}"):
        response = web.post("/webhooks/telegram", content=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert response.status_code == 400, (depth, response.status_code)
        assert "Traceback" not in response.text

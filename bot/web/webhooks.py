"""Provider webhooks: verify first, parse, hand to the service, answer as the provider expects.

- A request that fails verification gets 403, and nothing is read further or written; the log
  says only that a request was refused.
- A verified request that lacks what the channel needs gets 400 with a short reason (never its
  content, never a stack trace).
- Anything else gets 200: the service answers the person even when a turn fails.
"""

from __future__ import annotations

import json
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from bot.channels import telegram, twilio_sms
from bot.channels.base import BadPayload
from bot.config import ChannelSettings
from bot.service import Service

log = logging.getLogger("safeharbor.web")

MAX_BODY = 64 * 1024  # Twilio's and Telegram's payloads are a few kB; anything larger is not theirs


def forbidden(provider: str) -> Response:
    log.warning("refused a %s webhook: not authentic", provider)
    return PlainTextResponse("forbidden\n", status_code=403)


def bad_request(provider: str, why: str) -> Response:
    log.warning("rejected a %s webhook: %s", provider, why)
    return PlainTextResponse(f"bad request: {why}\n", status_code=400)


class Webhooks:
    def __init__(self, service: Service, channels: ChannelSettings):
        self.service = service
        self.channels = channels

    def _signed_url(self, request: Request) -> str | None:
        """What Twilio signed: the configured public URL plus the path (and query), never the
        Host or X-Forwarded-* headers a client controls."""
        if not self.channels.public_url:
            return None
        query = f"?{request.url.query}" if request.url.query else ""
        return f"{self.channels.public_url}{request.url.path}{query}"

    async def _twilio_form(self, request: Request):
        if int(request.headers.get("content-length") or 0) > MAX_BODY:
            return None
        try:
            return await request.form()
        except Exception:  # noqa: BLE001 - a body Starlette cannot parse is not a Twilio request
            return None

    async def twilio_sms(self, request: Request) -> Response:
        url = self._signed_url(request)
        form = await self._twilio_form(request)
        if url is None or form is None or not self.channels.twilio_auth_token or not twilio_sms.is_authentic(
            url, form.multi_items(), request.headers, self.channels.twilio_auth_token, self.channels.twilio_webhook_shared_key
        ):
            return forbidden("twilio")
        try:
            delivery = twilio_sms.parse_message(form)
        except BadPayload as exc:
            return bad_request("twilio", str(exc))
        reception = await run_in_threadpool(self.service.receive, delivery)
        alphabet = self.service.content.catalog.locales[reception.language or self.service.content.catalog.default].sms_alphabet
        return Response(twilio_sms.twiml(reception.outputs, alphabet), media_type="application/xml")

    async def twilio_status(self, request: Request) -> Response:
        url = self._signed_url(request)
        form = await self._twilio_form(request)
        if url is None or form is None or not self.channels.twilio_auth_token or not twilio_sms.is_authentic(
            url, form.multi_items(), request.headers, self.channels.twilio_auth_token, self.channels.twilio_webhook_shared_key
        ):
            return forbidden("twilio")
        try:
            update = twilio_sms.parse_status(form)
        except BadPayload as exc:
            return bad_request("twilio", str(exc))
        await run_in_threadpool(self.service.record_status, "twilio", update.message_sid, update.status, update.error_code)
        return Response(status_code=204)

    async def telegram(self, request: Request) -> Response:
        if not telegram.is_authentic(request.headers, self.channels.telegram_webhook_secret):
            return forbidden("telegram")
        body = await request.body()
        if len(body) > MAX_BODY:
            return bad_request("telegram", "body too large")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return bad_request("telegram", "body is not JSON")
        try:
            delivery = telegram.parse_update(data)
        except BadPayload as exc:
            return bad_request("telegram", str(exc))
        reception = await run_in_threadpool(self.service.receive, delivery)
        if reception.failed and delivery.inbound is not None:
            # The turn (perhaps the database) failed: answer in the webhook's response itself,
            # which Telegram turns into a sendMessage, so the person still gets the 24/7 line.
            return JSONResponse({"method": "sendMessage", **telegram.render(reception.outputs[0], delivery.inbound.address)})
        return JSONResponse({})

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
from bot.service import Reception, Service

log = logging.getLogger("safeharbor.web")

MAX_BODY = 64 * 1024  # Twilio's and Telegram's payloads are a few kB; anything larger is not theirs


async def read_capped(request: Request, limit: int = MAX_BODY) -> bytes | None:
    """The body, or None past ``limit`` bytes: read as it streams, so a chunked body without a
    Content-Length cannot make us read (or spool) megabytes before the signature is checked."""
    declared = request.headers.get("content-length")
    if declared and (not declared.isdigit() or int(declared) > limit):
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


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

    async def _call(self, function, *args):
        """Run a call of the service that touches the database. On a local SQLite file a turn
        holds the CPU for well under a millisecond and its writes queue on one lock anyway, so it
        runs on the event loop: a hop to a worker thread, and the two threads handing the GIL
        back and forth at every SQLite call, halved the webhook's throughput (bench/webhook.py).
        Over a network (PostgreSQL) the wait would stall every other request: a thread then."""
        if self.service.local_database:
            with self.service.grouped():  # shares a commit with the requests of this moment
                result = function(*args)
            await self.service.settled()  # nothing is answered before it is committed
            return result
        return await run_in_threadpool(function, *args)

    async def _receive(self, delivery) -> Reception:
        """The service's answer to a delivery, or the fallback if what it wrote could not be
        committed (then nothing of it was kept, and the person still gets the 24/7 line)."""
        try:
            return await self._call(self.service.receive, delivery)
        except Exception as exc:  # noqa: BLE001 - the person must get an answer whatever failed
            log.error("a delivery could not be committed: %s", type(exc).__name__)
            return Reception((self.service.fallback,), failed=True)

    def _signed_url(self, request: Request) -> str | None:
        """What Twilio signed: the configured public URL plus the path (and query), never the
        Host or X-Forwarded-* headers a client controls."""
        if not self.channels.public_url:
            return None
        path, query = request.scope["path"], request.scope.get("query_string", b"")
        return f"{self.channels.public_url}{path}?{query.decode('latin-1')}" if query else f"{self.channels.public_url}{path}"

    async def _verified_twilio_form(self, request: Request) -> list[tuple[str, str]] | Response:
        """The form (its (name, value) pairs) of a request Twilio signed for our URL, or the
        response refusing it."""
        url = self._signed_url(request)
        token = self.channels.twilio_auth_token
        if url is None or not token:
            return forbidden("twilio")  # SMS is not configured: nothing is accepted
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            return forbidden("twilio")  # Twilio posts a URL-encoded form, nothing else
        body = await read_capped(request)
        if body is None:
            return PlainTextResponse("too large\n", status_code=413)
        try:
            form = twilio_sms.decode_form(body)
        except UnicodeDecodeError:
            return forbidden("twilio")
        if not twilio_sms.is_authentic(url, form, request.headers, token, self.channels.twilio_webhook_shared_key):
            return forbidden("twilio")
        return form

    async def twilio_sms(self, request: Request) -> Response:
        form = await self._verified_twilio_form(request)
        if isinstance(form, Response):
            return form
        try:
            delivery = twilio_sms.parse_message(form)
        except BadPayload as exc:
            return bad_request("twilio", str(exc))
        reception = await self._receive(delivery)
        return Response(twilio_sms.twiml(reception.outputs, reception.alphabet, self._status_url(), cached=not reception.personal), media_type="application/xml")

    def _status_url(self) -> str | None:
        """Where the TwiML replies' status callbacks go (``<Message action=...>``), when what
        Twilio keeps is deleted: they carry each reply's SID, which nothing else tells us."""
        if not self.service.twilio_deletes or not self.channels.public_url:
            return None
        return f"{self.channels.public_url}/webhooks/twilio/status"

    async def twilio_fallback(self, request: Request) -> Response:
        """Twilio's fallback URL, called when the SMS webhook failed or timed out: verified the
        same way, answered with the static safety message (the 24/7 line), touching no database
        (it may be the database that failed)."""
        form = await self._verified_twilio_form(request)
        if isinstance(form, Response):
            return form
        log.warning("Twilio called the fallback URL: the SMS webhook failed")
        return Response(twilio_sms.twiml([self.service.fallback], status_url=self._status_url()), media_type="application/xml")

    async def twilio_status(self, request: Request) -> Response:
        form = await self._verified_twilio_form(request)
        if isinstance(form, Response):
            return form
        try:
            update = twilio_sms.parse_status(form)
        except BadPayload as exc:
            return bad_request("twilio", str(exc))
        try:
            # With whom it went to (only to find their conversation: the SID is kept with it, or
            # the message deleted at Twilio if nothing of them is kept).
            to = (update.channel, update.address) if update.deletable and update.address else (None, None)
            await self._call(self.service.record_status, "twilio", update.message_sid, update.status, update.error_code, *to)
            if update.unsubscribed_address:
                await self._call(self.service.opted_out, update.unsubscribed_channel, update.unsubscribed_address)
        except Exception as exc:  # noqa: BLE001 - Twilio retries a status callback that fails
            log.error("could not record a delivery status: %s", type(exc).__name__)
            return PlainTextResponse("try again later\n", status_code=503)
        return Response(status_code=204)

    async def telegram(self, request: Request) -> Response:
        if not telegram.is_authentic(request.headers, self.channels.telegram_webhook_secret):
            return forbidden("telegram")
        body = await read_capped(request)
        if body is None:
            return PlainTextResponse("too large\n", status_code=413)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):  # nested a thousand levels deep too
            return bad_request("telegram", "body is not JSON")
        try:
            delivery = telegram.parse_update(data)
        except BadPayload as exc:
            return bad_request("telegram", str(exc))
        except RecursionError:
            return bad_request("telegram", "body is nested too deeply")
        reception = await self._receive(delivery)
        if reception.outputs and not reception.queued and delivery.inbound is not None:
            # An answer that was not queued (the turn, perhaps the database, failed: the 24/7
            # line; or a new chat past the minute's limit: the short static answer) goes in the
            # webhook's response itself, which Telegram turns into a sendMessage.
            return JSONResponse({"method": "sendMessage", **telegram.render(reception.outputs[0], delivery.inbound.address)})
        return JSONResponse({})

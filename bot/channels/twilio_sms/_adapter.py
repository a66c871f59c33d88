"""``TwilioAdapter``: SMS and WhatsApp through Twilio, as ``bot.channels.base.ChannelAdapter``
describes it.

Replies go in the webhook's answer (TwiML); an advocate's message is a REST send from the
outbox. Twilio keeps every message until it is deleted: with ``deletes`` (an account SID and
token to delete with), the SIDs of a conversation's messages are kept with it (``_memory``) and
deleted at its end (``Deleter``). Every webhook is verified first: the configured public URL
(never a Host header a client controls), a form body, Twilio's signature.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.channels.base import BadPayload, Deletion, Desk, SendError, Sent
from bot.channels.webhook import bad_request, forbidden, read_capped, too_large
from bot.domain.messages import Channel, decode_output

from . import _memory
from ._deleting import Deleter
from ._form import decode_form
from ._parse import PROVIDER, SECRETS, parse_message, parse_status
from ._signature import is_authentic
from ._twiml import sms_body, twiml

log = logging.getLogger("safeharbor.web")
T = TypeVar("T")

SMS_PATH = "/webhooks/twilio/sms"
STATUS_PATH = "/webhooks/twilio/status"
FALLBACK_PATH = "/webhooks/twilio/fallback"


class TwilioAdapter:
    """``senders``: a ``TwilioSender`` per channel value (``sms``, ``whatsapp``: they differ in
    the sending number's prefix), or one ``sender`` for both; none when sending is off.
    ``auth_token``, ``shared_key``, ``public_url``: what verifying a webhook needs (without a
    token and a URL every webhook is refused). ``deletes``: what Twilio keeps is deleted
    (defaults to whether there is a sender)."""

    name = PROVIDER
    SECRETS = SECRETS  # the settings that hold ``secrets``
    channels = (Channel.SMS, Channel.WHATSAPP)
    queued = False
    deletes_chat = False
    keeps_copies = True  # Twilio keeps each message until deleted through its API
    paced = False
    MAX_KEPT = _memory.MAX_KEPT_SIDS

    def __init__(
        self, sender=None, *, senders: dict | None = None, auth_token: str | None = None, shared_key: str | None = None,
        public_url: str | None = None, deletes: bool | None = None,
    ):
        self.senders = dict(senders) if senders else ({c.value: sender for c in self.channels} if sender else {})
        self.auth_token = auth_token
        self.shared_key = shared_key
        self.public_url = public_url
        self.deletes = bool(self.senders) if deletes is None else deletes
        self.secrets = tuple(s for s in (auth_token, shared_key) if s)
        first = next(iter(self.senders.values()), None)
        self.deleter = Deleter(first)

    @property
    def sends(self) -> bool:
        return bool(self.senders)

    # -- receiving ---------------------------------------------------------------------------

    def webhooks(self, desk: Desk) -> dict:
        async def sms(request: Request) -> Response:
            return await self.sms(desk, request)

        async def status(request: Request) -> Response:
            return await self.status(desk, request)

        async def fallback(request: Request) -> Response:
            return await self.fallback(desk, request)

        return {SMS_PATH: sms, STATUS_PATH: status, FALLBACK_PATH: fallback}

    def _signed_url(self, request: Request) -> str | None:
        """What Twilio signed: the configured public URL plus the path (and query), never the
        Host or X-Forwarded-* headers a client controls."""
        if not self.public_url:
            return None
        path, query = request.scope["path"], request.scope.get("query_string", b"")
        return f"{self.public_url}{path}?{query.decode('latin-1')}" if query else f"{self.public_url}{path}"

    async def _verified_form(self, request: Request) -> list[tuple[str, str]] | Response:
        """The form (its (name, value) pairs) of a request Twilio signed for our URL, or the
        response refusing it."""
        url = self._signed_url(request)
        if url is None or not self.auth_token:
            return forbidden(PROVIDER)  # SMS is not configured: nothing is accepted
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            return forbidden(PROVIDER)  # Twilio posts a URL-encoded form, nothing else
        body = await read_capped(request)
        if body is None:
            return too_large()
        try:
            form = decode_form(body)
        except UnicodeDecodeError:
            return forbidden(PROVIDER)
        if not is_authentic(url, form, request.headers, self.auth_token, self.shared_key):
            return forbidden(PROVIDER)
        return form

    async def _verified(self, request: Request, parse: Callable[[list[tuple[str, str]]], T]) -> T | Response:
        """What ``parse`` reads from the form of a request Twilio signed for our URL, or the
        response refusing it (``_verified_form``'s, or 400 for a signed form ``parse`` rejects)."""
        form = await self._verified_form(request)
        if isinstance(form, Response):
            return form
        try:
            return parse(form)
        except BadPayload as exc:
            return bad_request(PROVIDER, str(exc))

    def _status_url(self) -> str | None:
        """Where the TwiML replies' status callbacks go (``<Message action=...>``), when what
        Twilio keeps is deleted: they carry each reply's SID, which nothing else tells us."""
        if not self.deletes or not self.public_url:
            return None
        return f"{self.public_url}{STATUS_PATH}"

    async def sms(self, desk: Desk, request: Request) -> Response:
        delivery = await self._verified(request, parse_message)
        if isinstance(delivery, Response):
            return delivery
        reception = await desk.receive(delivery)
        body = twiml(reception.outputs, reception.alphabet, self._status_url(), cached=not reception.personal)
        return Response(body, media_type="application/xml")

    async def fallback(self, desk: Desk, request: Request) -> Response:
        """Twilio's fallback URL, called when the SMS webhook failed or timed out: verified the
        same way, answered with the static safety message (the 24/7 line), touching no database
        (it may be the database that failed)."""
        form = await self._verified_form(request)
        if isinstance(form, Response):
            return form
        log.warning("Twilio called the fallback URL: the SMS webhook failed")
        return Response(twiml([desk.fallback], status_url=self._status_url()), media_type="application/xml")

    async def status(self, desk: Desk, request: Request) -> Response:
        update = await self._verified(request, parse_status)
        if isinstance(update, Response):
            return update
        service = desk.service
        try:
            # With whom it went to (only to find their conversation: the SID is kept with it, or
            # the message deleted at Twilio if nothing of them is kept).
            to = (update.channel, update.address) if update.deletable and update.address else (None, None)
            await desk.call(service.record_status, PROVIDER, update.message_sid, update.status, update.error_code, *to)
            if update.unsubscribed_address:
                await desk.call(service.opted_out, update.unsubscribed_channel, update.unsubscribed_address)
        except Exception as exc:  # noqa: BLE001 - Twilio retries a status callback that fails
            log.error("could not record a delivery status: %s", type(exc).__name__)
            return PlainTextResponse("try again later\n", status_code=503)
        return Response(status_code=204)

    # -- sending -----------------------------------------------------------------------------

    async def send(self, job) -> Sent:
        """A ``send`` job as one SMS (or WhatsApp message) by REST; its SID names its status
        callbacks and is kept to delete it (the phone keeps its copy whatever Twilio does, so the
        line after a quick exit too)."""
        sender = self.senders.get(job.channel)
        if job.kind != "send" or sender is None:
            raise SendError(f"cannot send {job.kind} on {job.channel}", permanent=True)
        payload = job.payload
        body = sms_body(decode_output(payload), payload.get("alphabet", "gsm7"))
        sid = await asyncio.to_thread(sender.send, payload["to"], body)
        return Sent(provider_ref=sid, deletable_id=sid)

    async def delete_kept(self, job, clock) -> Deletion:
        """A ``delete`` job: the Message SIDs it names deleted at Twilio (``Deleter``)."""
        return await self.deleter.delete(job, clock)

    @staticmethod
    def pace(job) -> None:
        return None

    async def close(self) -> None:
        return None

    # -- what the conversation keeps ------------------------------------------------------------

    def remember_sent(self, channel_state: dict, message_id: int | str, now: datetime) -> None:
        _memory.remember_sid(channel_state, str(message_id))

    def keep_until(self, channel_state: dict) -> datetime | None:
        """None: Twilio SIDs set no time; they go with the conversation, each deleted then."""
        return None

    @staticmethod
    def kept(channel_state: dict) -> list[str]:
        return _memory.kept_sids(channel_state)

    @staticmethod
    def forget_oldest(channel_state: dict, count: int) -> list[str]:
        """Remove and return the ``count`` oldest kept SIDs (to delete them now)."""
        sids = _memory.kept_sids(channel_state)
        channel_state["sids"] = sids[count:]
        return sids[:count]

    @staticmethod
    def deletion_jobs(ids) -> list[tuple[str, str, dict]]:
        return _memory.deletion_jobs(ids)

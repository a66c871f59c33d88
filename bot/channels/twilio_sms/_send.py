"""Sending through Twilio's REST API (``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``),
and deleting what Twilio keeps (``DELETE /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json``).

The service sends outside a webhook reply only in an open handoff (an advocate's message), so a
send is rare, and a failure must say whether retrying can help. A deletion is asked for every
message of a conversation that ends (quick exit, opt-out, expiry): Twilio keeps a message's
body and numbers until then (https://www.twilio.com/docs/api/errors/20009 for when it refuses).
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import time
from urllib.parse import urlsplit

import requests
from twilio.base.domain import Domain
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from twilio.rest.api.v2010 import V2010

from bot.channels.base import SendError
from bot.channels.twilio_sms._parse import MESSAGE_SID, UNSUBSCRIBED_RECIPIENT

# twilio's HTTP client logs every request at INFO: URLs (with the account SID) and, for a GET, the
# query (which could carry a number). Nothing of a request belongs in our logs.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
# Below it, urllib3 logs each request line at DEBUG: the path names the account and, for a
# deletion, the message's SID (which opens that message at Twilio).
logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)

DEFAULT_API_BASE_URL = "https://api.twilio.com"
# "Cannot delete this resource before it is complete": the message is still being sent or
# received, or not yet finalized (Twilio says to wait a minute, then several; rarely 14 days).
NOT_YET_DELETABLE = 20009
NOT_FOUND = 20404

# The twilio client reads TWILIO_EDGE / TWILIO_REGION (and credentials) from os.environ unless
# given an environment; those would rewrite the host of ``api_base_url``. An empty mapping is
# falsy and would still mean os.environ, hence the explicit empty values.
_NO_ENVIRONMENT = {"TWILIO_EDGE": "", "TWILIO_REGION": "", "TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": ""}


class NotYetDeletable(SendError):
    """Twilio error 20009: the message is not final yet (being sent or received); a transient
    ``SendError`` about that one message (others may be deletable now)."""


class TwilioSender:
    """Sends one SMS (or WhatsApp message) at a time through Twilio's REST API.

    Exactly one of ``from_number`` (a Twilio number, ``+14155550100`` or ``whatsapp:+1...``) and
    ``messaging_service_sid`` (``MG...``) says who sends; ``ValueError`` otherwise, and for empty
    credentials or a base URL that is not http(s).
    ``api_base_url``: where the ``api`` domain lives (``TWILIO_API_BASE_URL``; tests point it at
    a mock). ``status_callback``: the public URL of ``/webhooks/twilio/status``, or None.
    ``timeout``: seconds for connecting and for each read. Nothing is retried here.

    Thread-safe: one sender may be shared (each call is one HTTP request on a pooled session).
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        api_base_url: str = DEFAULT_API_BASE_URL,
        status_callback: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("account_sid and auth_token are required")
        if bool(from_number) == bool(messaging_service_sid):
            raise ValueError("give exactly one of from_number and messaging_service_sid")
        if urlsplit(api_base_url).scheme not in ("http", "https") or not urlsplit(api_base_url).netloc:
            raise ValueError("api_base_url must be an http(s) URL")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._from_number = from_number
        self._messaging_service_sid = messaging_service_sid
        self._status_callback = status_callback
        self._api_base_url = api_base_url.rstrip("/")
        client = Client(
            account_sid,
            auth_token,
            http_client=_HttpClient(timeout=timeout),
            environment=_NO_ENVIRONMENT,
        )
        # twilio's ``Api`` domain hard-codes https://api.twilio.com; a ``Domain`` is the library's
        # own "API host" object and takes its base URL as an argument, and ``V2010`` is built
        # on any Domain. Same request code, only the host differs.
        self._messages = V2010(Domain(client, self._api_base_url)).account.messages

    def send(self, to: str, body: str) -> str:
        """Send ``body`` as it is (callers prepare it, e.g. with ``prepare_sms``) to ``to`` (the
        address the person wrote from); returns the message SID (``SM...``).

        Raises ``SendError``: transient (``permanent`` False) for timeouts, connection errors,
        5xx and 429 (with ``retry_after`` from ``Retry-After`` when given); permanent for other
        4xx (bad credentials, invalid number, missing field...); ``unsubscribed`` for Twilio
        error 21610. The reason names the HTTP status and Twilio error code, never the number
        or the text (Twilio's own error messages quote the number).
        """
        options: dict[str, str] = {}
        if self._from_number:
            options["from_"] = self._from_number
        else:
            options["messaging_service_sid"] = self._messaging_service_sid or ""
        if self._status_callback:
            options["status_callback"] = self._status_callback
        try:
            message = self._messages.create(to=to, body=body, **options)
        except SendError:
            raise
        except (TwilioRestException, TwilioServiceException) as error:
            raise _api_error(error) from None
        except json.JSONDecodeError:  # a 2xx answer that is not JSON: it may have been sent, do not repeat it
            raise SendError("twilio answered without a message resource", permanent=True) from None
        if not message.sid:
            raise SendError("twilio answered without a message SID", permanent=True)
        return message.sid

    def delete(self, sid: str) -> bool:
        """Delete Message ``sid`` (``SM...`` or ``MM...``) from the account, with its media: True
        when Twilio deleted it now, False when it was already gone (404: deleted before, or never
        in this account).

        Raises ``NotYetDeletable`` (a transient ``SendError``) for 20009, not final yet ("wait at
        least 1 minute"); ``SendError``: transient for timeouts, connection errors, 5xx, 429
        (``retry_after`` from ``Retry-After``) and refused credentials (401, 403: the operator can
        fix them, and a deletion given up leaves the message there); permanent for a SID that
        is not a Message SID (nothing is sent) and for other 4xx. The reason names the HTTP
        status and error code, never the SID.
        """
        if not MESSAGE_SID.fullmatch(sid or ""):
            raise SendError("not a Twilio Message SID", permanent=True)
        try:
            self._messages(sid).delete()
        except SendError:
            raise
        except (TwilioRestException, TwilioServiceException) as error:
            if int(error.status or 0) == 404 or error.code == NOT_FOUND:
                return False
            if error.code == NOT_YET_DELETABLE:
                raise NotYetDeletable(f"twilio answered HTTP {int(error.status or 0)} (error {NOT_YET_DELETABLE}): not final yet") from None
            if int(error.status or 0) in (401, 403):
                # Credentials rotated or revoked: fixable by the operator, and a deletion given up
                # would leave the message at Twilio for good, so it is worth retrying.
                raise SendError(f"twilio refused the credentials (HTTP {int(error.status or 0)})") from None
            raise _api_error(error) from None
        return True

    def __repr__(self) -> str:
        return f"TwilioSender(api_base_url={self._api_base_url!r})"


def _api_error(error: TwilioRestException | TwilioServiceException) -> SendError:
    status = int(error.status or 0)
    code = error.code if isinstance(error.code, int) and error.code != status else None
    reason = f"twilio answered HTTP {status}" + (f" (error {code})" if code else "")
    if code == UNSUBSCRIBED_RECIPIENT:
        return SendError(reason, unsubscribed=True)
    if status == 429 or status >= 500:  # normally caught by _HttpClient, kept for safety
        return SendError(reason, throttled=status == 429)
    return SendError(reason, permanent=True)


class _HttpClient(TwilioHttpClient):
    """twilio's HTTP client, turning what can be retried into a transient ``SendError`` where the
    response is still at hand: the library's exceptions drop the headers, and ``Retry-After`` is
    one."""

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None, allow_redirects=False) -> Response:
        try:
            response = super().request(
                method, url, params=params, data=data, headers=headers, auth=auth,
                timeout=timeout, allow_redirects=allow_redirects,
            )
        except requests.Timeout:
            raise SendError("twilio did not answer in time") from None
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
            raise SendError("twilio API URL is invalid", permanent=True) from None
        except requests.RequestException as error:  # refused, reset, DNS, TLS...
            raise SendError(f"could not reach twilio ({type(error).__name__})") from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise SendError(
                f"twilio answered HTTP {status}", retry_after=retry_after(response.headers.get("Retry-After")), throttled=status == 429,
            )
        return response


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date), or None.

    >>> retry_after("7"), retry_after(None), retry_after("soon")
    (7.0, None, None)
    >>> retry_after("Thu, 01 Jan 1970 00:01:00 GMT", now=30.0)
    30.0
    """
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)

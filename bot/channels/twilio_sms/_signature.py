"""Is a webhook really from Twilio? (``X-Twilio-Signature``)"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from twilio.request_validator import HMAC_SHA1, HMAC_SHA256, RequestValidator, get_signature_algorithm

from bot.channels.twilio_sms._form import form_pairs, signed_params

SIGNATURE_HEADER = "x-twilio-signature"
SIGNATURE_SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
_DIGESTS = {HMAC_SHA1: "sha1", HMAC_SHA256: "sha256"}


def is_authentic(
    url: str,
    params: Any,
    headers: Mapping[str, str],
    auth_token: str,
    shared_key: str | None = None,
) -> bool:
    """True when ``X-Twilio-Signature`` matches this request; called by the web app first of all.

    ``url``: the full URL Twilio was configured to call, built by the caller from
    ``SAFEHARBOR_PUBLIC_URL`` plus the request path and query (e.g.
    ``https://sh.example.org/webhooks/twilio/sms``). Never build it from the ``Host`` or
    ``X-Forwarded-*`` headers: whoever sends the request chooses those, and a signature Twilio
    made for another URL (or an attacker's own) must not verify here.
    ``params``: the posted form fields (a Starlette ``FormData`` or any multi-dict, a mapping, or
    a list of (name, value) pairs); every value of a repeated field counts.
    ``headers``: the request headers, names in any case.
    ``auth_token``: the account's Auth Token. ``shared_key``: the webhook SharedKey secret, used
    instead of the Auth Token when the request names its signing settings in
    ``X-Twilio-Webhooks-Signature-Settings`` (``key=...,algorithm=HMAC_SHA256``); the algorithm is
    read from that header too, HMAC-SHA1 when it is absent.

    False when the signature header is missing or empty, when the secret to check with is empty
    (an empty HMAC key is public), for a field that is not text, or for an algorithm twilio's
    library does not know. Never raises for a hostile request.
    """
    by_name = {name.lower(): value for name, value in headers.items()}
    signature = by_name.get(SIGNATURE_HEADER)
    if not signature:
        return False
    settings = by_name.get(SIGNATURE_SETTINGS_HEADER)
    secret = shared_key if settings is not None and shared_key else auth_token
    if not secret:
        return False
    pairs = form_pairs(params)
    algorithm = get_signature_algorithm(settings)
    digest = _DIGESTS.get(algorithm.upper())
    if digest is None:
        return False  # an algorithm twilio's library does not know
    # The URL exactly as configured is what Twilio signs nearly always: one HMAC, computed as
    # twilio's ``compute_signature`` does (tests/test_twilio_adapter.py checks the two agree on
    # any form). Only when that does not match, twilio's own ``validate`` tries the URL with and
    # without its port, as Twilio's signing is inconsistent about ports.
    try:
        expected = signature_of(secret, url, pairs, digest)
    except (TypeError, UnicodeEncodeError):  # a field that is not text, a lone surrogate: not Twilio's
        return False
    if hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return True
    return RequestValidator(secret).validate(url, signed_params(pairs), signature, algorithm)


def signature_of(secret: str, url: str, pairs: Iterable[tuple[str, str]], digest: str = "sha1") -> str:
    """The signature Twilio computes for a form posted to ``url``: base64 of the HMAC (``digest``:
    ``sha1``, or ``sha256`` for HMAC_SHA256) of the URL followed by every name and value, names
    sorted, each name's distinct values sorted (what ``RequestValidator.compute_signature`` does,
    with one sort and one C call for the HMAC: this runs on every webhook).

    >>> signature_of("12345", "https://example.org/sms", [("To", "+1"), ("Body", "hi")])
    'TM1O8/kfREljhyk7pXQAmft9nxM='
    """
    # Sorting the distinct (name, value) pairs orders by name, then by value: the same order.
    # Raises TypeError for a name or value that is not text.
    signed = url + "".join([name + value for name, value in sorted(set(pairs))])
    return base64.b64encode(hmac.digest(secret.encode("utf-8"), signed.encode("utf-8"), digest)).decode("ascii")

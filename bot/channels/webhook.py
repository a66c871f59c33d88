"""What every adapter's webhook answers the same way (courier's "validate first" handlers).

- A request that fails verification gets 403, and nothing is read further or written; the log
  says only that a request was refused.
- A verified request that lacks what the channel needs gets 400 with a short reason (never its
  content, never a stack trace).
- A body past ``MAX_BODY`` gets 413 (read as it streams, before any signature is checked).
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

log = logging.getLogger("safeharbor.web")

MAX_BODY = 64 * 1024  # the providers' payloads are a few kB; anything larger is not theirs


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


def too_large() -> Response:
    return PlainTextResponse("too large\n", status_code=413)

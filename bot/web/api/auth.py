"""``/api/auth/login``, ``/api/auth/logout``, ``/api/me``: the session and its cookie."""

from __future__ import annotations

import math

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from bot.service.console import LoginRefused, SessionUser
from bot.web.api.deps import COOKIE, ApiContext, context, current
from bot.web.api.models import CsrfToken, LoginBody, Me

router = APIRouter()


@router.post("/auth/login", response_model=CsrfToken, responses={401: {}, 429: {}, 503: {}}, tags=["auth"])
async def login(body: LoginBody, request: Request, response: Response, api: ApiContext = Depends(context)):
    """Email, password and a current TOTP code (each code works once). Sets the session cookie.
    429 with ``Retry-After`` while too many attempts were made for this email or from this
    address (an attempt with the authenticator's next, unused code still goes through);
    503 with ``Retry-After`` when the server is checking as many passwords as it can."""
    # The connecting address, or the one a proxy in SAFEHARBOR_TRUSTED_PROXIES forwarded
    # (uvicorn rewrites it: bot.web.server); never a header a client could set itself.
    client = request.client.host if request.client else ""
    try:
        done = await run_in_threadpool(api.console.login, body.email, body.password, body.otp, client)
    except LoginRefused as refused:
        if refused.busy:
            raise HTTPException(503, "busy; try again in a moment", headers={"Retry-After": "1"}) from None
        if refused.retry_after is not None:
            seconds = str(max(1, math.ceil(refused.retry_after.total_seconds())))
            raise HTTPException(
                429, "too many attempts; try again later, or now with the next code of your authenticator app",
                headers={"Retry-After": seconds},
            ) from None
        raise HTTPException(401, "wrong email, password or code") from None
    response.set_cookie(
        COOKIE, done.token, httponly=True, secure=api.secure_cookies, samesite="strict", path="/",
        max_age=int(api.console.session_lifetime.total_seconds()),
    )
    return {"csrf_token": done.csrf_token}


@router.post("/auth/logout", status_code=204, tags=["auth"])
async def logout(request: Request, response: Response, who: SessionUser = Depends(current), api: ApiContext = Depends(context)):
    await run_in_threadpool(api.console.logout, request.cookies.get(COOKIE))
    response.delete_cookie(COOKIE, path="/", secure=api.secure_cookies, httponly=True, samesite="strict")
    response.status_code = 204
    return response


@router.get("/me", response_model=Me, tags=["auth"])
async def me(who: SessionUser = Depends(current)):
    """Who is logged in (their role, and a translator's languages), and the CSRF token of the
    session (the page reads it after a reload)."""
    return {"email": who.user.email, "role": who.user.role, "languages": list(who.user.languages), "csrf_token": who.csrf_token}

"""``/api/users...``: the console's people, for admins (``bot.service.console_people`` has the
rules: admins only, never on one's own account, every change audited). A new account's password
and authenticator secret, and a reset's new secret, are answered once and never again."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from bot.service.console import Console, SessionUser
from bot.web.api.deps import console, current
from bot.web.api.errors import call
from bot.web.api.models import Account, NewAccount, NewAccountBody, NewSecret, RoleBody

router = APIRouter(tags=["users"])
REFUSALS = {403: {"description": "not an admin"}, 404: {"description": "no such user"}, 409: {"description": "your own account"}}


@router.get("/users", response_model=list[Account], responses={403: {}})
async def users(who: SessionUser = Depends(current), facade: Console = Depends(console)):
    """Every account, by email, with its role, languages and whether it is disabled."""
    return await call(facade.users, who)


@router.post("/users", status_code=201, response_model=NewAccount, responses={403: {}, 409: {}, 422: {}})
async def add(body: NewAccountBody, who: SessionUser = Depends(current), facade: Console = Depends(console)):
    """A new account with a generated password and authenticator secret, both answered only
    here (409 when the email has an account; 422 for a bad email or language list; a
    translator needs at least one language, the other roles none)."""
    return await call(facade.add_user, who, body.email, body.role, body.languages)


@router.post("/users/{user_id}/disable", response_model=Account, responses=REFUSALS)
async def disable(user_id: int, who: SessionUser = Depends(current), facade: Console = Depends(console)):
    """Disable the account; its sessions end at once (409 for your own)."""
    return await call(facade.disable_user, who, user_id)


@router.post("/users/{user_id}/enable", response_model=Account, responses=REFUSALS)
async def enable(user_id: int, who: SessionUser = Depends(current), facade: Console = Depends(console)):
    """Let a disabled account log in again with its password and authenticator."""
    return await call(facade.enable_user, who, user_id)


@router.post("/users/{user_id}/reset-2fa", response_model=NewSecret, responses=REFUSALS)
async def reset_2fa(user_id: int, who: SessionUser = Depends(current), facade: Console = Depends(console)):
    """A new authenticator secret, answered only here; the old one stops working and the
    account's sessions end (409 for your own)."""
    return await call(facade.reset_user_2fa, who, user_id)


@router.post("/users/{user_id}/role", response_model=Account, responses={**REFUSALS, 422: {}})
async def role(user_id: int, body: RoleBody, who: SessionUser = Depends(current), facade: Console = Depends(console)):
    """A new role, and a translator's languages (which replace theirs); 409 to demote yourself."""
    return await call(facade.set_user_role, who, user_id, body.role, body.languages)

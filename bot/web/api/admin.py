"""Admins' screens: ``/api/audit``. A new screen is a route here (or a module like this one,
included in ``build_api``), a method on ``bot.service.console.Console`` and a row in the access matrix
(``tests/test_console_api.py``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from bot.service.console import Console, SessionUser
from bot.web.api.deps import console, current
from bot.web.api.errors import call
from bot.web.api.models import AuditEntry

router = APIRouter()


@router.get("/audit", response_model=list[AuditEntry], tags=["admin"])
async def audit(who: SessionUser = Depends(current), facade: Console = Depends(console)):
    """Who claimed, viewed, answered, noted, transferred, released or closed which label, and
    when (newest first). Never message text. Admins only."""
    return await call(facade.audit, who)

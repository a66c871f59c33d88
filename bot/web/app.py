"""``create_app``: the web service safeharbor serve runs.

    app = create_app(service, settings)          # uvicorn bot.web.app:... via the CLI

Routes (DESIGN "Public interface"): ``POST /webhooks/twilio/sms``, ``POST /webhooks/twilio/status``,
``POST /webhooks/twilio/fallback``, ``POST /webhooks/telegram``, ``GET /healthz``, the console at
``/console`` and its JSON API under ``/api/`` (``web.api``), described at ``/openapi.json``;
webhooks and pages are not part of that description.
With ``background=True`` the outbox worker (and, for development, Telegram polling) runs in the
same process, started and stopped with the app.
"""

from __future__ import annotations

import contextlib
import logging
import os

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from bot.config import Settings
from bot.runtime import Background
from bot.service import Service
from bot.web.api import ApiGate, build_api
from bot.web.console_pages import add_console
from bot.web.security import SecurityHeaders
from bot.web.webhooks import Webhooks

log = logging.getLogger("safeharbor.web")


def create_app(service: Service, settings: Settings, *, background: bool = True, telegram_polling: bool = False) -> Starlette:
    runner = Background(service, settings, telegram_polling=telegram_polling) if background else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        if runner:
            await runner.start()
        try:
            yield
        finally:
            if runner:
                await runner.stop()
            service.close()

    api = FastAPI(
        title="safeharbor", version="0.1.0", docs_url=None, redoc_url=None,
        description="The advocates' console API. Every route but login needs a session; writes need X-CSRF-Token.",
    )
    api.add_middleware(ApiGate, service=service)
    api.add_middleware(SecurityHeaders)
    if service.accounts is not None:
        api.include_router(build_api(service, secure_cookies=settings.env != "development"))
    add_console(api)
    hooks = Webhooks(service, settings.channels)
    # The webhooks are routes of a plain Starlette app in front of FastAPI's: a webhook takes the
    # raw request, and FastAPI's middleware stack and dependency solving cost a third of the
    # event loop's time per SMS turn (bench/webhook.py) for nothing a webhook uses.
    app = Starlette(
        routes=[
            Route("/webhooks/twilio/sms", hooks.twilio_sms, methods=["POST"]),
            Route("/webhooks/twilio/status", hooks.twilio_status, methods=["POST"]),
            Route("/webhooks/twilio/fallback", hooks.twilio_fallback, methods=["POST"]),
            Route("/webhooks/telegram", hooks.telegram, methods=["POST"]),
            Mount("", app=api),
        ],
        lifespan=lifespan,
    )

    @api.get("/healthz", include_in_schema=False)
    async def healthz():
        try:
            await run_in_threadpool(service.ping)
        except Exception as exc:  # noqa: BLE001
            log.error("health check: database unreachable (%s)", type(exc).__name__)
            return JSONResponse({"status": "database unreachable"}, status_code=503)
        return {"status": "ok"}

    app.state.service = service
    app.state.background = runner
    return app



SERVE_BACKGROUND_ENV = "SAFEHARBOR_SERVE_BACKGROUND"  # set by `serve --workers N` for its processes


def app_from_env() -> Starlette:
    """The app of one process of ``safeharbor serve --workers N`` (uvicorn's factory): the
    service from the environment, with the background work unless ``serve`` said not."""
    from bot.service import Service

    settings = Settings.from_env()
    background = os.environ.get(SERVE_BACKGROUND_ENV, "1") == "1"
    return create_app(Service.from_settings(settings), settings, background=background)

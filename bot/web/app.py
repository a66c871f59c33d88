"""``create_app``: the web service safeharbor serve runs.

    app = create_app(service, settings)          # uvicorn bot.web.app:... via the CLI

Routes (DESIGN "Public interface"): every channel adapter's webhooks (``ChannelAdapter.webhooks``,
the adapters of ``bot.channels.registry``), ``GET /healthz``, the console at ``/console`` and its
JSON API under ``/api/`` (``web.api``), described at ``/openapi.json``; webhooks and pages are not
part of that description.
With ``background=True`` the outbox worker (and, for development, polling a channel for updates)
runs in the same process, started and stopped with the app.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.channels.registry import build_adapters
from bot.config import Settings, configure_logging
from bot.runtime import Background, following_content
from bot.service import Service
from bot.web.api import ApiGate, build_api
from bot.web.console_pages import add_console
from bot.web.security import SecurityHeaders
from bot.web.webhooks import Desk

log = logging.getLogger("safeharbor.web")


class WebhooksFirst(Starlette):
    """The whole web app: a provider's POST to a webhook path goes straight to its handler;
    everything else (the console, its API, ``/healthz``, any other method on a webhook path) to
    Starlette's router and FastAPI's app behind it.

    A webhook takes the raw request and answers by itself: FastAPI's middleware and dependency
    solving, and Starlette's own middleware and router, are a large share of the event loop's
    time per SMS turn (bench/NOTES.md) and do nothing a webhook uses. A handler
    that raises gets a plain 500 and the log the kind of error only, as Starlette would give.
    """

    def __init__(self, webhooks: dict[str, Callable[[Request], Awaitable[Response]]], api: ASGIApp, lifespan) -> None:
        routes = [Route(path, handler, methods=["POST"]) for path, handler in webhooks.items()]
        super().__init__(routes=[*routes, Mount("", app=api)], lifespan=lifespan)
        self._webhooks = webhooks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = self._webhooks.get(scope["path"])
            if handler is not None:
                scope["app"] = self
                try:
                    response = await handler(Request(scope, receive))
                except Exception as exc:  # noqa: BLE001 - no stack trace to the caller, no content in the log
                    log.error("a webhook failed: %s", type(exc).__name__)
                    response = PlainTextResponse("internal server error\n", status_code=500)
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(service: Service, settings: Settings, *, background: bool = True, polling: bool = False) -> Starlette:
    """The app for ``settings``: ``polling`` fetches updates instead of receiving webhooks (the
    channel that can, for development; it needs ``background``)."""
    adapters = build_adapters(settings)
    runner = Background(service, settings, polling=polling, adapters=adapters) if background else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        async with following_content(service, settings):
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
    api.add_middleware(SecurityHeaders, hsts=settings.env == "production")
    if service.accounts is not None:
        api.include_router(build_api(service, secure_cookies=settings.env != "development"))
    add_console(api)
    desk = Desk(service)
    webhooks: dict = {}
    for adapter in adapters:
        routes = adapter.webhooks(desk)
        if webhooks.keys() & routes.keys():
            raise ValueError(f"two channels claim {sorted(webhooks.keys() & routes.keys())}")
        webhooks.update(routes)
    app = WebhooksFirst(webhooks, api, lifespan)

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

    configure_logging()  # a spawned process has none of the command's set-up
    settings = Settings.from_env()
    background = os.environ.get(SERVE_BACKGROUND_ENV, "1") == "1"
    return create_app(Service.from_settings(settings), settings, background=background)

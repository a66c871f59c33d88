"""``safeharbor serve`` (the web service and, unless told otherwise, the background work) and
``safeharbor worker`` (the background work alone)."""

from __future__ import annotations

import os
import sys

from bot.config import Settings


def add_to(commands) -> None:
    serve = commands.add_parser("serve", help="run the web service (webhooks) and the background work")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument("--no-background", action="store_true", help="webhooks only; run `safeharbor worker` beside it")
    serve.add_argument("--telegram-polling", action="store_true", help="fetch Telegram updates instead of a webhook (development)")
    serve.add_argument("--workers", type=int, default=1, metavar="N", help="web processes sharing the database (default 1)")
    serve.set_defaults(run=_serve)
    commands.add_parser("worker", help="run the background work alone (outbox, expiry)").set_defaults(run=_worker)


def _serve(args) -> int:
    import uvicorn

    from bot.service import Service
    from bot.web import create_app
    from bot.web.app import SERVE_BACKGROUND_ENV
    from bot.web.server import uvicorn_options

    settings = Settings.from_env()
    _warn_about_channels(settings)
    # uvicorn's access log would show nothing personal (paths only) but adds noise; errors still log.
    options = {
        "host": args.host, "port": args.port, "access_log": False, "log_level": "warning", "server_header": False,
        **uvicorn_options(settings),  # whose forwarded headers are believed; request read deadlines
    }
    if args.workers > 1:
        if args.telegram_polling:
            print("safeharbor: --telegram-polling runs in one process only (Telegram allows one poller)", file=sys.stderr)
            return 2
        # Each worker process builds its own service from the environment; nothing is shared
        # but the database, so every guarantee holds across them.
        first = Service.from_settings(settings)  # fail here, once, on bad content or an old schema
        _warn_about_content(first, settings)
        first.close()
        os.environ[SERVE_BACKGROUND_ENV] = "0" if args.no_background else "1"
        print(f"safeharbor: serving on http://{args.host}:{args.port} with {args.workers} processes (Ctrl-C to stop)", file=sys.stderr, flush=True)
        uvicorn.run("bot.web.app:app_from_env", factory=True, workers=args.workers, **options)
        return 0
    service = Service.from_settings(settings)
    _warn_about_content(service, settings)
    app = create_app(service, settings, background=not args.no_background, polling=args.telegram_polling)
    print(f"safeharbor: serving on http://{args.host}:{args.port} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    uvicorn.run(app, **options)
    return 0


def _worker(args) -> int:
    import asyncio

    from bot.runtime import run_worker
    from bot.service import Service

    settings = Settings.from_env()
    print("safeharbor: background work running (Ctrl-C to stop)", file=sys.stderr, flush=True)
    service = Service.from_settings(settings)
    try:
        asyncio.run(run_worker(service, settings))
    finally:
        service.close()
    return 0


def _warn_about_content(service, settings: Settings) -> None:
    """Content is served from the database's published revision (the files only seed a new
    database): say so when the files in SAFEHARBOR_CONTENT_DIR differ from it, so an edit of
    the files is not silently ignored."""
    if service.studio is None:
        return
    from bot.content import Bundle, BundleError

    try:
        files = Bundle.from_directory(settings.content_dir)
    except BundleError:
        return
    published = service.studio.revisions.published()
    if published is not None and published.digest != files.digest():
        print(
            f"safeharbor: serving content revision {published.number} from the database; the files in "
            f"{settings.content_dir} differ from it (the console's content studio edits it; "
            f"`safeharbor content import --publish` makes the files the live content)",
            file=sys.stderr,
        )


def _warn_about_channels(settings: Settings) -> None:
    channels = settings.channels
    if not channels.twilio_receives:
        print("safeharbor: SMS is off (set TWILIO_AUTH_TOKEN and SAFEHARBOR_PUBLIC_URL)", file=sys.stderr)
    elif not channels.twilio_sends:
        # Replies then ride the webhook's answer, and without the REST API nothing Twilio keeps
        # is deleted: the quick exit's reply then does not claim it is (``COPIES_DELETED``).
        print(
            "safeharbor: SMS answers in the webhook only; the messages Twilio keeps are not deleted "
            "(set TWILIO_ACCOUNT_SID and TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID)",
            file=sys.stderr,
        )
    if not channels.telegram_sends:
        print("safeharbor: Telegram is off (set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET)", file=sys.stderr)
    elif not channels.telegram_webhook_secret:
        print("safeharbor: TELEGRAM_WEBHOOK_SECRET is not set: Telegram webhooks are refused (polling still works)", file=sys.stderr)

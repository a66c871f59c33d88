"""The ``safeharbor`` command (also ``python -m bot``).

    safeharbor serve [--host H] [--port P] [--no-background] [--telegram-polling]
    safeharbor worker
    safeharbor telegram set-webhook
    safeharbor chat [--lang CODE] [--from ADDRESS] [--channel sms|telegram]
    safeharbor flows check [--strict] [--costs] [--max-age-months N]
    safeharbor flows graph [FLOW] [--lang CODE]
    safeharbor keys generate | keys rotate
    safeharbor purge

Exit codes: 0 success, 1 invalid content (``where: what`` lines on stderr), 2 bad configuration
or usage.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from bot.config import ConfigError, Settings, generate_keys
from bot.domain.problems import ContentInvalid, errors
from bot.store.schema import SchemaBehind

DEFAULT_CHAT_ADDRESS = "local"
# `flows check`: a resource entry checked longer ago than this is due for a re-check (a warning).
MAX_AGE_ENV = "SAFEHARBOR_RESOURCE_MAX_AGE_MONTHS"
DEFAULT_MAX_AGE_MONTHS = 12  # the same as bot.flowdef.DEFAULT_RESOURCE_MAX_AGE_MONTHS (not imported here: cli loads lazily)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    level = os.environ.get("SAFEHARBOR_LOG_LEVEL", "WARNING").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        print(f"safeharbor: SAFEHARBOR_LOG_LEVEL={level!r}: use DEBUG, INFO, WARNING or ERROR", file=sys.stderr)
        return 2
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return args.run(args)
    except ConfigError as exc:
        print(f"safeharbor: {exc}", file=sys.stderr)
        return 2
    except SchemaBehind as exc:
        print(f"safeharbor: {exc}", file=sys.stderr)
        return 2
    except ContentInvalid as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`safeharbor chat ... | head`): stop quietly, as Unix tools do.
        # stdout is pointed at /dev/null so the interpreter's final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="safeharbor", description="A survivor-facing messaging assistant.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the web service (webhooks) and the background work")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument("--no-background", action="store_true", help="webhooks only; run `safeharbor worker` beside it")
    serve.add_argument("--telegram-polling", action="store_true", help="fetch Telegram updates instead of a webhook (development)")
    serve.add_argument("--workers", type=int, default=1, metavar="N", help="web processes sharing the database (default 1)")
    serve.set_defaults(run=_serve)
    commands.add_parser("worker", help="run the background work alone (outbox, expiry)").set_defaults(run=_worker)
    telegram = commands.add_parser("telegram", help="Telegram bot setup").add_subparsers(dest="telegram_command", required=True, metavar="ACTION")
    telegram.add_parser(
        "set-webhook", help="register SAFEHARBOR_PUBLIC_URL/webhooks/telegram with TELEGRAM_WEBHOOK_SECRET"
    ).set_defaults(run=_telegram_set_webhook)

    chat = commands.add_parser("chat", help="hold a conversation in the terminal")
    chat.add_argument("--lang", metavar="CODE", help="language hint, e.g. es (the person still chooses)")
    chat.add_argument(
        "--from", dest="address", metavar="ADDRESS", default=DEFAULT_CHAT_ADDRESS,
        help="who is writing; the same address continues the same conversation",
    )
    chat.add_argument("--channel", choices=("sms", "telegram"), default="sms", help="show replies as this channel would")
    chat.set_defaults(run=_chat)

    flows = commands.add_parser("flows", help="check or draw the flows").add_subparsers(dest="flows_command", required=True, metavar="ACTION")
    check = flows.add_parser("check", help="validate flows, locales and resources")
    check.add_argument("--strict", action="store_true", help="warnings fail too")
    check.add_argument("--costs", action="store_true", help="list the SMS cost of every step in every language")
    check.add_argument(
        "--max-age-months", type=int, metavar="N", default=None,
        help=f"warn about resource entries checked more than N months ago (default ${MAX_AGE_ENV} or "
        f"{DEFAULT_MAX_AGE_MONTHS})",
    )
    check.set_defaults(run=_flows_check)
    graph = flows.add_parser("graph", help="print a flow as Mermaid text")
    graph.add_argument("flow", nargs="?", default="main")
    graph.add_argument("--lang", metavar="CODE", help="language of the edge labels")
    graph.set_defaults(run=_flows_graph)

    keys = commands.add_parser("keys", help="encryption keys").add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    keys.add_parser("generate", help="print a new key and pepper as environment variables").set_defaults(run=_keys_generate)
    keys.add_parser(
        "rotate", help="seal the epoch keys and TOTP secrets under the first SAFEHARBOR_ENCRYPTION_KEYS key and move every conversation key to the current epoch"
    ).set_defaults(run=_keys_rotate)

    commands.add_parser("purge", help="erase conversations idle past their expiry").set_defaults(run=_purge)

    database = commands.add_parser("db", help="the database schema").add_subparsers(dest="db_command", required=True, metavar="ACTION")
    database.add_parser("upgrade", help="apply the schema migrations the database is missing (release step)").set_defaults(run=_db_upgrade)
    database.add_parser("current", help="print the database's schema revision and the one this version needs").set_defaults(run=_db_current)

    people = commands.add_parser("users", help="the console's advocates and admins").add_subparsers(
        dest="users_command", required=True, metavar="ACTION"
    )
    add = people.add_parser("add", help="create a user; prints the otpauth:// URI for their authenticator app")
    add.add_argument("email")
    add.add_argument("--role", choices=("advocate", "admin"), required=True)
    add.set_defaults(run=_users_add)
    disable = people.add_parser("disable", help="disable a user and end their sessions")
    disable.add_argument("email")
    disable.set_defaults(run=_users_disable)
    reset = people.add_parser("reset-2fa", help="a new authenticator secret for a user (ends their sessions)")
    reset.add_argument("email")
    reset.set_defaults(run=_users_reset_2fa)
    people.add_parser("list", help="list users").set_defaults(run=_users_list)
    return parser


def _db_upgrade(args) -> int:
    from bot.service import upgrade_database

    upgrade_database(Settings.from_env(), progress=lambda line: print(line, flush=True))
    return 0


def _db_current(args) -> int:
    from bot.service import schema_revisions

    at, needed = schema_revisions(Settings.from_env())
    print(f"database: {at or '(empty)'}; this version needs: {needed}")
    return 0 if at == needed else 1


def _read_password() -> str:
    """From stdin when it is not a terminal (one line), else asked twice without echo."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("Password (at least 12 characters): ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("safeharbor: the passwords differ")
    return first


def _with_accounts(action):
    from bot.service import open_accounts
    from bot.store.accounts import AccountError

    accounts = open_accounts(Settings.from_env())
    try:
        return action(accounts)
    except AccountError as exc:
        print(f"safeharbor: {exc}", file=sys.stderr)
        return 1
    finally:
        accounts.engine.dispose()


def _users_add(args) -> int:
    from datetime import datetime, timezone

    password = _read_password()

    def add(accounts) -> int:
        uri = accounts.add(args.email, args.role, password, datetime.now(timezone.utc))
        print(f"added {args.email.strip().lower()} ({args.role}). Enrol this in their authenticator app (a QR code of it, or the secret):")
        print(uri)
        return 0

    return _with_accounts(add)


def _users_disable(args) -> int:
    def disable(accounts) -> int:
        accounts.disable(args.email)
        print(f"disabled {args.email.strip().lower()}; their sessions have ended")
        return 0

    return _with_accounts(disable)


def _users_reset_2fa(args) -> int:
    def reset(accounts) -> int:
        uri = accounts.reset_2fa(args.email)
        print(f"new authenticator secret for {args.email.strip().lower()} (the old one no longer works):")
        print(uri)
        return 0

    return _with_accounts(reset)


def _users_list(args) -> int:
    def show(accounts) -> int:
        people = accounts.all()
        for user in people:
            print(f"{user.email}\t{user.role}\t{'disabled' if user.disabled else 'active'}")
        if not people:
            print("no users yet: safeharbor users add EMAIL --role admin", file=sys.stderr)
        return 0

    return _with_accounts(show)


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
        Service.from_settings(settings).close()  # fail here, once, on bad content or an old schema
        os.environ[SERVE_BACKGROUND_ENV] = "0" if args.no_background else "1"
        print(f"safeharbor: serving on http://{args.host}:{args.port} with {args.workers} processes (Ctrl-C to stop)", file=sys.stderr, flush=True)
        uvicorn.run("bot.web.app:app_from_env", factory=True, workers=args.workers, **options)
        return 0
    app = create_app(
        Service.from_settings(settings), settings, background=not args.no_background, polling=args.telegram_polling
    )
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


def _telegram_set_webhook(args) -> int:
    import asyncio

    from bot.channels.telegram import TelegramSender

    channels = Settings.from_env().channels
    missing = [
        name for name, value in (
            ("TELEGRAM_BOT_TOKEN", channels.telegram_bot_token),
            ("TELEGRAM_WEBHOOK_SECRET", channels.telegram_webhook_secret),
            ("SAFEHARBOR_PUBLIC_URL", channels.public_url),
        ) if not value
    ]
    if missing:
        raise ConfigError(f"{', '.join(missing)} not set")

    async def register() -> None:
        sender = TelegramSender(channels.telegram_bot_token, api_base_url=channels.telegram_api_base_url)
        try:
            await sender.set_webhook(f"{channels.public_url}/webhooks/telegram", channels.telegram_webhook_secret)
        finally:
            await sender.close()

    asyncio.run(register())
    print(f"webhook set to {channels.public_url}/webhooks/telegram (with the secret token)")
    return 0


def _warn_about_channels(settings: Settings) -> None:
    channels = settings.channels
    if not channels.twilio_receives:
        print("safeharbor: SMS is off (set TWILIO_AUTH_TOKEN and SAFEHARBOR_PUBLIC_URL)", file=sys.stderr)
    if not channels.telegram_sends:
        print("safeharbor: Telegram is off (set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET)", file=sys.stderr)
    elif not channels.telegram_webhook_secret:
        print("safeharbor: TELEGRAM_WEBHOOK_SECRET is not set: Telegram webhooks are refused (polling still works)", file=sys.stderr)


def _chat(args) -> int:
    from bot.channels.terminal import run_chat
    from bot.service import Service

    service = Service.from_settings(Settings.from_env())
    catalog = service.content.catalog

    def reply_to(inbound):
        """The replies and the SMS alphabet of their language, so ``--channel sms`` prints the
        body SMS sends. Like ``Service.handle``, never raises for anything a person can type."""
        try:
            turn = service.run_turn(inbound)
        except Exception as exc:  # noqa: BLE001 - the person must get an answer whatever failed
            print(f"safeharbor chat: the turn failed ({type(exc).__name__})", file=sys.stderr)
            return [service.fallback], catalog.locales[catalog.default].sms_alphabet
        # after a quick exit nothing is kept, not even the language: its one reply is in the
        # language it was written in, whose alphabet the default's stands for (both GSM-7 here)
        language = turn.session.language if turn.session else catalog.default
        return list(turn.outputs), catalog.locales[catalog.resolve(language) or catalog.default].sms_alphabet

    try:
        service.purge_expired()
        return run_chat(
            reply_to, args.address, sys.stdin, sys.stdout,
            interactive=sys.stdin.isatty(), language=args.lang, style=args.channel,
        )
    finally:
        service.close()


def _max_age_months(given: int | None) -> int:
    """``--max-age-months``, else ``SAFEHARBOR_RESOURCE_MAX_AGE_MONTHS``, else 12; 0 or more."""
    if given is None:
        text = os.environ.get(MAX_AGE_ENV, "").strip()
        if not text:
            return DEFAULT_MAX_AGE_MONTHS
        try:
            given = int(text)
        except ValueError:
            raise ConfigError(f"{MAX_AGE_ENV}={text!r}: give a whole number of months, e.g. 12") from None
        source = MAX_AGE_ENV
    else:
        source = "--max-age-months"
    if given < 0:
        raise ConfigError(f"{source}={given}: give 0 months or more")
    return given


def _flows_check(args) -> int:
    import datetime as dt

    from bot.flowdef import resource_problems, step_costs
    from bot.service import read_content

    max_age = _max_age_months(args.max_age_months)
    today = dt.date.today()  # the one clock read: the checks below take it as an argument
    root, regions = Settings.content_dir_from_env(), Settings.regions_from_env()
    content, problems = read_content(root, regions)
    problems = problems + _resource_checks(root, regions, today, max_age, resource_problems)
    for problem in problems:  # `where: what`; warnings say so after the location
        print(problem if problem.severity == "error" else f"{problem.where}: warning: {problem.what}", file=sys.stderr)
    if content is None or errors(problems):
        print(f"flows check: {len(errors(problems))} error(s), {len(problems) - len(errors(problems))} warning(s)", file=sys.stderr)
        return 1
    rows = [row for name, flow in content.flows.items() for row in step_costs(flow, content.catalog, content.engines[name].preview)]
    if args.costs:
        print(f"{'step':<24} {'lang':<5} {'encoding':<8} {'segments':>8} {'units':>6}")
        for row in rows:
            print(f"{row.step:<24} {row.language:<5} {row.encoding:<8} {row.segments:>8} {row.units:>6}")
    warnings = len(problems)
    worst = max(row.segments for row in rows)
    encodings = sorted({f"{row.language}:{row.encoding}" for row in rows})
    print(
        f"flows check: {len(content.flows)} flow(s), {sum(len(f.steps) for f in content.flows.values())} steps, "
        f"{len(content.catalog.languages)} languages ({', '.join(content.catalog.languages)}), "
        f"{len(content.directory.resources)} resources; SMS: {', '.join(encodings)}, at most {worst} segment(s); "
        f"0 errors, {warnings} warning(s)"
    )
    return 1 if args.strict and warnings else 0


def _resource_checks(root, regions, today, max_age: int, resource_problems) -> list:
    """The directory against the flows (entries no step shows, entries due for a re-check).

    Read on their own, so these warnings are reported even when another file has errors; when
    the flows, locales or directory cannot be read, ``read_content`` has reported why."""
    from bot.flowdef import read_flows
    from bot.i18n import read_catalog
    from bot.store import read_directory

    catalog, found = read_catalog(root / "locales")
    flows, more = read_flows(root / "flows")
    directory, rest = read_directory(root / "flows" / "resources", regions=regions)
    if catalog is None or errors([*found, *more, *rest]):
        return []
    return resource_problems(flows.values(), catalog, directory, today, max_age)


def _flows_graph(args) -> int:
    from bot.flowdef import to_mermaid
    from bot.service import load_content

    content = load_content(Settings.content_dir_from_env())
    flow = content.flows.get(args.flow)
    if flow is None:
        print(f"safeharbor: no flow {args.flow!r} (there is {', '.join(sorted(content.flows))})", file=sys.stderr)
        return 2
    sys.stdout.write(to_mermaid(flow, content.catalog, content.catalog.resolve(args.lang)))
    return 0


def _keys_generate(args) -> int:
    for name, value in generate_keys().items():
        print(f"{name}={value}")
    return 0


def _keys_rotate(args) -> int:
    from bot.service import open_store
    from bot.store.rollover import rotate_key_encryption

    store = open_store(Settings.from_env())
    try:
        files, secrets_sealed = rotate_key_encryption(store.engine, store.keys)
        print(f"sealed {files} epoch key(s) and {secrets_sealed} TOTP secret(s) under the newest key", file=sys.stderr)

        def progress(done: int, total: int) -> None:
            print(f"\rmoved {done}/{total} conversation keys to the current epoch", end="", file=sys.stderr, flush=True)

        rolled = store.roll_keys(progress=progress, grace=0)
    finally:
        store.close()
    print(
        f"\rmoved {rolled.moved} key(s) to the current epoch ({rolled.unreadable} no longer open); "
        "older key-encryption keys may now be retired", file=sys.stderr,
    )
    return 0


def _purge(args) -> int:
    from bot.service import Service

    service = Service.from_settings(Settings.from_env())
    try:
        erased = service.purge_expired()
    finally:
        service.close()
    print(f"erased {erased} expired conversation(s)")
    return 0

"""``safeharbor purge`` (erase expired conversations) and ``safeharbor db upgrade|current``
(the schema's migrations)."""

from __future__ import annotations

from bot.config import Settings


def add_to(commands) -> None:
    commands.add_parser("purge", help="erase conversations idle past their expiry").set_defaults(run=_purge)
    database = commands.add_parser("db", help="the database schema").add_subparsers(dest="db_command", required=True, metavar="ACTION")
    database.add_parser("upgrade", help="apply the schema migrations the database is missing (release step)").set_defaults(run=_db_upgrade)
    database.add_parser("current", help="print the database's schema revision and the one this version needs").set_defaults(run=_db_current)


def _purge(args) -> int:
    from bot.service import Service

    service = Service.from_settings(Settings.from_env())
    try:
        erased = service.purge_expired()
    finally:
        service.close()
    print(f"erased {erased} expired conversation(s)")
    return 0


def _db_upgrade(args) -> int:
    from bot.service import upgrade_database

    upgrade_database(Settings.from_env(), progress=lambda line: print(line, flush=True))
    return 0


def _db_current(args) -> int:
    from bot.service import schema_revisions

    at, needed = schema_revisions(Settings.from_env())
    print(f"database: {at or '(empty)'}; this version needs: {needed}")
    return 0 if at == needed else 1

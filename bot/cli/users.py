"""``safeharbor users add|disable|enable|reset-2fa|role|list``: the console's advocates, admins
and translators (a translator with the languages they edit: ``--languages es,fr``).

    safeharbor users add eva@example.org --role translator --languages es,fr   # password on stdin
    safeharbor users role ana@example.org translator --languages pt-br
    safeharbor users list        # email, role, languages, active or disabled
"""

from __future__ import annotations

import sys

from bot.config import Settings

ROLES = ("advocate", "admin", "translator")  # bot.store.people.ROLES (imported late: startup time)


def add_to(commands) -> None:
    people = commands.add_parser("users", help="the console's advocates, admins and translators").add_subparsers(
        dest="users_command", required=True, metavar="ACTION"
    )
    add = people.add_parser("add", help="create a user; prints the otpauth:// URI for their authenticator app")
    add.add_argument("email")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--languages", default="", metavar="CODES", help="a translator's languages, comma-separated (es,fr)")
    add.set_defaults(run=_users_add)
    disable = people.add_parser("disable", help="disable a user and end their sessions")
    disable.add_argument("email")
    disable.set_defaults(run=_users_disable)
    enable = people.add_parser("enable", help="let a disabled user log in again")
    enable.add_argument("email")
    enable.set_defaults(run=_users_enable)
    role = people.add_parser("role", help="change a user's role (and a translator's languages)")
    role.add_argument("email")
    role.add_argument("role", choices=ROLES)
    role.add_argument("--languages", default="", metavar="CODES", help="a translator's languages, comma-separated (es,fr)")
    role.set_defaults(run=_users_role)
    reset = people.add_parser("reset-2fa", help="a new authenticator secret for a user (ends their sessions)")
    reset.add_argument("email")
    reset.set_defaults(run=_users_reset_2fa)
    people.add_parser("list", help="list users").set_defaults(run=_users_list)


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
        uri = accounts.add(args.email, args.role, password, datetime.now(timezone.utc), args.languages)
        user = accounts.find(args.email)
        print(f"added {user.email} ({_role_of(user)}). Enrol this in their authenticator app (a QR code of it, or the secret):")
        print(uri)
        return 0

    return _with_accounts(add)


def _users_disable(args) -> int:
    def disable(accounts) -> int:
        accounts.disable(args.email)
        print(f"disabled {args.email.strip().lower()}; their sessions have ended")
        return 0

    return _with_accounts(disable)


def _users_enable(args) -> int:
    def enable(accounts) -> int:
        accounts.enable(args.email)
        print(f"enabled {args.email.strip().lower()}: they can log in again")
        return 0

    return _with_accounts(enable)


def _users_role(args) -> int:
    def change(accounts) -> int:
        user = accounts.set_role(args.email, args.role, args.languages)
        print(f"{user.email} is now {_role_of(user)}")
        return 0

    return _with_accounts(change)


def _role_of(user) -> str:
    """``translator of es, fr``, or the role alone."""
    return f"{user.role} of {', '.join(user.languages)}" if user.languages else user.role


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
            languages = ",".join(user.languages) or ("all languages" if user.is_admin else "-")
            print(f"{user.email}\t{user.role}\t{languages}\t{'disabled' if user.disabled else 'active'}")
        if not people:
            print("no users yet: safeharbor users add EMAIL --role admin", file=sys.stderr)
        return 0

    return _with_accounts(show)

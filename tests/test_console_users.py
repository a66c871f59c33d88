"""The console's people (issue 15): the translator role, kept off the advocates' desk; admins
managing accounts over ``/api/users`` (a new account's password and secret answered once, never
listed; no admin disabling, demoting or resetting themselves; every change audited); the same on
the command line; and migration 0007 on SQLite and PostgreSQL.

Who may call each route is the access matrix's (``tests/test_console_api.py``); here is what the
routes do."""

from __future__ import annotations

import subprocess
import sys
import time
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from bot.store.people import AccountError, User, normal_languages
from bot.store.schema import _config, head
from testkit.databases import rows, stored_bytes
from tests.conftest import REPO
from tests.test_console_api import PASSWORD, Person, console, fresh_held  # noqa: F401  (console: the fixture)


def add_by_api(console, email: str, role: str = "translator", languages=("es", "fr")):  # noqa: F811
    return console.people["admin"].call("POST", "/api/users", json={"email": email, "role": role, "languages": list(languages)})


def person_of(console, made: dict) -> Person:  # noqa: F811
    """Someone given the password and secret an admin was shown."""
    return Person(console, made["user"]["email"], made["secret"], console.service.clock)


def user_id(console, email: str) -> int:  # noqa: F811
    return console.service.accounts.find(email).id


# -- the role ------------------------------------------------------------------------------------------

def test_who_may_edit_which_language():
    translator = User(1, "eva@example.org", "translator", False, ("es", "fr"))
    assert translator.may_edit_language("es") and translator.may_edit_language("FR")
    assert not translator.may_edit_language("en") and not translator.uses_desk
    admin, advocate = User(2, "root@example.org", "admin", False), User(3, "ana@example.org", "advocate", False)
    assert admin.may_edit_language("en") and admin.may_edit_language("vi") and admin.uses_desk
    assert not advocate.may_edit_language("en") and advocate.uses_desk
    assert not User(4, "old@example.org", "translator", True, ("es",)).may_edit_language("es")  # disabled


def test_the_api_offers_the_roles_the_accounts_know():
    from typing import get_args

    from bot.store.people import ROLES
    from bot.web.api.models import Role

    assert set(get_args(Role)) == set(ROLES)


def test_a_translator_needs_languages_and_only_a_translator_has_them():
    assert normal_languages("translator", " es, FR,es ") == ("es", "fr")
    assert normal_languages("translator", ["pt-BR"]) == ("pt-br",)
    assert normal_languages("admin", "") == ()
    with pytest.raises(AccountError, match="at least one language"):
        normal_languages("translator", "")
    with pytest.raises(AccountError, match="only translators"):
        normal_languages("advocate", "es")
    with pytest.raises(AccountError, match="not a language code"):
        normal_languages("translator", "es;DROP TABLE")


def test_a_translator_sees_nothing_of_the_desk_and_no_chat_goes_to_one(console):  # noqa: F811
    eva, ana = console.people["translator"], console.people["holder"]
    eva.login()
    ana.login()
    me = eva.call("GET", "/api/me").json()
    assert me["role"] == "translator" and me["languages"] == ["es", "fr"]
    assert eva.call("GET", "/api/events").status_code == 403
    handoff_id = fresh_held(console)
    assert eva.email not in {a["email"] for a in ana.call("GET", "/api/advocates").json()}
    refused = ana.call("POST", f"/api/conversations/{handoff_id}/transfer", json={"to": eva.email})
    assert refused.status_code == 404 and refused.json()["detail"] == "no such advocate"
    assert console.service.handoffs.get(handoff_id).holder_id == user_id(console, ana.email)


# -- managing people over the API ----------------------------------------------------------------------

def test_an_admin_adds_a_translator_who_logs_in_with_what_was_shown_once(console):  # noqa: F811
    root = console.people["admin"]
    root.login()
    added = add_by_api(console, " Lu@Example.org ", languages=["es"])
    assert added.status_code == 201
    made = added.json()
    assert made["user"] == {"id": made["user"]["id"], "email": "lu@example.org", "role": "translator", "languages": ["es"], "disabled": False}
    assert len(made["password"]) >= 20
    assert parse_qs(urlparse(made["otpauth_uri"]).query)["secret"] == [made["secret"]]
    lu = person_of(console, made)
    assert lu.login(password=made["password"]).status_code == 200
    assert lu.call("GET", "/api/me").json()["languages"] == ["es"]
    # Never again: not in the list, not in the database, not in the audit trail.
    listed = root.call("GET", "/api/users")
    for shown in (made["password"], made["secret"]):
        assert shown not in listed.text and shown not in root.call("GET", "/api/audit").text
        assert shown.encode() not in stored_bytes(console.db)


def test_the_list_holds_roles_and_languages_and_never_a_hash_or_secret(console):  # noqa: F811
    root = console.people["admin"]
    root.login()
    listed = root.call("GET", "/api/users").json()
    assert {tuple(sorted(entry)) for entry in listed} == {("disabled", "email", "id", "languages", "role")}
    by_email = {entry["email"]: entry for entry in listed}
    assert by_email["eva@example.org"]["languages"] == ["es", "fr"] and by_email["root@example.org"]["role"] == "admin"
    hashes = [r[0] for r in rows(console.db, "SELECT password_hash FROM users")]
    assert all(h.startswith("$argon2") for h in hashes)
    assert "argon2" not in str(listed) and "totp" not in str(listed)


def test_an_admin_cannot_disable_demote_or_reset_themselves(console):  # noqa: F811
    root = console.people["admin"]
    root.login()
    mine = user_id(console, root.email)
    for path, body in (("disable", None), ("reset-2fa", None), ("role", {"role": "advocate"})):
        refused = root.call("POST", f"/api/users/{mine}/{path}", json=body)
        assert refused.status_code == 409, path
        assert refused.json()["detail"].startswith("you cannot") and "another admin" in refused.json()["detail"]
    assert root.call("GET", "/api/me").status_code == 200  # still logged in, still an admin
    assert console.service.accounts.find(root.email).role == "admin"


def test_a_disabled_user_is_logged_out_cannot_log_in_and_can_be_enabled_again(console):  # noqa: F811
    root, ben = console.people["admin"], console.people["other"]
    root.login()
    ben.login()
    shown = root.call("POST", f"/api/users/{user_id(console, ben.email)}/disable")
    assert shown.status_code == 200 and shown.json()["disabled"] is True
    assert ben.call("GET", "/api/me").status_code == 401
    console.service.clock.advance(seconds=30)
    assert ben.login().status_code == 401
    assert root.call("POST", f"/api/users/{user_id(console, ben.email)}/enable").json()["disabled"] is False
    console.service.clock.advance(seconds=30)
    assert ben.login().status_code == 200


def test_a_new_authenticator_ends_the_sessions_and_the_old_app_stops_working(console):  # noqa: F811
    root, ben = console.people["admin"], console.people["other"]
    root.login()
    ben.login()
    reset = root.call("POST", f"/api/users/{user_id(console, ben.email)}/reset-2fa")
    assert reset.status_code == 200 and set(reset.json()) == {"user", "secret", "otpauth_uri"}
    assert ben.call("GET", "/api/me").status_code == 401
    console.service.clock.advance(seconds=30)
    assert ben.login().status_code == 401  # the old app's code
    ben.secret = reset.json()["secret"]
    assert ben.login().status_code == 200


def test_a_role_change_holds_at_once_in_a_live_session(console):  # noqa: F811
    root, ben = console.people["admin"], console.people["other"]
    root.login()
    ben.login()
    assert ben.call("GET", "/api/conversations").status_code == 200
    changed = root.call("POST", f"/api/users/{user_id(console, ben.email)}/role", json={"role": "translator", "languages": ["vi"]})
    assert changed.json()["role"] == "translator" and changed.json()["languages"] == ["vi"]
    assert ben.call("GET", "/api/conversations").status_code == 403
    assert ben.call("GET", "/api/me").json()["languages"] == ["vi"]
    assert ben.call("GET", "/api/events").status_code == 403
    root.call("POST", f"/api/users/{user_id(console, ben.email)}/role", json={"role": "admin"})
    assert ben.call("GET", "/api/users").status_code == 200


def test_a_live_stream_ends_when_its_advocate_becomes_a_translator(console):  # noqa: F811
    ben = console.people["other"]
    ben.login()
    with console.stream("GET", "/api/events", headers={"Cookie": f"sh_session={ben.cookie}"}) as stream:
        chunks = stream.iter_bytes()
        next(chunks)
        started = time.monotonic()
        console.service.accounts.set_role(ben.email, "translator", "es")
        for _ in chunks:  # ends when the server closes the stream
            assert time.monotonic() - started < 10
    assert time.monotonic() - started < 10


def test_every_change_to_people_is_in_the_audit_trail(console):  # noqa: F811
    root = console.people["admin"]
    root.login()
    made = add_by_api(console, "mo@example.org").json()
    new = made["user"]["id"]
    for path, body in (("disable", None), ("enable", None), ("reset-2fa", None), ("role", {"role": "advocate"})):
        assert root.call("POST", f"/api/users/{new}/{path}", json=body).status_code == 200
    trail = [(e["actor"], e["action"], e["label"]) for e in root.call("GET", "/api/audit").json() if e["label"] == "mo@example.org"]
    assert trail == [(root.email, action, "mo@example.org") for action in (
        "user_role_advocate", "user_2fa_reset", "user_enabled", "user_disabled", "user_added",
    )]


def test_bad_input_gets_a_clear_json_answer(console):  # noqa: F811
    root = console.people["admin"]
    root.login()
    cases = [
        (add_by_api(console, "eva@example.org"), 409, "eva@example.org already exists"),
        (add_by_api(console, "not an email"), 422, "not an email address"),
        (add_by_api(console, "x@example.org", languages=()), 422, "a translator needs at least one language"),
        (add_by_api(console, "y@example.org", role="advocate"), 422, "only translators have languages"),
        (root.call("POST", "/api/users/999999/disable"), 404, "no such user"),
    ]
    for answer, status, detail in cases:
        assert (answer.status_code, answer.json()["detail"][: len(detail)]) == (status, detail)
    for answer in (
        add_by_api(console, "z@example.org", role="owner"),
        root.call("POST", "/api/users/not-a-number/disable"),
        root.call("POST", "/api/users", json={"email": "z@example.org"}),
    ):
        assert answer.status_code == 422 and answer.headers["content-type"] == "application/json"
        assert "Traceback" not in answer.text
    assert console.service.accounts.find("z@example.org") is None


def test_managing_people_needs_the_csrf_token_and_a_session(console):  # noqa: F811
    root = console.people["admin"]
    root.login()
    body = {"email": "csrf@example.org", "role": "advocate", "languages": []}
    assert root.call("POST", "/api/users", json=body, csrf=False).status_code == 403
    assert console.post("/api/users", json=body).status_code == 401
    target = user_id(console, "ben@example.org")
    assert root.call("POST", f"/api/users/{target}/disable", csrf=False).status_code == 403
    assert console.service.accounts.find("csrf@example.org") is None
    assert console.service.accounts.find("ben@example.org").disabled is False


# -- the command line ----------------------------------------------------------------------------------

def safeharbor(tmp_path, database_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {"DATABASE_URL": database_url, "SAFEHARBOR_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "bot", "users", *args], env=env, cwd=REPO, input=stdin, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.sqlite_only
def test_users_on_the_command_line(tmp_path, database_url):
    added = safeharbor(tmp_path, database_url, "add", "Eva@example.org", "--role", "translator", "--languages", "es,FR", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert "added eva@example.org (translator of es, fr)" in added.stdout and "otpauth://totp/" in added.stdout
    no_language = safeharbor(tmp_path, database_url, "add", "lu@example.org", "--role", "translator", stdin=PASSWORD + "\n")
    assert no_language.returncode == 1 and "a translator needs at least one language" in no_language.stderr
    assert "Traceback" not in no_language.stderr
    assert safeharbor(tmp_path, database_url, "add", "root@example.org", "--role", "admin", stdin=PASSWORD + "\n").returncode == 0
    changed = safeharbor(tmp_path, database_url, "role", "eva@example.org", "translator", "--languages", "vi")
    assert changed.returncode == 0 and "eva@example.org is now translator of vi" in changed.stdout
    assert safeharbor(tmp_path, database_url, "disable", "eva@example.org").returncode == 0
    listed = safeharbor(tmp_path, database_url, "list").stdout.splitlines()
    assert listed == ["eva@example.org\ttranslator\tvi\tdisabled", "root@example.org\tadmin\tall languages\tactive"]
    assert safeharbor(tmp_path, database_url, "enable", "eva@example.org").returncode == 0
    assert safeharbor(tmp_path, database_url, "list").stdout.splitlines()[0].endswith("\tactive")
    unknown = safeharbor(tmp_path, database_url, "role", "nobody@example.org", "advocate")
    assert unknown.returncode == 1 and "no user nobody@example.org" in unknown.stderr


# -- migration 0007 ------------------------------------------------------------------------------------

def test_0007_gives_accounts_languages_and_a_downgrade_keeps_no_translator_usable(database_url):
    """Accounts of 0006 upgrade with no languages (advocates and admins have none); going back
    to 0006, which knows no translators (it would let one in as an advocate), disables them."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(_config(connection), "0006")
        connection.execute(text(
            "INSERT INTO users (email, role, password_hash, totp_secret, totp_last_step, disabled, created_at) "
            "VALUES ('ana@example.org', 'advocate', 'h', :secret, 0, 0, :now)"
        ), {"secret": b"sealed", "now": "2026-11-26 12:00:00"})
    from bot.config import Settings, generate_keys
    from bot.service import upgrade_database

    settings = Settings.from_env({"SAFEHARBOR_ENV": "test", "DATABASE_URL": database_url, **generate_keys()})
    assert upgrade_database(settings, progress=lambda _: None)[-1] == head()
    assert "languages" in {column["name"] for column in inspect(engine).get_columns("users")}
    with engine.begin() as connection:
        assert connection.execute(text("SELECT role, languages FROM users")).all() == [("advocate", None)]
        connection.execute(text(
            "INSERT INTO users (email, role, languages, password_hash, totp_secret, totp_last_step, disabled, created_at) "
            "VALUES ('eva@example.org', 'translator', 'es', 'h', :secret, 0, 0, :now)"
        ), {"secret": b"sealed", "now": "2026-11-26 12:00:00"})
    with engine.begin() as connection:
        command.downgrade(_config(connection), "0006")
    assert "languages" not in {column["name"] for column in inspect(engine).get_columns("users")}
    with engine.connect() as connection:
        kept = connection.execute(text("SELECT email, disabled FROM users ORDER BY email")).all()
    assert kept == [("ana@example.org", 0), ("eva@example.org", 1)]
    engine.dispose()

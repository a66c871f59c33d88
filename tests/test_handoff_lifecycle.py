"""The handoff lifecycle as data (``bot.handoff.lifecycle``): the statements refuse every move its
table does not list, the refusals are typed, and each maps to one HTTP status in the API only.

Driven through the service and the records on a real database (SQLite, and PostgreSQL when
configured), as the console's calls would make them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot import handoff as handoff_module
from bot.service import console_people
from bot.handoff import (
    ACTIVE, LEFT_SHOWN_FOR, TRANSITIONS, HandoffError, HandoffGone, NotYours, Status, WrongStatus,
)
from bot.web.api.errors import STATUS, http_error
from testkit.databases import rows
from tests.conftest import REPO
from tests.test_handoff import ADVOCATE, OTHER, escalate, held_chat, say, sent_to
from tests.test_handoff import service  # noqa: F401 - the fixture

ANA = "ana@example.org"


def test_the_table_names_every_status_and_only_reachable_ones():
    assert ACTIVE == {Status.WAITING, Status.HELD}
    reached = {to for _from, to in TRANSITIONS.values()}
    assert reached | {Status.WAITING} == set(Status)  # waiting is where every handoff starts
    assert TRANSITIONS["person_left"] == (ACTIVE, Status.LEFT)
    assert Status.CLOSED not in TRANSITIONS["close"][0]  # closing twice is not a move


def test_a_closed_conversation_cannot_be_claimed_transferred_or_released(service):
    held = held_chat(service)
    service.end_handoff(held, "close", ANA, ADVOCATE)
    closed = service.handoffs.get(held.id)
    assert closed.status == Status.CLOSED
    with pytest.raises(WrongStatus) as refused:
        service.claim_handoff(held.id, OTHER, "ben@example.org")
    assert refused.value.reason == "this conversation is closed"
    with pytest.raises(NotYours):
        service.handoffs.transfer(closed, OTHER, ANA, service.clock(), None)
    with pytest.raises(NotYours):
        service.end_handoff(closed, "release", ANA, None)
    assert service.handoffs.get(held.id).status == Status.CLOSED and sent_to(service) == []


def test_a_waiting_conversation_cannot_be_transferred(service):
    escalate(service)
    (waiting,) = service.handoffs.listing("waiting")
    with pytest.raises(NotYours):
        service.handoffs.transfer(waiting, OTHER, ANA, service.clock(), None)
    assert service.handoffs.get(waiting.id).status == Status.WAITING and service.handoffs.get(waiting.id).holder_id is None


def test_the_person_leaving_is_the_handoffs_move_in_the_erasures_transaction(service, settings):
    held = held_chat(service)
    assert say(service, "EXIT").startswith("Done.")
    left = service.handoffs.get(held.id)
    assert left.status == Status.LEFT and left.conversation_id is None
    with pytest.raises(HandoffGone):
        service.handoffs.add(held.id, "note", "too late", ADVOCATE, ANA, service.clock())
    # Shown to its advocate for LEFT_SHOWN_FOR, then purged like any ended handoff.
    (delete_after,) = rows(settings.database_url, f"SELECT delete_after FROM handoffs WHERE id = '{held.id}'")[0]
    assert delete_after is not None
    service.clock.advance(seconds=LEFT_SHOWN_FOR.total_seconds() - 60)
    assert service.handoffs.purge(service.clock()) == 0
    service.clock.advance(seconds=120)
    assert service.handoffs.purge(service.clock()) == 1 and service.handoffs.get(held.id) is None


def test_every_refusal_maps_to_one_http_status_in_the_api():
    kinds = {
        value for module in (handoff_module, console_people) for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, HandoffError) and value is not HandoffError
    }
    assert kinds == set(STATUS)  # a new refusal needs its status here, and nowhere else
    answered = {kind.__name__: http_error(kind("why")).status_code for kind in kinds}
    assert answered == {
        "UnknownListing": 400, "NotAllowed": 403, "NoSuchHandoff": 404, "NoSuchAdvocate": 404, "HandoffGone": 409,
        "NotYours": 409, "WrongStatus": 409, "RevealingOpening": 422, "TeachesOptOut": 422,
        "NoSuchUser": 404, "AccountConflict": 409, "InvalidAccount": 422,  # the console's people (bot.service.console_people)
    }
    assert http_error(HandoffError("unlisted")).status_code == 500
    assert not any(hasattr(kind("why"), "status") for kind in kinds)  # the refusal says what, not which HTTP status


# What a module of the console's API may import from the project (DESIGN "Architecture": ``web``
# imports service, domain, and the console facade that will be ``service/console.py``).
API_MAY_IMPORT = ("bot.service.console", "bot.service", "bot.domain", "bot.web.api")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name == "bot" or name.startswith("bot.")}


def test_the_console_api_imports_the_facade_service_and_domain_only():
    modules = sorted((REPO / "bot" / "web" / "api").glob("*.py"))
    assert {m.stem for m in modules} >= {"__init__", "auth", "conversations", "admin", "deps", "errors"}
    wrong = {
        f"{m.name}: {name}" for m in modules for name in _imports(m)
        if not any(name == allowed or name.startswith(allowed + ".") for allowed in API_MAY_IMPORT)
    }
    assert wrong == set()


def test_the_store_writes_no_handoff_rows():
    """The person-left move is the handoff module's: the conversation store names none of the
    handoff tables (the key rollover, which rewraps every key, is the one store module that does)."""
    source = (REPO / "bot" / "store" / "sessions.py").read_text()
    tree = ast.parse(source)
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert not names & {"handoffs", "handoff_messages", "audit_log"}

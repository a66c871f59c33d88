"""Golden transcripts: every journey in tests/golden/ replayed through the service, on a real
SQLite file, with a fixed clock; replies and the final state must be exactly as recorded.

A journey file::

    journey: what it shows
    from: "+15550100001"          # the sender's address (terminal channel)
    turns:
      - send: "hi"
        after_minutes: 0           # optional: minutes to wait before sending
        advocate: claim            # optional: first an advocate claims the waiting chat
        reply: |-                  # recorded: every reply of the turn, rendered as SMS shows it
          Hi, thanks for writing. ...
        state: welcome             # recorded: the step after the turn (null: nothing kept)
        events: []                 # recorded
    final: {state: ..., language: ..., stored: true, handoff: held (urgent)}

Run ``pytest tests/test_golden.py --regen-golden`` after a deliberate change, then read the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.domain.messages import Channel, Inbound, render_plain

GOLDEN = Path(__file__).parent / "golden"
JOURNEYS = sorted(GOLDEN.glob("*.yaml"))


def test_there_are_journeys_in_both_languages():
    names = [p.stem for p in JOURNEYS]
    assert sum(n.startswith("en_") for n in names) >= 8
    assert sum(n.startswith("es_") for n in names) >= 8


def replay(service, journey: dict, clock) -> tuple[list[dict], dict]:
    recorded = []
    for turn in journey["turns"]:
        clock.advance(minutes=turn.get("after_minutes", 0))
        if turn.get("advocate") == "claim":
            (waiting,) = service.handoffs.listing("waiting")
            service.claim_handoff(waiting.id, 1, "ana@example.org")
        result = service.run_turn(Inbound(Channel.TERMINAL, journey["from"], turn["send"]))
        recorded.append({
            "reply": "\n\n".join(render_plain(o) for o in result.outputs),
            "state": result.session.state if result.session else None,
            "events": [e.name + (" (urgent)" if getattr(e, "urgent", False) else "") for e in result.events],
        })
    with service.store.conversation(service.pseudonyms.of("terminal", journey["from"]), clock()) as held:
        session = held.session
    handoffs = service.handoffs.listing("waiting") + service.handoffs.listing("open")
    final = {
        "state": session.state if session else None,
        "language": session.language if session else None,
        "stored": session is not None,
        "handoff": " ".join(f"{h.status}{' (urgent)' if h.urgent else ''}" for h in handoffs) or None,
    }
    return recorded, final


@pytest.mark.parametrize("path", JOURNEYS, ids=[p.stem for p in JOURNEYS])
def test_journey(path, sql_service, clock, request):
    journey = yaml.safe_load(path.read_text(encoding="utf-8"))
    recorded, final = replay(sql_service, journey, clock)
    if request.config.getoption("--regen-golden"):
        for turn, got in zip(journey["turns"], recorded):
            turn.update(got)
        journey["final"] = final
        path.write_text(_dump(journey), encoding="utf-8")
        return
    for number, (turn, got) in enumerate(zip(journey["turns"], recorded), 1):
        expected = {k: turn.get(k) for k in ("reply", "state", "events")}
        assert got == expected, f"{path.name}: turn {number} (sent {turn['send'][:40]!r})"
    assert final == journey["final"], f"{path.name}: final state"


class _Literal(str):
    pass


def _dump(journey: dict) -> str:
    def literal(dumper, value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")

    yaml.add_representer(_Literal, literal, Dumper=yaml.SafeDumper)
    for turn in journey["turns"]:
        if "\n" in turn["reply"]:
            turn["reply"] = _Literal(turn["reply"])
    return yaml.safe_dump(journey, allow_unicode=True, sort_keys=False, width=1000)

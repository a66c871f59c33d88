"""The rollover keeps everything live readable across epochs, and only that."""

from __future__ import annotations

import pytest

from bot.config import HandoffSettings
from bot.domain import Channel, Inbound
from bot.service import Service
from bot.store import KeyRing, Pseudonyms, SessionStore, open_database, rollover
from testkit.databases import rows

PHONE = "+15550133441"


def test_live_conversations_handoffs_and_waiting_messages_outlive_every_epoch(settings, content, clock, tmp_path):
    wall = [2_000_000.0]
    keys = KeyRing(list(settings.encryption_keys), key_store=tmp_path / "keys", epoch_length=100, clock=lambda: wall[0])
    service = Service(content, SessionStore(open_database(settings.database_url), keys), Pseudonyms(settings.pepper), clock, HandoffSettings())
    try:
        for text in ("hi", "advocate", "2", "my papers are with him"):
            service.handle(Inbound(Channel.SMS, PHONE, text))
        (waiting,) = service.handoffs.listing("waiting")
        held = service.claim_handoff(waiting.id, 1, "ana@example.org")  # "someone is here now" waits in the outbox
        first = keys.epochs.number()
        for step in range(1, 5):  # four epochs on, the rollover running in each as the worker does
            wall[0] += 100
            rolled = service.store.roll_keys(grace=0)
            assert rolled.moved >= 3 and rolled.destroyed == (first + step - 1,)  # conversation, handoff, message
            assert keys.epochs.numbers() == [first + step]
            ((epoch,),) = rows(settings.database_url, "SELECT epoch FROM data_keys")
            assert epoch == first + step
        # Everything still opens under the fifth epoch: the transcript, the address, the message
        # waiting to be sent, and the conversation (found by its new tag, where the person was).
        said = [line["text"] for line in service.handoffs.transcript(held, "ana@example.org", clock())]
        assert "my papers are with him" in said
        assert service.handoffs.address(held.id) == PHONE
        jobs = service.store.outbox().take_due(clock())
        assert any(job.payload.get("to") == PHONE for job in jobs)
        service.handle(Inbound(Channel.SMS, PHONE, "still here"))
        assert "still here" in [line["text"] for line in service.handoffs.transcript(held, "ana@example.org", clock())]
        assert len(rows(settings.database_url, "SELECT id FROM conversations")) == 1
    finally:
        service.close()


@pytest.mark.postgresql_only  # (on SQLite one writer at a time: a quick exit cannot land inside a rollover)
def test_the_rollover_never_brings_back_a_conversation_erased_while_it_ran(settings, content, clock, tmp_path, monkeypatch):
    wall = [2_000_000.0]
    keys = KeyRing(list(settings.encryption_keys), key_store=tmp_path / "keys", epoch_length=100, clock=lambda: wall[0])
    service = Service(content, SessionStore(open_database(settings.database_url), keys), Pseudonyms(settings.pepper), clock)
    try:
        service.handle(Inbound(Channel.SMS, PHONE, "hi"))
        wall[0] += 100
        real = rollover._moved_conversation_key

        def erase_midway(*args):  # the rollover has read the key; the person quick-exits before it writes
            move = real(*args)
            service.handle(Inbound(Channel.SMS, PHONE, "EXIT"))
            return move

        monkeypatch.setattr(rollover, "_moved_conversation_key", erase_midway)
        service.store.roll_keys(grace=0)
        assert rows(settings.database_url, "SELECT count(*) FROM conversations") == [(0,)]
        assert rows(settings.database_url, "SELECT count(*) FROM data_keys") == [(0,)]
    finally:
        service.close()

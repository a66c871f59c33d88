"""Handing a chat to a person, driven as the person (inbound messages) and as the console (the
service's calls the API makes): escalation, waiting, claim, silence while held, answers through
the outbox, release back to the bot, close and shredding, and the quick exit mid-handoff."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.config import HandoffSettings
from bot.domain import Channel, Inbound
from bot.handoff import HandoffError, NotYours, OfficeHours, RevealingOpening, TeachesOptOut, WrongStatus
from bot.domain.messages import render_plain
from bot.service import Service, decode_output, key_ring
from bot.store import KeyRing, Pseudonyms, SessionStore, open_database
from testkit.databases import rows

PHONE = "+15550104040"
ADVOCATE, OTHER = 1, 2  # user ids; the handoff records take them as they are


def make_service(settings, content, clock, **handoff) -> Service:
    store = SessionStore(open_database(settings.database_url), key_ring(settings))
    return Service(content, store, Pseudonyms(settings.pepper), clock, HandoffSettings(**handoff))


@pytest.fixture
def service(settings, content, clock) -> Service:
    service = make_service(settings, content, clock)
    yield service
    service.close()


def say(service: Service, text: str, address: str = PHONE) -> str:
    return "\n\n".join(o.text for o in service.handle(Inbound(Channel.SMS, address, text)))


def escalate(service: Service, address: str = PHONE, replies: str = "write") -> str:
    """Ask for a person, choosing how replies come: ``write`` ("You may write to me here") or
    ``check_back`` ("I will check back here": nothing is sent until the person writes)."""
    say(service, "hi", address)
    say(service, "advocate", address)
    return say(service, "2" if replies == "write" else "1", address)


def sent_to(service: Service, address: str = PHONE) -> list[str]:
    """Texts queued in the outbox for ``address``, oldest first (the worker's view of them)."""
    jobs = []
    outbox = service.store.outbox()
    while True:
        taken = outbox.take_due(service.clock() + timedelta(days=1))
        if not taken:
            break
        for job in taken:
            outbox.sent(job)
            jobs.append(job)
    return [render_plain(decode_output(job.payload)) for job in sorted(jobs, key=lambda j: j.id) if job.payload.get("to") == address]


def held_chat(service: Service):
    """A chat asked for (written to), claimed by ADVOCATE, with the outbox drained: the held handoff."""
    escalate(service)
    (waiting,) = service.handoffs.listing("waiting")
    held = service.claim_handoff(waiting.id, ADVOCATE, "ana@example.org")
    sent_to(service)
    return held


def db_rows(settings, query: str) -> list[tuple]:
    return rows(settings.database_url, query)


def test_asking_for_a_person_puts_the_chat_in_the_queue_and_tells_the_wait(service):
    reply = escalate(service)
    assert "You asked to talk with a person." in reply
    assert "usually answers within 10 minutes" in reply
    (waiting,) = service.handoffs.listing("waiting")
    assert waiting.status == "waiting" and not waiting.urgent and waiting.channel == "sms" and waiting.language == "en"
    assert waiting.label.split()[0].isalpha() and waiting.label.split()[1].isdigit()
    assert PHONE not in str(waiting.public())


def test_out_of_office_hours_the_person_gets_the_24_7_line_at_once(settings, content, clock):
    # The test clock starts on Thursday 2026-11-26 at 12:00 UTC; advocates work evenings only here.
    service = make_service(settings, content, clock, office_hours="mon-fri 20:00-23:00", office_timezone="UTC")
    reply = escalate(service)
    assert "Our team is not here right now" in reply and "1-888-373-7888" in reply
    assert len(service.handoffs.listing("waiting")) == 1  # they may keep waiting


def test_emergency_words_then_a_person_make_an_urgent_handoff_listed_first(service):
    escalate(service, "+15550100001")
    say(service, "help me")  # emergency guidance first ...
    say(service, "1")  # ... then the offer of a person
    reply = say(service, "yes")  # a bare yes: the choice that never writes first
    assert "usually answers" in reply and "We will not write first." in reply
    first, second = service.handoffs.listing("waiting")
    assert first.urgent and not second.urgent


def test_while_waiting_the_menu_works_and_a_greeting_does_not_cancel(service):
    escalate(service)
    assert say(service, "menu").startswith("Here are some options.")
    # A greeting gets the menu, not the first-message greeting that a restart would give: the
    # request stands.
    assert say(service, "hi").startswith("Here are some options.")
    assert len(service.handoffs.listing("waiting")) == 1
    assert "already in line" in say(service, "advocate") + say(service, "yes")
    assert len(service.handoffs.listing("waiting")) == 1


def test_held_chat_the_bot_is_silent_and_the_advocate_reads_and_answers(service, clock):
    escalate(service)
    (waiting,) = service.handoffs.listing("waiting")
    held = service.claim_handoff(waiting.id, ADVOCATE, "ana@example.org")
    assert held.status == "held"
    assert sent_to(service)[-1].startswith("Hi. Someone from our team is here now")

    assert say(service, "my boss took my passport") == ""  # no bot answer: the advocate answers
    assert say(service, "1") == ""  # not even to a number
    service.answer(held, "I'm here. Are you safe to talk now?", ADVOCATE, "ana@example.org")
    assert sent_to(service) == ["I'm here. Are you safe to talk now?"]

    lines = service.handoffs.transcript(held, "ana@example.org", clock())
    said = [(line["sender"], line["text"]) for line in lines]
    assert ("person", "my boss took my passport") in said and ("advocate", "I'm here. Are you safe to talk now?") in said
    assert said.index(("person", "my boss took my passport")) < said.index(("advocate", "I'm here. Are you safe to talk now?"))


def test_emergency_words_still_answered_by_the_bot_while_held_and_mark_it_urgent(service):
    escalate(service)
    (waiting,) = service.handoffs.listing("waiting")
    service.claim_handoff(waiting.id, ADVOCATE, "ana@example.org")
    assert "911" in say(service, "he is here, danger")
    (held,) = service.handoffs.listing("open")
    assert held.urgent and held.status == "held"


def test_a_second_advocate_cannot_claim_a_held_chat(service):
    escalate(service)
    (waiting,) = service.handoffs.listing("waiting")
    service.claim_handoff(waiting.id, ADVOCATE, "ana@example.org")
    with pytest.raises(NotYours):
        service.claim_handoff(waiting.id, OTHER, "ben@example.org")
    assert service.claim_handoff(waiting.id, ADVOCATE, "ana@example.org").status == "held"  # idempotent for the holder


def test_release_sends_nothing_and_the_next_message_gets_the_note_and_the_menu(service):
    escalate(service)
    (waiting,) = service.handoffs.listing("waiting")
    held = service.claim_handoff(waiting.id, ADVOCATE, "ana@example.org")
    sent_to(service)
    service.end_handoff(held, "release", "ana@example.org")
    assert sent_to(service) == []  # nothing unprompted: the chat ended while they were away
    assert service.handoffs.get(held.id).status == "released"
    # Their next message ("1", meant for the advocate or for what they last saw) is not read
    # against a menu they never got: they get the note and the menu.
    replies = service.handle(Inbound(Channel.SMS, PHONE, "1"))
    assert [r.text.split("\n")[0] for r in replies] == ["Thank you for writing. You are back with the automatic menu.", "Here are some options."]
    assert say(service, "1").startswith("Here is what you can do now.")  # now "1" is the menu's first choice


def test_quick_exit_while_held_erases_and_the_advocate_learns_only_that_they_left(service, settings, clock):
    escalate(service)
    (waiting,) = service.handoffs.listing("waiting")
    held = service.claim_handoff(waiting.id, ADVOCATE, "ana@example.org")
    say(service, "my boss took my passport")
    assert say(service, "EXIT").startswith("Done.")
    left = service.handoffs.get(held.id)
    assert left.status == "left" and left.conversation_id is None
    assert service.handoffs.transcript(left, "ana@example.org", clock()) == []
    assert db_rows(settings, "SELECT count(*) FROM handoff_messages") == [(0,)]
    assert db_rows(settings, f"SELECT wrapped_key, address FROM handoffs WHERE id = '{held.id}'") == [(None, None)]
    with pytest.raises(HandoffError):
        service.answer(left, "hello?", ADVOCATE, "ana@example.org")
    actions = [(entry["actor"], entry["action"]) for entry in service.handoffs.audit_trail()]
    assert ("person", "left") in actions


def test_close_shreds_the_transcript_after_the_retention_time(settings, content, clock):
    service = make_service(settings, content, clock, transcript_retention_hours=72)
    escalate(service)
    (waiting,) = service.handoffs.listing("waiting")
    held = service.claim_handoff(waiting.id, ADVOCATE, "ana@example.org")
    say(service, "thank you")
    service.end_handoff(held, "close", "ana@example.org")
    assert service.handoffs.get(held.id).status == "closed"
    clock.advance(hours=71)
    assert service.handoffs.purge(clock()) == 0
    assert db_rows(settings, "SELECT count(*) FROM handoff_messages")[0][0] > 0
    clock.advance(hours=2)
    assert service.handoffs.purge(clock()) == 1
    assert db_rows(settings, "SELECT count(*) FROM handoff_messages") == [(0,)]
    assert db_rows(settings, "SELECT count(*) FROM handoffs") == [(0,)]


def test_unclaimed_past_the_wait_the_person_is_told_the_24_7_line_once(service, clock):
    escalate(service)
    sent_to(service)
    clock.advance(minutes=9)
    assert service.remind_waiting() == 0
    clock.advance(minutes=2)
    assert service.remind_waiting() == 1
    (reminder,) = sent_to(service)
    assert reminder.startswith("Still here. No one from our team is free yet")
    assert "233733" not in reminder and "373-7888" not in reminder  # nothing on a lock screen to tell what it is
    clock.advance(minutes=30)
    assert service.remind_waiting() == 0
    assert service.handoffs.listing("waiting")  # still waiting


def test_a_waiting_conversation_does_not_expire(service, clock):
    escalate(service)
    clock.advance(hours=3)  # the flow's idle timeout is an hour
    assert service.purge_expired() == 0
    assert say(service, "hello").startswith("Here are some options.")
    assert len(service.handoffs.listing("waiting")) == 1


def test_the_advocates_group_gets_the_label_only(settings, content, clock):
    service = make_service(settings, content, clock, advocate_telegram_chat="-1001234")
    escalate(service)
    (waiting,) = service.handoffs.listing("waiting")
    (notice,) = sent_to(service, "-1001234")
    assert notice == f"New chat waiting: {waiting.label}"


def test_office_hours_schedule():
    hours = OfficeHours.parse("mon-fri 09:00-17:00; sat 22:00-02:00", "America/New_York")
    at = lambda text: datetime.fromisoformat(text).replace(tzinfo=timezone.utc)  # noqa: E731
    assert hours.open_at(at("2026-01-05T15:00"))  # Monday 10:00 in New York
    assert not hours.open_at(at("2026-01-05T23:00"))  # Monday 18:00
    assert hours.open_at(at("2026-01-11T05:00"))  # Sunday 00:00: Saturday's span past midnight
    assert not hours.open_at(at("2026-01-11T08:00"))
    assert OfficeHours.parse("", "UTC").open_at(at("2026-01-11T08:00"))


# -- found by review: races and leftovers between the person's side and the console's ----------------


def test_closing_an_old_handoff_leaves_a_newer_request_alone(service):
    escalate(service)
    (first,) = service.handoffs.listing("waiting")
    held = service.claim_handoff(first.id, ADVOCATE, "ana@example.org")
    service.end_handoff(held, "release", "ana@example.org", ADVOCATE)
    say(service, "advocate")
    say(service, "yes")  # a new request: a second handoff, waiting
    (second,) = service.handoffs.listing("waiting")
    sent_to(service)
    service.end_handoff(service.handoffs.get(first.id), "close", "ana@example.org", ADVOCATE)
    assert sent_to(service) == []  # nothing unprompted to the person
    assert service.handoffs.get(second.id).status == "waiting"
    assert say(service, "1") != "" and service.handoffs.get(second.id).status == "waiting"


def test_an_answer_after_release_is_refused_and_not_sent(service):
    escalate(service)
    (waiting,) = service.handoffs.listing("waiting")
    held = service.claim_handoff(waiting.id, ADVOCATE, "ana@example.org")
    stale = service.handoffs.get(held.id)  # what a console tab still shows
    service.end_handoff(held, "release", "ana@example.org", ADVOCATE)
    sent_to(service)
    with pytest.raises(WrongStatus):
        service.answer(stale, "are you still there?", ADVOCATE, "ana@example.org")
    assert sent_to(service) == []


def test_a_holder_who_transferred_cannot_release_or_answer_any_more(service):
    escalate(service)
    (waiting,) = service.handoffs.listing("waiting")
    held = service.claim_handoff(waiting.id, ADVOCATE, "ana@example.org")
    service.handoffs.transfer(held, OTHER, "ana@example.org", service.clock(), ADVOCATE)
    with pytest.raises(HandoffError):
        service.end_handoff(held, "release", "ana@example.org", ADVOCATE)
    with pytest.raises(HandoffError):
        service.answer(held, "hello", ADVOCATE, "ana@example.org")
    assert service.handoffs.get(held.id).status == "held" and service.handoffs.get(held.id).holder_id == OTHER


def test_a_double_claim_tells_the_person_once(service):
    escalate(service)
    (waiting,) = service.handoffs.listing("waiting")
    sent_to(service)
    service.claim_handoff(waiting.id, ADVOCATE, "ana@example.org")
    service.claim_handoff(waiting.id, ADVOCATE, "ana@example.org")
    assert len([t for t in sent_to(service) if "Someone from our team is here now" in t]) == 1


def test_back_to_the_queue_the_wait_counts_anew(service, clock):
    escalate(service)
    (waiting,) = service.handoffs.listing("waiting")
    clock.advance(minutes=8)
    held = service.claim_handoff(waiting.id, ADVOCATE, "ana@example.org")
    clock.advance(minutes=5)
    service.handoffs.transfer(held, None, "ana@example.org", clock(), ADVOCATE)
    assert service.remind_waiting() == 0  # 13 minutes since asking, but just back in the queue
    clock.advance(minutes=11)
    assert service.remind_waiting() == 1


def test_advocate_text_that_would_reveal_on_a_lock_screen_is_refused(service):
    escalate(service)
    (waiting,) = service.handoffs.listing("waiting")
    held = service.claim_handoff(waiting.id, ADVOCATE, "ana@example.org")
    sent_to(service)
    with pytest.raises(RevealingOpening) as refused:
        service.answer(held, "Hi, this is Ana from the trafficking hotline", ADVOCATE, "ana@example.org")
    assert "traffick" in refused.value.reason
    assert sent_to(service) == []
    for hidden in ("Hi, it's Ana. Call the sh\u200belter", "Hi, it's Ana. Call the \u0455helter", "Hi. " + "x " * 60 + "the hotline can help"):
        with pytest.raises(HandoffError):  # invisible and look-alike characters, or past 100 characters but inside 178
            service.answer(held, hidden, ADVOCATE, "ana@example.org")
    assert sent_to(service) == []
    service.answer(held, "Hi, it's Ana. " + "x " * 90 + "the hotline can help", ADVOCATE, "ana@example.org")
    assert len(sent_to(service)) == 1  # past the 178 characters a lock screen shows, the words are fine


def test_abandoned_handoffs_are_closed_without_a_message_and_then_expire(service, clock):
    escalate(service)
    (waiting,) = service.handoffs.listing("waiting")
    sent_to(service)
    clock.advance(hours=23)
    assert service.close_abandoned() == 0
    clock.advance(hours=2)
    assert service.close_abandoned() == 1
    assert service.handoffs.get(waiting.id).status == "closed"
    assert sent_to(service) == []
    assert service.purge_expired() == 1  # the conversation is no longer kept for the handoff


def test_the_advocates_notice_goes_on_its_own_stream(settings, content, clock):
    service = make_service(settings, content, clock, advocate_telegram_chat="-1001234")
    escalate(service)
    streams = {stream for (stream,) in db_rows(settings, "SELECT stream FROM outbox WHERE channel = 'telegram'")}
    assert streams == {"advocates-notices"}


@pytest.mark.parametrize("text", [
    "Hi, it's Ana. You can stop anytime, no pressure.",  # lower case, mid-sentence
    "Hi. If you want no more messages, reply END.",
    "Hola, soy Ana. Si quieres, escribe ＳＴＯＰ y ya.",  # full-width letters
    "Hi, it's Ana. To cancel, just tell me.",
])
def test_an_advocate_reply_that_teaches_a_carrier_opt_out_word_is_refused_with_why(service, text):
    held = held_chat(service)
    with pytest.raises(TeachesOptOut) as refused:
        service.answer(held, text, ADVOCATE, "ana@example.org")
    assert "carrier blocks this number" in refused.value.reason
    assert sent_to(service) == []
    # Words that merely contain one are fine.
    service.answer(held, "Hi, it's Ana. It depends on you; this weekend works too.", ADVOCATE, "ana@example.org")
    assert len(sent_to(service)) == 1


@pytest.mark.parametrize("text", [
    "Hi, it's Ana. Call 18883737888 anytime.",  # the hotline's number, pasted without dashes
    "Hi, it's Ana. Call +1 888 3737 888 anytime.",
    "Hi" + "\u0301" * 180 + " the shelter has a bed",  # combining marks take no room on a screen
    "\u2764\ufe0f" * 90 + " shelter tonight",  # an emoji with its variation selector shows as one
])
def test_an_advocate_reply_cannot_slip_a_reveal_past_the_preview_check(service, text):
    held = held_chat(service)
    with pytest.raises(RevealingOpening):
        service.answer(held, text, ADVOCATE, "ana@example.org")
    assert sent_to(service) == []


def test_a_cut_emoji_inside_a_handoff_is_kept_and_shown_as_the_replacement_character(service, clock):
    escalate(service)
    (waiting,) = service.handoffs.listing("waiting")
    held = service.claim_handoff(waiting.id, ADVOCATE, "ana@example.org")
    assert say(service, "he took my phone \ud83d") == ""  # the turn does not fail: the advocate holds it
    lines = [line["text"] for line in service.handoffs.transcript(held, "ana@example.org", clock())]
    assert "he took my phone \ufffd" in lines


def test_no_log_line_tells_which_steps_a_person_moved_through_even_at_debug(service, captured_logs):
    for text in ("hi", "1", "1", "3", "1"):
        say(service, text)
    steps = set(service.content.flows["main"].steps)
    logged = captured_logs.text
    assert not [step for step in steps if f" {step}" in logged or f"{step} " in logged], logged

"""Never write first without consent (DESIGN rule 1): before a handoff the person chooses how
replies reach them, and the service sends nothing else on its own.

Driven as providers deliver (``Service.receive``: an SMS is answered in the webhook's reply, a
Telegram message through the outbox) and as the console acts, with a clock. Every message that
leaves is classified: an *answer* (in the reply to, or queued by, the person's own message) or
*unprompted* (queued by anything else: a claim, an advocate's reply, a release, a timer). The
audit asserts that unprompted messages are only what the person's choice allows: nothing at all
for "I will check back here"; an advocate's replies, one "someone is here now" and at most one
neutral reminder for "You may write to me here".
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from bot.channels.base import Delivery
from bot.config import HandoffSettings
from bot.domain import Channel, Inbound
from bot.domain.messages import render_plain
from bot.flowdef.inspect import lock_screen_preview, revealing_words
from bot.service import Service, decode_output, key_ring
from bot.store import KeyRing, Pseudonyms, SessionStore, open_database

ANA = 1
ADDRESSES = {Channel.SMS: "+15550107070", Channel.TELEGRAM: "70707070"}
PROVIDERS = {Channel.SMS: "twilio", Channel.TELEGRAM: "telegram"}
_ids = itertools.count(1)


@dataclass
class Audit:
    """What left for the person, in order, as (kind, text): kind ``answer`` or ``unprompted``."""

    service: Service
    channel: Channel
    sent: list[tuple[str, str]] = field(default_factory=list)
    quiet: dict[str, bool] = field(default_factory=dict)  # outbox text -> sent without a sound (Telegram)

    @property
    def address(self) -> str:
        return ADDRESSES[self.channel]

    def person(self, text: str) -> list[str]:
        """The person writes; returns what they get for it, in order."""
        reception = self.service.receive(Delivery(PROVIDERS[self.channel], f"d{next(_ids)}", Inbound(self.channel, self.address, text)))
        answers = [render_plain(o) for o in reception.outputs] if not reception.queued else []
        answers += self._drain()  # Telegram: the replies this message queued
        self.sent += [("answer", t) for t in answers]
        return answers

    def console(self, act) -> list[str]:
        """Anything but the person (an advocate, a timer): returns what it sent them."""
        act()
        unprompted = self._drain()
        self.sent += [("unprompted", t) for t in unprompted]
        return unprompted

    def _drain(self) -> list[str]:
        outbox = self.service.store.outbox()
        jobs = []
        while taken := outbox.take_due(self.service.clock() + timedelta(days=1)):
            for job in taken:
                outbox.sent(job)
                jobs.append(job)
        mine = [j for j in sorted(jobs, key=lambda j: j.id) if j.kind == "send" and j.payload.get("to") == self.address]
        for job in mine:
            self.quiet[render_plain(decode_output(job.payload))] = bool(job.payload.get("quiet"))
        return [render_plain(decode_output(j.payload)) for j in mine]

    def unprompted(self) -> list[str]:
        return [text for kind, text in self.sent if kind == "unprompted"]


@pytest.fixture
def make_audit(settings, content, clock):
    services = []

    def make(channel: Channel) -> Audit:
        store = SessionStore(open_database(settings.database_url), key_ring(settings))
        service = Service(content, store, Pseudonyms(settings.pepper), clock, HandoffSettings(wait_minutes=10))
        services.append(service)
        return Audit(service, channel)

    yield make
    for service in services:
        service.close()


def lifecycle(audit: Audit, clock, choice: str) -> dict:
    """A whole handoff: ask (choosing ``choice``), wait past the reminder time, write while
    waiting, a claim, a second claim after a transfer back to the queue, two advocate replies,
    the person's reply, a release, every timer, and the person's next message."""
    service = audit.service
    audit.person("hi")
    audit.person("1")  # English
    audit.person("1")  # safe to talk
    intro = audit.person("advocate")
    asked = audit.person(choice)
    clock.advance(minutes=11)
    reminders = audit.console(service.remind_waiting)
    audit.console(service.remind_waiting)  # once at most
    while_waiting = audit.person("are you there?")
    (waiting,) = service.handoffs.listing("waiting")
    joined = audit.console(lambda: service.claim_handoff(waiting.id, ANA, "ana@example.org"))
    held = service.handoffs.get(waiting.id)
    audit.console(lambda: service.handoffs.transfer(held, None, "ana@example.org", clock(), ANA))  # back to the queue
    clock.advance(minutes=15)
    audit.console(service.remind_waiting)
    rejoined = audit.console(lambda: service.claim_handoff(waiting.id, ANA, "ana@example.org"))
    held = service.handoffs.get(waiting.id)
    replies = audit.console(lambda: service.answer(held, "Hello, it's Ana.", ANA, "ana@example.org"))
    replies += audit.console(lambda: service.answer(held, "Take your time. I'm here until 11.", ANA, "ana@example.org"))
    clock.advance(minutes=3)
    person_reply = audit.person("ok thank you")
    audit.console(lambda: service.answer(service.handoffs.get(waiting.id), "Write whenever you like.", ANA, "ana@example.org"))
    released = audit.console(lambda: service.end_handoff(service.handoffs.get(waiting.id), "release", "ana@example.org", ANA))
    clock.advance(minutes=20)
    audit.console(service.remind_waiting)
    audit.console(service.close_abandoned)
    audit.console(service.purge_expired)
    after = audit.person("is anyone still there")
    return locals()


def ask_to_check_back(audit: Audit):
    """Asks for a person choosing "I will check back here"; returns the waiting handoff."""
    for text in ("hi", "1", "1", "advocate", "1"):
        audit.person(text)
    (waiting,) = audit.service.handoffs.listing("waiting")
    return waiting


def claimed_and_answered(audit: Audit, text: str):
    """A check-back request, claimed by Ana, who writes ``text``; returns the held handoff."""
    waiting = ask_to_check_back(audit)
    held = audit.service.claim_handoff(waiting.id, ANA, "ana@example.org")
    audit.service.answer(held, text, ANA, "ana@example.org")
    return held


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.TELEGRAM], ids=["sms", "telegram"])
def test_i_will_check_back_means_nothing_is_ever_sent_unprompted(make_audit, clock, channel):
    audit = make_audit(channel)
    seen = lifecycle(audit, clock, "1")  # "I will check back here" (a bare "yes" too)

    assert "Replies may come when someone else has your phone." in seen["intro"][0]
    assert "We will not write first." in seen["asked"][0]
    assert audit.unprompted() == []  # no reminder, no "someone is here", no reply, no release note
    # What waited is delivered in the reply to their next message, in order, and nothing twice.
    assert seen["person_reply"] == ["Hi. Someone from our team is here now and reads what you write next.\nType EXIT anytime to erase this chat.",
                                    "Hello, it's Ana.", "Take your time. I'm here until 11."]
    assert seen["after"][:2] == ["Write whenever you like.", "Thank you for writing. You are back with the automatic menu."]
    assert seen["after"][2].startswith("Here are some options.")
    answers = [text for kind, text in audit.sent if kind == "answer"]
    assert sum("Someone from our team is here now" in t for t in answers) == 1
    print(f"\n{channel.value}: {len(audit.sent)} messages out, {len(answers)} answers, 0 unprompted")


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.TELEGRAM], ids=["sms", "telegram"])
def test_you_may_write_to_me_allows_only_replies_one_hello_and_one_neutral_reminder(make_audit, clock, channel):
    audit = make_audit(channel)
    seen = lifecycle(audit, clock, "2")  # "You may write to me here"

    unprompted = audit.unprompted()
    reminders = [t for t in unprompted if t.startswith("Still here.")]
    joined = [t for t in unprompted if "Someone from our team is here now" in t]
    advocate = ["Hello, it's Ana.", "Take your time. I'm here until 11.", "Write whenever you like."]
    assert len(reminders) == 1 and len(joined) == 1  # once each, though queued twice and claimed twice
    assert [t for t in unprompted if t not in reminders + joined] == advocate  # and nothing else: no release message
    assert unprompted.index(joined[0]) < unprompted.index(advocate[0])
    assert seen["rejoined"] == []
    # Unprompted messages arrive without a sound on Telegram; answers are not made quiet.
    assert all(audit.quiet[t] for t in unprompted)
    assert not any(audit.quiet.get(t) for kind, t in audit.sent if kind == "answer")
    # What arrives unprompted is neutral in what a lock screen shows, numbers included.
    for text in reminders + joined:
        assert revealing_words(lock_screen_preview(text), audit.service.content.catalog.reveal_words("en")) == []
        assert not any(ch.isdigit() for ch in text)
    assert seen["after"][0] == "Thank you for writing. You are back with the automatic menu."
    assert seen["after"][1].startswith("Here are some options.")
    total = len(audit.sent)
    print(f"\n{channel.value}: {total} messages out, {total - len(unprompted)} answers, {len(unprompted)} unprompted "
          f"({len(advocate)} advocate replies, {len(joined)} hello, {len(reminders)} reminder)")


def test_lines_that_waited_are_not_given_to_whoever_writes_after_the_conversation_expired(make_audit, clock):
    audit = make_audit(Channel.SMS)
    service = audit.service
    waiting = ask_to_check_back(audit)
    service.claim_handoff(waiting.id, ANA, "ana@example.org")
    service.answer(service.handoffs.get(waiting.id), "About your passport: ...", ANA, "ana@example.org")
    service.end_handoff(service.handoffs.get(waiting.id), "release", "ana@example.org", ANA)
    clock.advance(hours=2)  # past the flow's idle hour: the phone may be in other hands
    reply = audit.person("is anyone there")  # not a greeting (a greeting starts anew anyway)
    assert not any("passport" in t or "Someone from our team is here now" in t or "back with the automatic menu" in t for t in reply)
    assert reply == [render_plain(o) for o in service.handle(Inbound(Channel.SMS, "+15550109999", "is anyone there"))]  # as a first message
    assert audit.unprompted() == []


def test_the_console_sees_what_waits_for_the_person(make_audit, clock):
    audit = make_audit(Channel.SMS)
    service = audit.service
    waiting = ask_to_check_back(audit)
    assert waiting.public()["replies"] == "held"
    held = service.claim_handoff(waiting.id, ANA, "ana@example.org")
    service.answer(held, "Hello, it's Ana.", ANA, "ana@example.org")
    lines = {line["text"]: line["pending"] for line in service.handoffs.transcript(held, "ana@example.org", clock())}
    assert lines["Hello, it's Ana."] is True
    audit.person("hi?")
    lines = {line["text"]: line["pending"] for line in service.handoffs.transcript(held, "ana@example.org", clock())}
    assert lines["Hello, it's Ana."] is False


def test_crisis_guidance_comes_before_the_lines_that_waited(make_audit, clock):
    audit = make_audit(Channel.SMS)
    service = audit.service
    held = claimed_and_answered(audit, "Hello, it's Ana. Take your time.")
    reply = audit.person("he has a gun")
    assert reply[0].startswith("Here is what you can do now.")  # emergency guidance first (DESIGN rule 5)
    assert reply[1:] == ["Hi. Someone from our team is here now and reads what you write next.\nType EXIT anytime to erase this chat.",
                         "Hello, it's Ana. Take your time."]


def test_after_a_day_of_silence_what_waited_is_dropped_unseen_even_if_notes_kept_the_chat_open(make_audit, clock):
    audit = make_audit(Channel.SMS)
    service = audit.service
    held = claimed_and_answered(audit, "About your passport: I found the form.")
    for _ in range(4):  # an advocate's notes, never sent, keep the handoff from being abandoned
        clock.advance(hours=20)
        service.handoffs.add(held.id, "note", "tried again", ANA, "ana@example.org", clock())
        assert service.close_abandoned() == 0
    reply = audit.person("who is this")
    assert not any("passport" in t or "Someone from our team is here now" in t for t in reply)
    assert not any("passport" in t for t in audit.person("is anyone there"))  # dropped, not kept for later
    assert audit.unprompted() == []


def test_an_advocates_words_delivered_in_a_webhook_reply_are_never_cached(make_audit, clock):
    from bot.channels.twilio_sms import _twiml

    audit = make_audit(Channel.SMS)
    service = audit.service
    held = claimed_and_answered(audit, "Meet at the library on Elm St at 3.")
    reception = service.receive(Delivery("twilio", "d-cache", Inbound(Channel.SMS, audit.address, "hi?")))
    assert reception.personal and any("Elm St" in o.text for o in reception.outputs)
    before = _twiml._prepared_reply.cache_info().currsize
    document = _twiml.twiml(reception.outputs, reception.alphabet, cached=not reception.personal)
    assert "Elm St" in document
    assert _twiml._prepared_reply.cache_info().currsize == before  # nothing of it stays in the process
    replay = service.receive(Delivery("twilio", "d-cache", Inbound(Channel.SMS, audit.address, "hi?")))  # a redelivery
    assert replay.personal

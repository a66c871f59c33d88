"""A quick exit erases for good, read the way an attacker would read it: the database's own files.

The attacker here has the server's disk (table files, the write-ahead log, a copy of the SQLite
file) and every key the service is configured with (the key-encryption keys, the pepper, the key
store as it is now). After the person's quick exit and the erasure bound (short in this test),
nothing of them opens: no canary text, no phone number, no pseudonym, no lookup tag any key can
compute, and no wrapped key or sealed payload that any configured key opens. A control before
the quick exit shows the same scan finds the conversation's wrapped key in the files and opens it.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import create_engine, text

from bot.config import HandoffSettings
from bot.domain import Channel, Inbound
from bot.service import Service
from bot.store import KeyRing, Pseudonyms, SessionStore, open_database
from bot.store.crypto import DecryptError, TRANSIENT, WRAPPED
from testkit.databases import rows

PHONE = "+15550177331"
CANARY = "canary-7f3a: my boss keeps my passport at 14 Elm Street"
EPOCH_SECONDS = 3.0
ROLL_EVERY = 0.2  # the worker's rollover, as often as a 3 s epoch needs (SessionStore.roll_every)


class StoppableClock:
    """Wall-clock seconds that stand still while ``stopped``: the control below reads the disk
    (seconds, on a busy machine) without an epoch changing meanwhile."""

    def __init__(self):
        self._lost, self._since = 0.0, None

    def __call__(self) -> float:
        return (self._since if self._since is not None else time.time()) - self._lost

    def stop(self) -> None:
        self._since = time.time()

    def go(self) -> None:
        if self._since is not None:
            self._lost += time.time() - self._since
            self._since = None


CLOCK = StoppableClock()  # the key store's clock in these tests


class Rollover:
    """The background work's key rollover, on a thread, as the worker runs it."""

    def __init__(self, store: SessionStore):
        self.store, self.stop = store, threading.Event()
        self.paused = threading.Lock()  # held: no rollover runs (the control reads a key and the disk)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(ROLL_EVERY):
            with self.paused:
                self.store.roll_keys()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def database_files(database_url: str, since: float) -> list[Path]:
    """The files an attacker with the disk reads: SQLite's database and journals; PostgreSQL's
    files of this database (tables, indexes, their TOAST and free-space maps) and the write-ahead
    log's segments, after a CHECKPOINT. Only files written since ``since`` (the test's start) can
    hold anything of this test's person, so older ones (other tests' tables, recycled log
    segments not yet reused) are not read again: that keeps the scan to seconds on a busy cluster."""
    if database_url.startswith("sqlite"):
        path = database_url.removeprefix("sqlite:///")
        return [Path(p) for p in (path, path + "-wal", path + "-journal") if Path(p).exists()]
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("CHECKPOINT"))
            data = Path(connection.execute(text("SHOW data_directory")).scalar())
            oid = connection.execute(text("SELECT oid FROM pg_database WHERE datname = current_database()")).scalar()
    finally:
        engine.dispose()
    everything = [p for p in (data / "base" / str(oid)).iterdir() if p.is_file()] + [p for p in (data / "pg_wal").iterdir() if p.is_file()]
    files = [p for p in everything if p.stat().st_mtime >= since - 1]
    assert any(p.parent.name == "pg_wal" for p in files) and any(p.parent.name == str(oid) for p in files)
    unreadable = [p for p in files if not _readable(p)]
    assert not unreadable, f"run the test as a user who can read PostgreSQL's files ({unreadable[0]})"
    return files


def _readable(path: Path) -> bool:
    try:
        with open(path, "rb"):
            return True
    except PermissionError:
        return False


def read_all(files: list[Path]) -> bytes:
    return b"\0".join(p.read_bytes() for p in files)


FERNET_TOKEN = re.compile(rb"gAAAAA[A-Za-z0-9_\-]{40,}={0,2}")


def what_opens(disk: bytes, keys: KeyRing, fernet: MultiFernet, ids: list[str]) -> list[str]:
    """Everything in ``disk`` that some configured key opens: data keys and sealed payloads under
    any epoch still in the key store (tried at every place their header appears, with the ids of
    the person's conversation and handoff), and Fernet tokens of the key-encryption keys."""
    opened = []
    for number in keys.epochs.numbers():
        header = number.to_bytes(4, "big")
        for version, associated, lengths in ((WRAPPED, [f"wrap:{i}" for i in ids], (65, 97)), (TRANSIENT, ["transient"], range(40, 2000))):
            for found in re.finditer(re.escape(version + header), disk):
                for length in lengths:
                    blob = disk[found.start() : found.start() + length]
                    for each in associated:
                        try:
                            epoch = keys.epochs.get(number)
                            epoch.wrapping.decrypt(blob[5:17], blob[17:], version + each.encode())
                        except Exception:  # noqa: BLE001 - not this length, not this id, not this key
                            continue
                        opened.append(f"{version.hex()} epoch {number} {each} {length} bytes")
    for token in FERNET_TOKEN.findall(disk):
        try:
            fernet.decrypt(token)
            opened.append(f"fernet token {token[:12]!r}")
        except (InvalidToken, ValueError, base64.binascii.Error):
            continue
    return opened


@pytest.fixture
def person_in_a_handoff(settings, content, clock, tmp_path):
    keys = KeyRing(list(settings.encryption_keys), key_store=tmp_path / "keys", epoch_length=EPOCH_SECONDS, clock=CLOCK)
    store = SessionStore(open_database(settings.database_url), keys)
    service = Service(content, store, Pseudonyms(settings.pepper), clock, HandoffSettings())
    yield service
    service.close()


def say(service: Service, text_: str) -> str:
    return "\n\n".join(o.text for o in service.handle(Inbound(Channel.SMS, PHONE, text_)))


@pytest.mark.parametrize("how", ["quick exit", "expiry"])
def test_after_an_erasure_and_the_bound_nothing_of_the_person_opens_from_the_disk(person_in_a_handoff, settings, clock, how):
    """``quick exit``: the person writes EXIT during the handoff. ``expiry``: the advocate closes
    the handoff, its transcript is shredded after the retention time, and the conversation is
    erased once idle past its expiry (the background work's purge)."""
    service, url = person_in_a_handoff, settings.database_url
    keys = service.store.keys
    fernet = MultiFernet([Fernet(k) for k in settings.encryption_keys])
    pseudonym = Pseudonyms(settings.pepper).of("sms", PHONE)
    started = time.time()
    with Rollover(service.store) as rollover:
        for line in ("hi", "advocate", "2", CANARY):  # "You may write to me here", then the canary
            say(service, line)
        (waiting,) = service.handoffs.listing("waiting")
        held = service.claim_handoff(waiting.id, 1, "ana@example.org")
        service.answer(held, "I'm here. Are you safe to talk now?", 1, "ana@example.org")
        with rollover.paused:  # Control: the scan finds the conversation's wrapped key in the files, and it opens.
            CLOCK.stop()
            try:
                ((conversation_id, wrapped),) = rows(url, "SELECT conversation_id, wrapped FROM data_keys")
                ids = [conversation_id, held.id]
                disk = read_all(database_files(url, started))
                assert bytes(wrapped) in disk
                assert keys.unwrap(bytes(wrapped), conversation_id)
                assert what_opens(disk, keys, fernet, ids)  # the scan does find what opens
            finally:
                CLOCK.go()

        if how == "quick exit":
            assert say(service, "EXIT").startswith("Done.")
        else:
            service.end_handoff(service.handoffs.get(held.id), "close", "ana@example.org", 1, tell_person=False)
            clock.advance(hours=HandoffSettings().transcript_retention_hours + 1)
            assert service.handoffs.purge(clock()) == 1 and service.purge_expired() == 1
        erased_at, erased_in = time.monotonic(), keys.epochs.number()
        while any(number <= erased_in for number in keys.epochs.numbers()):
            assert time.monotonic() - erased_at < 2 * EPOCH_SECONDS + 5 * ROLL_EVERY, keys.epochs.numbers()
            time.sleep(0.05)
        bound = time.monotonic() - erased_at
    print(f"\n{url.split(':')[0]}, {how}: the last epoch of the erased conversation was destroyed {bound:.2f} s after it "
          f"(epochs of {EPOCH_SECONDS} s; bound {2 * EPOCH_SECONDS + ROLL_EVERY:.1f} s)")

    disk = read_all(database_files(url, started))
    assert CANARY.encode() not in disk and b"canary-7f3a" not in disk
    for form in (PHONE, PHONE.lstrip("+"), PHONE[-10:]):
        assert form.encode() not in disk and form.encode("utf-16-le") not in disk
    assert pseudonym.encode() not in disk and bytes.fromhex(pseudonym) not in disk
    for tag in keys.tags(pseudonym):  # every tag the service can still compute for this person
        assert tag.encode() not in disk
    attacker = KeyRing(list(settings.encryption_keys), key_store=keys.epochs.directory, epoch_length=EPOCH_SECONDS, clock=CLOCK)  # every key, no memory
    for ring in (attacker, keys):  # (the service's own process remembers none of it either)
        with pytest.raises(DecryptError):
            ring.unwrap(bytes(wrapped), conversation_id)  # a copy of the wrapped key (a dead row, the log, a backup)
        assert what_opens(disk, ring, fernet, ids) == []

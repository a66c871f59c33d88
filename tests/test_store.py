"""Encrypted sessions on a real SQLite file: crypto, erasure, expiry, rotation, one turn at a time."""

from __future__ import annotations

import threading
import time

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from bot.config import ConfigError, Settings, generate_keys
from bot.domain import Channel, Inbound
from bot.service import Content, Service, key_ring
from bot.store import KeyRing, Pseudonyms, SessionStore, open_database
from bot.store.crypto import DecryptError, open_sealed, seal
from bot.store.epochs import EpochGone
from bot.store.rollover import roll_forward, rotate_key_encryption
from testkit.databases import rows as all_rows
from testkit.databases import stored_bytes
from tests.waiting import eventually


def rows(database_url: str, table: str) -> list[tuple]:
    return all_rows(database_url, f"SELECT * FROM {table}")


def sms(text: str, address: str = "+15550101010") -> Inbound:
    return Inbound(Channel.SMS, address, text)


# -- crypto -------------------------------------------------------------------------------------

def test_sealed_state_opens_only_with_its_key_and_its_conversation_id():
    keys = KeyRing([Fernet.generate_key().decode()])
    key, wrapped = keys.new_data_key("conversation-a")
    blob = seal(key, "conversation-a", b'{"state":"main_menu"}')
    assert open_sealed(keys.unwrap(wrapped, "conversation-a"), "conversation-a", blob) == b'{"state":"main_menu"}'
    with pytest.raises(DecryptError):
        open_sealed(key, "conversation-b", blob)  # moved to another row
    with pytest.raises(DecryptError):
        keys.unwrap(wrapped, "conversation-b")  # a wrapped key moved to another row
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(DecryptError):
        open_sealed(key, "conversation-a", tampered)
    with pytest.raises(DecryptError):
        KeyRing([Fernet.generate_key().decode()]).unwrap(wrapped, "conversation-a")  # another deployment's epochs


def test_remembered_data_keys_are_bounded_expire_and_are_forgotten_on_erasure():
    ring = KeyRing([Fernet.generate_key().decode()], cache_size=2, cache_for=60)
    made = [ring.new_data_key(f"c{n}", remember=True) for n in range(3)]
    assert [ring.unwrap(wrapped, f"c{n}") for n, (_, wrapped) in enumerate(made)] == [key for key, _ in made]
    assert len(ring._cache) == 2  # bounded
    ring.forget("c2")
    assert "c2" not in ring._cache
    # Remembered by the row: a newer wrapping of the same row (the rollover's) replaces it, and
    # forgetting the row forgets whichever version was remembered.
    rewrapped = ring.rewrap(made[1][1], "c1")
    assert ring.unwrap(rewrapped, "c1", remember=True) == made[1][0] and ring._cache["c1"][0] == rewrapped
    ring.forget("c1")
    assert "c1" not in ring._cache
    with pytest.raises(DecryptError):
        ring.unwrap(b"gAAAAA-not-a-token", "c")
    # Another ring (the old key retired) remembers nothing of this one's.
    with pytest.raises(DecryptError):
        KeyRing([Fernet.generate_key().decode()]).unwrap(made[0][1], "c0")
    expired = KeyRing([Fernet.generate_key().decode()], cache_for=0)
    key, wrapped = expired.new_data_key("c", remember=True)
    expired.sweep()
    assert expired._cache == {} and expired.unwrap(wrapped, "c") == key  # swept, unwrapped again
    plain = KeyRing([Fernet.generate_key().decode()])
    _, wrapped = plain.new_data_key("c")
    plain.unwrap(wrapped, "c")
    assert plain._cache == {}  # only when asked to (a handoff's key never is)


def test_a_quick_exit_forgets_the_remembered_data_key(sql_service, settings):
    sql_service.handle(sms("hola"))
    ((wrapped,),) = all_rows(settings.database_url, "SELECT wrapped FROM data_keys")
    ((conversation_id,),) = all_rows(settings.database_url, "SELECT conversation_id FROM data_keys")
    assert sql_service.store.keys._cache[conversation_id][0] == bytes(wrapped)
    sql_service.handle(sms("EXIT"))
    assert conversation_id not in sql_service.store.keys._cache


def test_pseudonyms_are_keyed_stable_and_separate_channels():
    one, other = Pseudonyms(b"a" * 32), Pseudonyms(b"b" * 32)
    assert one.of("sms", "+15551234567") == one.of("sms", "+15551234567")
    assert one.of("sms", "+15551234567") != other.of("sms", "+15551234567")  # the pepper matters
    assert one.of("sms", "+15551234567") != one.of("telegram", "+15551234567")
    assert "15551234567" not in one.of("sms", "+15551234567")
    with pytest.raises(ValueError):
        Pseudonyms(b"short")


# -- what is stored ------------------------------------------------------------------------------

def test_a_conversation_is_stored_as_pseudonym_wrapped_key_and_ciphertext(sql_service, settings):
    sql_service.handle(sms("hola"))
    sql_service.handle(sms("2"))
    (conversation,) = rows(settings.database_url, "conversations")
    (data_key,) = rows(settings.database_url, "data_keys")
    conversation_id, tag, state, *_ = conversation
    pseudonym = Pseudonyms(settings.pepper).of("sms", "+15550101010")
    keys = sql_service.store.keys
    assert tag == keys.tag(pseudonym)[1] != pseudonym  # the epoch's lookup tag, never the pseudonym itself
    assert data_key[0] == conversation_id and data_key[2] == keys.epochs.number()
    assert b"safe_check" not in state  # sealed, not JSON
    material = key_ring(settings).unwrap(data_key[1], conversation_id)  # another process, same key store
    assert material[32:].hex() == pseudonym  # carried inside the wrapped key, for the rollover
    assert b'"state":"safe_check"' in open_sealed(material[:32], conversation_id, state)


def test_running_again_continues_the_same_conversation(settings, content, clock):
    def service():
        store = SessionStore(open_database(settings.database_url), key_ring(settings))
        return Service(content, store, Pseudonyms(settings.pepper), clock)

    service().handle(sms("hi"))
    service().handle(sms("1"))
    assert service().run_turn(sms("1")).session.state == "main_menu"


def test_quick_exit_deletes_the_key_and_the_rows_and_leaves_nothing_on_disk(sql_service, settings):
    sql_service.handle(sms("hi"))
    sql_service.handle(sms("1"))
    (_, _, sealed, *_), = rows(settings.database_url, "conversations")
    (_, wrapped, _), = rows(settings.database_url, "data_keys")
    assert bytes(wrapped) in stored_bytes(settings.database_url)  # the check below could find it

    sql_service.handle(sms("EXIT"))
    pseudonym = Pseudonyms(settings.pepper).of("sms", "+15550101010").encode()
    # SQLite: read the files as a copy of the disk would show them: not in free pages
    # (secure_delete), and soon not in the WAL either (shredded in the background).
    # PostgreSQL: in no row of any table.
    assert eventually(lambda: not any(bytes(secret) in stored_bytes(settings.database_url) for secret in (sealed, wrapped, pseudonym)))
    assert rows(settings.database_url, "conversations") == []
    assert rows(settings.database_url, "data_keys") == []


def test_an_expired_conversation_is_shredded_and_restarts_under_a_new_key(sql_service, settings, clock):
    sql_service.handle(sms("hi"))
    (old_id, *_), = rows(settings.database_url, "conversations")
    (_, old_key, _), = rows(settings.database_url, "data_keys")
    clock.advance(hours=2)
    turn = sql_service.run_turn(sms("2"))
    assert turn.session.state == "welcome"
    (new_id, *_), = rows(settings.database_url, "conversations")
    (_, new_key, _), = rows(settings.database_url, "data_keys")
    assert new_id != old_id and new_key != old_key


def test_purge_erases_idle_conversations_only(sql_service, settings, clock):
    sql_service.handle(sms("hi", "+15550000001"))
    clock.advance(minutes=45)
    sql_service.handle(sms("hi", "+15550000002"))
    clock.advance(minutes=20)  # the first is now 65 minutes idle, the second 20
    assert sql_service.purge_expired() == 1
    assert len(rows(settings.database_url, "conversations")) == 1
    assert len(rows(settings.database_url, "data_keys")) == 1


def expiry_of(database_url: str):
    ((value,),) = all_rows(database_url, "SELECT expires_at FROM conversations")
    return value


def test_an_idle_conversation_is_never_purged_early_and_at_most_a_step_late(sql_service, settings, clock):
    from bot.store.sessions import EXPIRY_STEP

    clock.advance(minutes=2, seconds=17)  # off the grid
    sql_service.handle(sms("hi"))
    clock.advance(minutes=59, seconds=59)  # the flow's idle timeout is an hour
    assert sql_service.purge_expired() == 0
    clock.advance(seconds=1 + EXPIRY_STEP.total_seconds())
    assert sql_service.purge_expired() == 1


def test_turns_close_together_leave_the_stored_expiry_and_its_index_alone(sql_service, settings, clock):
    clock.advance(minutes=1)  # 12:01, so the expiry is rounded up to 13:05
    sql_service.handle(sms("hi"))
    first = expiry_of(settings.database_url)
    clock.advance(minutes=3)
    sql_service.handle(sms("2"))
    assert expiry_of(settings.database_url) == first  # same grid step: the UPDATE left it out
    clock.advance(minutes=6)
    sql_service.handle(sms("menu"))
    assert expiry_of(settings.database_url) != first  # moved on with the person
    clock.advance(minutes=59)
    assert sql_service.purge_expired() == 0  # 59 minutes after the last turn: still kept


def test_state_that_cannot_be_decrypted_starts_over_and_is_shredded(settings, content, clock):
    url = settings.database_url
    first = Service(content, SessionStore(open_database(url), key_ring(settings)), Pseudonyms(settings.pepper), clock)
    first.handle(sms("hi"))
    first.handle(sms("1"))
    first.close()
    # Its wrapped key damaged: found by its tag, unreadable, shredded, started anew.
    with open_database(url).begin() as connection:
        (wrapped,) = connection.exec_driver_sql("SELECT wrapped FROM data_keys").one()
        damaged_key = bytes(wrapped)[:-1] + bytes([bytes(wrapped)[-1] ^ 1])
        connection.execute(text("UPDATE data_keys SET wrapped = :w"), {"w": damaged_key})
    damaged = Service(content, SessionStore(open_database(url), key_ring(settings)), Pseudonyms(settings.pepper), clock)
    turn = damaged.run_turn(sms("1"))
    assert turn.session.state == "welcome"  # not a crash, and not someone else's state
    assert len(rows(url, "conversations")) == 1
    damaged.close()
    # Every key lost (another key store): the conversation's tag is one no key can compute, so it
    # is not even found; the person starts anew, and the unreadable row waits for its expiry.
    lost_keys = Service(content, SessionStore(open_database(url), KeyRing([Fernet.generate_key().decode()])), Pseudonyms(settings.pepper), clock)
    assert lost_keys.run_turn(sms("1")).session.state == "welcome"
    clock.advance(days=30)
    assert lost_keys.purge_expired() == 2


def test_key_rotation_moves_every_conversation_forward_with_progress_and_retires_the_old_kek(settings, content, clock, tmp_path):
    """``keys rotate``: the epoch files sealed under the new key-encryption key, every
    conversation key moved to the current epoch (with progress); the old key can then go."""
    old, new = list(settings.encryption_keys), Fernet.generate_key().decode()
    url, wall = settings.database_url, [1_000_000.0]
    ring = lambda kek: KeyRing(kek, key_store=tmp_path / "keys", epoch_length=100, clock=lambda: wall[0])  # noqa: E731
    service = Service(content, SessionStore(open_database(url), ring(old)), Pseudonyms(settings.pepper), clock)
    for n in range(7):
        service.handle(sms("hi", f"+1555000{n:04d}"))
        service.handle(sms("2", f"+1555000{n:04d}"))
    service.close()
    wall[0] += 100  # the next epoch
    seen = []
    store = SessionStore(open_database(url), ring([new, *old]))
    assert rotate_key_encryption(store.engine, store.keys) == (1, 0)  # one epoch file, no advocates
    rolled = roll_forward(store.engine, store.keys, batch=3, progress=lambda d, t: seen.append((d, t)), grace=0)
    assert rolled.moved == 7 and seen == [(3, 7), (6, 7), (7, 7)]
    assert rolled.destroyed == (10_000,)  # nothing is under the old epoch any more
    store.close()
    only_new = Service(content, SessionStore(open_database(url), ring([new])), Pseudonyms(settings.pepper), clock)
    assert only_new.run_turn(sms("1", "+15550000003")).session.state == "main_menu"
    only_new.close()
    with pytest.raises(EpochGone):  # the retired key opens no epoch of the key store any more
        ring(old).epochs.current()


# -- one turn of one conversation at a time --------------------------------------------------------

class RecordingEngine:
    """Wraps the real engine; records how many turns of the same person run at once, and each
    turn's (state before, state after) in the order the turns ran."""

    def __init__(self, engine):
        self.engine = engine
        self.flow = engine.flow
        self.active = 0
        self.most_at_once = 0
        self.chain: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def resume(self, session, inbound, now):
        with self._lock:
            self.active += 1
            self.most_at_once = max(self.most_at_once, self.active)
        time.sleep(0.002)  # widen the window in which an interleaving would show
        try:
            turn = self.engine.resume(session, inbound, now)
            with self._lock:
                self.chain.append((session.state if session else None, turn.session.state))
            return turn
        finally:
            with self._lock:
                self.active -= 1


def test_two_messages_of_the_same_person_never_interleave(settings, content, clock):
    recording = RecordingEngine(content.engines["main"])
    guarded = Content(content.flows, content.catalog, content.directory, {"main": recording})
    store = SessionStore(open_database(settings.database_url), key_ring(settings))
    service = Service(guarded, store, Pseudonyms(settings.pepper), clock)
    for text in ("hi", "1", "1"):
        service.handle(sms(text))

    def worker(texts):
        for text in texts:
            service.run_turn(sms(text))

    threads = [threading.Thread(target=worker, args=(["3", "7", "2", "MENU", "5", "1"],)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert recording.most_at_once == 1
    assert len(recording.chain) == 3 + 6 * 6
    # A lost update shows as a turn that starts from a state the previous turn did not leave.
    for (_, left), (started, _) in zip(recording.chain, recording.chain[1:]):
        assert started == left
    with store.conversation(Pseudonyms(settings.pepper).of("sms", "+15550101010"), clock()) as held:
        assert held.session.state == recording.chain[-1][1]


# -- configuration ------------------------------------------------------------------------------

def test_production_refuses_to_start_without_keys(tmp_path):
    with pytest.raises(ConfigError, match="SAFEHARBOR_ENCRYPTION_KEYS and SAFEHARBOR_PEPPER not set"):
        Settings.from_env({"SAFEHARBOR_ENV": "production", "SAFEHARBOR_HOME": str(tmp_path)})
    assert not (tmp_path / "dev-keys.json").exists()
    settings = Settings.from_env({"SAFEHARBOR_ENV": "production", "SAFEHARBOR_HOME": str(tmp_path), **generate_keys()})
    assert not settings.dev_keys


def test_development_keys_are_generated_once_privately(tmp_path, caplog):
    first = Settings.from_env({"SAFEHARBOR_HOME": str(tmp_path)})
    second = Settings.from_env({"SAFEHARBOR_HOME": str(tmp_path)})
    assert first.dev_keys and first.encryption_keys == second.encryption_keys and first.pepper == second.pepper
    assert (tmp_path / "dev-keys.json").stat().st_mode & 0o777 == 0o600
    assert "never for real people" in caplog.text


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"SAFEHARBOR_ENCRYPTION_KEYS": "not-a-key", "SAFEHARBOR_PEPPER": "p" * 40}, "key 1 is not a Fernet key"),
        ({"SAFEHARBOR_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "SAFEHARBOR_PEPPER": "short"}, "at least 32"),
        ({"SAFEHARBOR_ENV": "staging"}, "SAFEHARBOR_ENV='staging'"),
    ],
)
def test_bad_configuration_is_named_without_echoing_secrets(tmp_path, environ, message):
    with pytest.raises(ConfigError, match=message) as raised:
        Settings.from_env({"SAFEHARBOR_HOME": str(tmp_path), **environ})
    assert "not-a-key" not in str(raised.value)


@pytest.mark.sqlite_only
def test_a_reader_never_makes_a_turn_wait_for_the_write_lock(sql_service):
    from sqlalchemy import text

    from bot.store.database import read_connection

    sql_service.handle(sms("hi"))
    with read_connection(sql_service.store.engine) as reading:
        reading.execute(text("SELECT count(*) FROM conversations")).scalar()  # a read transaction stays open
        started = time.monotonic()
        assert sql_service.run_turn(sms("1")).session.state == "safe_check"
        assert time.monotonic() - started < 1.0  # not the 10 s busy timeout: the reader held no write lock


def test_sqlite_keeps_its_temporary_files_in_memory_on_every_connection(tmp_path):
    # A statement journal or the table of an IN (SELECT ...) holds database pages; in a file
    # they would lie in /var/tmp, beyond the reach of the database's erasure and shredding.
    from bot.store import database

    engine = open_database(f"sqlite:///{tmp_path / 'store.db'}")
    MEMORY = 2
    try:
        with engine.connect() as reading:  # held open: the writer below is another connection
            writer = database.writer_of(engine).writing_connection()  # the one turns write on
            assert writer is not reading.connection.dbapi_connection
            assert reading.exec_driver_sql("PRAGMA temp_store").scalar() == MEMORY
            assert writer.execute("PRAGMA temp_store").fetchone()[0] == MEMORY
    finally:
        database.close_writer(engine)
        engine.dispose()


def test_a_conversation_from_before_epochs_continues_and_the_rollover_moves_it(settings, content, clock, sql_service):
    """A deployment upgraded from a version that wrapped data keys with the key-encryption keys
    and stored the pseudonym itself: the person goes on where they were, and the first rollover
    wraps their key under the epoch and replaces the pseudonym by its tag."""
    sql_service.handle(sms("hi"))
    sql_service.handle(sms("1"))
    keys = sql_service.store.keys
    ((conversation_id, wrapped),) = rows_of(settings, "SELECT conversation_id, wrapped FROM data_keys")
    material = keys.unwrap(bytes(wrapped), conversation_id)
    pseudonym = material[32:].hex()
    legacy = Fernet(settings.encryption_keys[0]).encrypt(material[:32])  # as the older version wrapped it
    with open_database(settings.database_url).begin() as connection:
        connection.execute(text("UPDATE data_keys SET wrapped = :w, epoch = NULL"), {"w": legacy})
        connection.execute(text("UPDATE conversations SET pseudonym = :p"), {"p": pseudonym})
    keys.forget(conversation_id)
    assert sql_service.run_turn(sms("1")).session.state != "welcome"  # found by the pseudonym, opened by the old wrapping
    rolled = sql_service.store.roll_keys(grace=0)
    assert rolled.moved == 1
    ((tag,),) = rows_of(settings, "SELECT pseudonym FROM conversations")
    ((epoch,),) = rows_of(settings, "SELECT epoch FROM data_keys")
    assert tag == keys.tag(pseudonym)[1] and epoch == keys.epochs.number()
    assert sql_service.run_turn(sms("menu")).session.state == "main_menu"  # the same conversation, found by its tag
    assert len(rows_of(settings, "SELECT id FROM conversations")) == 1


def rows_of(settings, query: str) -> list[tuple]:
    return all_rows(settings.database_url, query)

"""Login limits (``bot/store/login_limits.py``, ``Accounts.login``): attempts are recorded before a
password is verified, so concurrent guesses across processes cannot all be evaluated; backoff
delays and never locks; a guesser behind the advocates' own proxy address cannot keep out an
advocate who has her password and authenticator; the argon2 work of a process is bounded.

Most tests call ``Accounts.login`` with the client address a web process would pass; the ones
about what a web process believes an address is go over HTTP."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest
from argon2 import PasswordHasher

from bot.config import Settings, generate_keys
from bot.service import open_accounts
from bot.store import KeyRing, Pseudonyms, open_database
from bot.store.accounts import Accounts, LoginRefused
from bot.store.login_limits import ACCOUNT, ADDRESS, SECOND_FACTOR, HashingGate, address_key
from tests.test_cli_serve import environment, start, stop

PASSWORD = "a long enough passphrase"
WRONG = "wrong password, wrong"
GUESSER = "203.0.113.66"


class CountingHasher(PasswordHasher):
    """argon2id (cheap parameters unless ``real``) that counts the verifications it does and the
    most it did at once."""

    def __init__(self, real: bool = False):
        super().__init__() if real else super().__init__(time_cost=1, memory_cost=8 * 1024, parallelism=1)
        self.verified = 0
        self.most_at_once = 0
        self._now = 0
        self._lock = threading.Lock()

    def verify(self, hash, password) -> bool:  # noqa: A002 - argon2's own parameter name
        with self._lock:
            self.verified += 1
            self._now += 1
            self.most_at_once = max(self.most_at_once, self._now)
        try:
            return super().verify(hash, password)
        finally:
            with self._lock:
                self._now -= 1


class Desk:
    """One process's view of the accounts: its own engine, hashing gate and counting hasher."""

    def __init__(self, settings, clock, real_hashing: bool = False, gate: HashingGate | None = None):
        self.hasher = CountingHasher(real_hashing)
        self.gate = gate or HashingGate()
        self.engine = open_database(settings.database_url)
        self.accounts = Accounts(
            self.engine, KeyRing(list(settings.encryption_keys)), pseudonyms=Pseudonyms(settings.pepper), gate=self.gate, hasher=self.hasher,
        )
        self.clock = clock

    def add(self, email: str) -> str:
        """The new user's TOTP secret."""
        uri = self.accounts.add(email, "advocate", PASSWORD, self.clock())
        return parse_qs(urlparse(uri).query)["secret"][0]

    def attempt(self, email: str, password: str = WRONG, otp: str = "000000", client: str = GUESSER) -> str:
        """``ok``, ``refused`` (401), ``held`` (429) or ``busy`` (503)."""
        try:
            self.accounts.login(email, password, otp, self.clock(), client=client)
        except LoginRefused as refused:
            return "busy" if refused.busy else "held" if refused.limited else "refused"
        return "ok"

    def wait(self, email: str, client: str = GUESSER) -> timedelta:
        try:
            self.accounts.login(email, WRONG, "000000", self.clock(), client=client)
        except LoginRefused as refused:
            assert refused.limited, "the attempt was not held back"
            return refused.retry_after
        raise AssertionError("a wrong password opened a session")

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def desk(settings, clock):
    made = Desk(settings, clock)
    yield made
    made.close()


def code(secret: str, clock, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock().timestamp() + 30 * steps)


def not_a_code(secret: str, clock) -> str:
    return next(c for c in ("000000", "111111", "222222") if c not in {code(secret, clock, n) for n in (-1, 0, 1)})


def test_24_concurrent_guesses_at_one_account_from_two_processes_verify_at_most_the_limit(settings, clock):
    """The figure for the note: of 24 guesses arriving at once (12 at each of two processes,
    real argon2 parameters), how many passwords are verified."""
    desks = [Desk(settings, clock, real_hashing=True, gate=HashingGate(running=2, waiting=12)) for _ in range(2)]
    try:
        desks[0].add("ana@example.org")
        start = threading.Barrier(24)

        def guess(n: int) -> str:
            start.wait()
            return desks[n % 2].attempt("ana@example.org", password=f"guess number {n}", client=f"198.51.100.{n}")

        with ThreadPoolExecutor(24) as pool:
            outcomes = list(pool.map(guess, range(24)))
        verified = sum(d.hasher.verified for d in desks)
        print(f"\n24 concurrent guesses at one account, two processes: {verified} passwords verified (limit {ACCOUNT.free})")
        assert verified == ACCOUNT.free
        assert sorted(outcomes) == ["held"] * (24 - ACCOUNT.free) + ["refused"] * ACCOUNT.free
        assert desks[1].attempt("ana@example.org", client="192.0.2.1") == "held"  # from a new address too
        assert verified == sum(d.hasher.verified for d in desks)
    finally:
        for d in desks:
            d.close()


def test_backoff_doubles_up_to_its_cap_and_then_lets_one_attempt_through_each_time(desk, clock):
    desk.add("ana@example.org")
    for _ in range(ACCOUNT.free):
        assert desk.attempt("ana@example.org") == "refused"
    waits = []
    for _ in range(14):
        wait = desk.wait("ana@example.org", client=f"192.0.2.{len(waits)}")  # a new address changes nothing
        waits.append(wait.total_seconds())
        clock.advance(seconds=wait.total_seconds() - 0.5)
        assert desk.attempt("ana@example.org") == "held"  # not yet
        clock.advance(seconds=0.5)
        assert desk.attempt("ana@example.org") == "refused"  # evaluated (and wrong)
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900]
    assert desk.hasher.verified == ACCOUNT.free + 14  # exactly the attempts evaluated
    clock.advance(hours=24, minutes=15)
    assert all(desk.attempt("ana@example.org") == "refused" for _ in range(ACCOUNT.free))  # a new window


def test_known_and_unknown_emails_are_held_back_alike_after_the_same_work(desk, clock):
    desk.add("ana@example.org")
    for email in ("ana@example.org", "nobody@example.org"):
        before = desk.hasher.verified
        outcomes = [desk.attempt(email, client=f"192.0.2.{n}") for n in range(ACCOUNT.free + 1)]
        assert outcomes == ["refused"] * ACCOUNT.free + ["held"]
        assert desk.hasher.verified - before == ACCOUNT.free  # a dummy hash for the unknown one
    assert desk.wait("ana@example.org") == desk.wait("nobody@example.org") == timedelta(seconds=1)


def test_a_guesser_behind_the_advocates_proxy_address_cannot_keep_her_out(desk, clock):
    """Every request comes from the proxy's address: a guesser there keeps both her account and
    the address held back, and she still logs in with her password and a fresh code."""
    proxy = "10.0.0.1"
    secret = desk.add("ana@example.org")
    sprayed = iter(range(10_000))

    def guess_until_held() -> None:
        while desk.attempt("ana@example.org", otp=not_a_code(secret, clock), client=proxy) != "held":
            pass
        while desk.attempt(f"guess{next(sprayed)}@example.org", client=proxy) != "held":
            pass

    guess_until_held()
    assert desk.attempt("ana@example.org", PASSWORD, code(secret, clock), client=proxy) == "ok"
    assert desk.attempt("ana@example.org", PASSWORD, code(secret, clock), client=proxy) == "held"  # that code is spent
    assert desk.attempt("ana@example.org", otp=not_a_code(secret, clock), client=proxy) == "held"  # still held for guessers

    clock.advance(seconds=30)
    guess_until_held()
    assert desk.attempt("ana@example.org", "a typo in it", code(secret, clock), client=proxy) == "refused"  # evaluated
    assert desk.attempt("ana@example.org", PASSWORD, code(secret, clock), client=proxy) == "held"  # spent on the typo
    clock.advance(seconds=30)
    guess_until_held()
    assert desk.attempt("ana@example.org", PASSWORD, code(secret, clock), client=proxy) == "ok"  # the next code works


def test_attempts_past_the_limits_on_fresh_codes_have_a_backoff_of_their_own(desk, clock):
    """Someone holding her authenticator (a lost phone) but not her password, while her account
    is held back, gets a few guesses, then waits doubling from 30 s."""
    secret = desk.add("ana@example.org")

    def hold_back() -> None:
        while desk.attempt("ana@example.org", otp=not_a_code(secret, clock)) != "held":
            pass

    for _ in range(SECOND_FACTOR.free):
        clock.advance(seconds=30)
        hold_back()
        assert desk.attempt("ana@example.org", otp=code(secret, clock)) == "refused"
    clock.advance(seconds=29)
    hold_back()
    # The code of the next step (accepted for clock drift), so that it is not one spent already.
    assert desk.attempt("ana@example.org", PASSWORD, code(secret, clock, 1)) == "held"  # even the right password
    clock.advance(seconds=1)
    hold_back()
    assert desk.attempt("ana@example.org", PASSWORD, code(secret, clock)) == "ok"


def test_spraying_from_one_address_is_held_back_there_only(desk):
    for n in range(ADDRESS.free):
        assert desk.attempt(f"guess{n}@example.org", client=GUESSER) == "refused"
    assert desk.attempt("another@example.org", client=GUESSER) == "held"
    assert desk.attempt("another@example.org", client="198.51.100.8") == "refused"  # evaluated elsewhere


def test_logins_that_succeed_do_not_count_against_their_address(desk, clock):
    """An office behind one address, its people logging in all day, never drifts into backoff."""
    secrets = {f"advocate{n}@example.org": desk.add(f"advocate{n}@example.org") for n in range(ADDRESS.free + 5)}
    for email, secret in secrets.items():
        assert desk.attempt(email, PASSWORD, code(secret, clock), client="10.0.0.1") == "ok"
    assert desk.attempt("advocate0@example.org", client="10.0.0.1") == "refused"  # still evaluated


def test_an_ipv6_client_is_counted_by_its_64():
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff:abcd::9") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:203.0.113.9") == address_key("203.0.113.9") == "203.0.113.9"
    assert address_key("testclient") == "testclient"


def test_a_full_hashing_gate_refuses_at_once_and_counts_nothing(settings, clock):
    desk = Desk(settings, clock, gate=HashingGate(running=1, waiting=0))
    try:
        desk.add("ana@example.org")
        with desk.gate.admitted():  # another login is being checked
            outcomes = [desk.attempt("ana@example.org") for _ in range(10)]
        assert outcomes == ["busy"] * 10 and desk.hasher.verified == 0
        assert [desk.attempt("ana@example.org") for _ in range(ACCOUNT.free)] == ["refused"] * ACCOUNT.free
    finally:
        desk.close()


def test_the_hashing_gate_bounds_the_verifications_running_at_once(settings, clock):
    gate = HashingGate(running=2, waiting=3)
    desk = Desk(settings, clock, real_hashing=True, gate=gate)
    try:
        start = threading.Barrier(16)

        def attempt(n: int) -> str:
            start.wait()
            return desk.attempt(f"person{n}@example.org", client=f"198.51.100.{n}")

        with ThreadPoolExecutor(16) as pool:
            outcomes = list(pool.map(attempt, range(16)))
        assert desk.hasher.most_at_once <= gate.running
        assert set(outcomes) <= {"refused", "busy"} and "busy" in outcomes
        assert outcomes.count("refused") == desk.hasher.verified
    finally:
        desk.close()


def test_24_concurrent_guesses_over_http_at_two_web_processes_evaluate_at_most_the_limit(tmp_path, database_url):
    """The same figure end to end: ``safeharbor serve --workers 2`` on the test's database, 24
    wrong logins for one account sent at once. Only an evaluated attempt is answered 401."""
    env = {"DATABASE_URL": database_url, **generate_keys()}
    accounts = open_accounts(Settings.from_env({**environment(tmp_path), **env}))
    accounts.add("ana@example.org", "advocate", PASSWORD, datetime.now(timezone.utc))
    accounts.engine.dispose()
    process, base = start(tmp_path, "--workers", "2", "--no-background", **env)
    try:
        together = threading.Barrier(24)

        def guess(n: int) -> int:
            with httpx.Client(base_url=base, timeout=30) as client:
                together.wait()
                return client.post("/api/auth/login", json={"email": "ana@example.org", "password": f"guess {n}", "otp": "000000"}).status_code

        with ThreadPoolExecutor(24) as pool:
            statuses = Counter(pool.map(guess, range(24)))
    finally:
        stop(process)
    print(f"\n24 concurrent guesses over HTTP, serve --workers 2: {statuses[401]} evaluated, {dict(statuses)}")
    assert statuses[401] == ACCOUNT.free
    assert set(statuses) <= {401, 429, 503}

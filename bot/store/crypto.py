"""Pseudonyms and envelope encryption (DESIGN "Minimal encrypted state").

- A person is known by ``HMAC-SHA256(pepper, channel + ":" + address)``. The pepper lives outside
  the database; phone numbers are low-entropy, so an unkeyed hash of one would be no pseudonym.
- Each conversation has its own 256-bit data key. Its state is sealed with AES-GCM, the
  conversation id as associated data (a blob moved to another row does not open). The data key
  is stored wrapped by the key-encryption keys (``MultiFernet``, newest first, rotatable).
  Deleting the wrapped key makes everything sealed under it unreadable at once.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections import OrderedDict

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEAL_VERSION = b"\x01"
NONCE_BYTES = 12


class DecryptError(Exception):
    """A wrapped key or sealed blob cannot be opened (wrong key, tampering, or retired KEK)."""


class Pseudonyms:
    """Keyed pseudonyms of addresses. Same channel and address -> same pseudonym; nothing else."""

    def __init__(self, pepper: bytes):
        if len(pepper) < 16:
            raise ValueError("the pepper must be at least 16 bytes")
        self._pepper = pepper

    def of(self, channel: str, address: str) -> str:
        """64 hex characters, e.g. ``pseudonyms.of("sms", "+15551234567")``."""
        message = f"{channel}:{address}".encode("utf-8", "surrogatepass")
        return hmac.digest(self._pepper, message, "sha256").hex()

    def __repr__(self) -> str:
        return "Pseudonyms(<pepper hidden>)"


class KeyRing:
    """The key-encryption keys: wraps and unwraps per-conversation data keys.

    ``keys`` are Fernet keys, newest first: the first wraps, any of them unwraps.

    Unwrapped data keys are remembered for a while (``cache_size`` of them, each at most
    ``cache_for`` seconds): a person's next message within minutes then skips the Fernet unwrap,
    a twentieth of an SMS webhook's time. This process holds the key-encryption keys, which
    unwrap every data key, so a remembered one exposes nothing more to whoever can read its
    memory. Erasure deletes the wrapped key from the database and calls ``forget`` here; a key
    another process still remembers opens nothing (its ciphertexts are gone with it) and is
    dropped within ``cache_for``.
    """

    def __init__(self, keys: list[str], cache_size: int = 4096, cache_for: float = 900.0):
        if not keys:
            raise ValueError("at least one key-encryption key is needed")
        self._fernet = MultiFernet([Fernet(k) for k in keys])
        self._cache: OrderedDict[bytes, tuple[bytes, float]] = OrderedDict()
        self._cache_size = cache_size
        self._cache_for = cache_for
        self._cache_lock = threading.Lock()

    def new_data_key(self, *, remember: bool = False) -> tuple[bytes, bytes]:
        """A fresh data key and its wrapped form: ``(key, wrapped)``; ``remember``: see ``unwrap``."""
        key = AESGCM.generate_key(bit_length=256)
        wrapped = self._fernet.encrypt(key)
        if remember:
            self._remember(wrapped, key)
        return key, wrapped

    def unwrap(self, wrapped: bytes, *, remember: bool = False) -> bytes:
        """The data key of ``wrapped``. ``remember``: keep it for the next turns (conversation
        keys only; a handoff's key, which opens an address and a transcript, never is)."""
        now = time.monotonic()
        with self._cache_lock:
            self._sweep(now)
            cached = self._cache.get(wrapped)
            if cached is not None:
                return cached[0]
        try:
            key = self._fernet.decrypt(wrapped)
        except InvalidToken:
            raise DecryptError("the data key cannot be unwrapped with any configured key") from None
        if remember:
            self._remember(wrapped, key)
        return key

    def forget(self, wrapped: bytes) -> None:
        """Drop the remembered key of ``wrapped`` (the conversation is being erased)."""
        with self._cache_lock:
            self._cache.pop(wrapped, None)

    def sweep(self) -> None:
        """Drop the remembered keys past their time (the background work calls it every minute,
        so a quiet server keeps none of them longer than ``cache_for``)."""
        with self._cache_lock:
            self._sweep(time.monotonic())

    def _sweep(self, now: float) -> None:
        # Entries are in the order they were remembered, each for the same time: the expired
        # ones are at the front.
        while self._cache:
            wrapped, (_, until) = next(iter(self._cache.items()))
            if until > now:
                break
            del self._cache[wrapped]

    def _remember(self, wrapped: bytes, key: bytes) -> None:
        if self._cache_size <= 0:
            return
        with self._cache_lock:
            self._cache[wrapped] = (key, time.monotonic() + self._cache_for)
            self._cache.move_to_end(wrapped)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def seal(self, plaintext: bytes) -> bytes:
        """Encrypt a short-lived payload (an outbox message) with the newest key-encryption key."""
        return self._fernet.encrypt(plaintext)

    def open(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise DecryptError("the payload cannot be decrypted with any configured key") from None

    def rewrap(self, wrapped: bytes) -> bytes:
        """The same data key wrapped under the newest key-encryption key (key rotation)."""
        try:
            return self._fernet.rotate(wrapped)
        except InvalidToken:
            raise DecryptError("the data key cannot be unwrapped with any configured key") from None

    def __repr__(self) -> str:
        return "KeyRing(<keys hidden>)"


def seal(key: bytes | AESGCM, associated: str, plaintext: bytes) -> bytes:
    """``version || nonce || AES-GCM(key, nonce, plaintext, associated)``. ``key``: the data key,
    or an ``AESGCM`` of it (a turn that seals and opens several blobs builds it once)."""
    nonce = os.urandom(NONCE_BYTES)
    return SEAL_VERSION + nonce + _cipher(key).encrypt(nonce, plaintext, associated.encode())


def is_sealed(blob: bytes) -> bool:
    """Whether ``blob`` is of ``seal`` (a data key's AES-GCM) rather than a Fernet token of the
    key-encryption keys (those start with the version byte 0x80, base64 ``gA``)."""
    return blob.startswith(SEAL_VERSION)


def open_sealed(key: bytes | AESGCM, associated: str, blob: bytes) -> bytes:
    """The plaintext ``seal`` sealed; raises ``DecryptError`` for another key, another
    ``associated`` or any change to ``blob``."""
    if not is_sealed(blob) or len(blob) < 1 + NONCE_BYTES + 16:
        raise DecryptError("not a sealed blob of a known version")
    nonce, ciphertext = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return _cipher(key).decrypt(nonce, ciphertext, associated.encode())
    except InvalidTag:
        raise DecryptError("the sealed blob does not open with this key") from None


def _cipher(key: bytes | AESGCM) -> AESGCM:
    return key if isinstance(key, AESGCM) else AESGCM(key)

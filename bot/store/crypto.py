"""Pseudonyms and envelope encryption (DESIGN "Minimal encrypted state").

- A person is known by ``HMAC-SHA256(pepper, channel + ":" + address)``. The pepper lives outside
  the database; phone numbers are low-entropy, so an unkeyed hash of one would be no pseudonym.
- Each conversation has its own 256-bit data key. Its state is sealed with AES-GCM, the
  conversation id as associated data (a blob moved to another row does not open). The data key
  is stored wrapped by the epoch key of the moment (``bot.store.epochs``), which is destroyed
  within the erasure bound: deleting the wrapped key makes everything sealed under it unreadable
  through the service at once, and destroying the epoch makes every copy of it (a dead row in
  PostgreSQL's files, its log, a backup) unreadable for good.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.store.epochs import Epoch, EpochGone, EpochKeys

SEAL_VERSION = b"\x01"  # a blob sealed under a data key (``seal``)
WRAPPED = b"\x02"  # a data key wrapped under an epoch key (``KeyRing.wrap``)
TRANSIENT = b"\x03"  # a short-lived payload sealed under an epoch key (``KeyRing.seal_transient``)
NONCE_BYTES = 12
DEFAULT_EPOCH_SECONDS = 1800.0  # half of the default erasure bound of one hour
DATA_KEY_BYTES = 32


def pseudonym_in(material: bytes, stored: str) -> str:
    """The pseudonym a conversation's wrapped key carries after its data key; a key from before
    epochs carries none, and its row then still holds the pseudonym itself (``stored``)."""
    return material[DATA_KEY_BYTES:].hex() if len(material) > DATA_KEY_BYTES else stored


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
    """The keys of the store: wraps data keys under the epoch of the moment, keys lookup tags,
    seals what must outlive no epoch, and (with the key-encryption keys) what must last.

    ``keys`` are Fernet key-encryption keys, newest first: they seal the epoch files of the key
    store (``key_store``, a directory; None keeps epochs in memory) and the advocates' TOTP
    secrets. A person's data never depends on them alone: it is under an epoch key, destroyed at
    most ``2 * epoch_length`` seconds after the person's erasure (``epochs``).

    Unwrapped data keys are remembered for a while (``cache_size`` of them, each at most
    ``cache_for`` seconds): a person's next message within minutes then skips the unwrap. This
    process can unwrap every live data key anyway, so a remembered one exposes nothing more to
    whoever can read its memory. Erasure calls ``forget``; another process drops its copy
    within ``cache_for``.
    """

    def __init__(
        self, keys: list[str], key_store: Path | None = None, epoch_length: float = DEFAULT_EPOCH_SECONDS,
        cache_size: int = 4096, cache_for: float = 900.0, clock=time.time,
    ):
        if not keys:
            raise ValueError("at least one key-encryption key is needed")
        self._fernet = MultiFernet([Fernet(k) for k in keys])
        self.epochs = EpochKeys(key_store, self._fernet, epoch_length, clock)
        # associated (the row's id) -> (the wrapped key as stored, what it wraps, remembered until):
        # by the row, so that erasing a conversation forgets its key whatever version was
        # remembered (the rollover replaces the stored one every epoch).
        self._cache: OrderedDict[str, tuple[bytes, bytes, float]] = OrderedDict()
        self._cache_size = cache_size
        self._cache_for = cache_for
        self._cache_lock = threading.Lock()

    # -- data keys, wrapped under the epoch ---------------------------------------------------------

    def new_data_key(self, associated: str, *, extra: bytes = b"", remember: bool = False) -> tuple[bytes, bytes]:
        """A fresh 256-bit data key and its wrapped form: ``(key, wrapped)``. The wrapped form
        also carries ``extra`` (what the store must read back with it) and opens only with the
        same ``associated`` (the row's id). ``remember``: see ``unwrap``."""
        key = AESGCM.generate_key(bit_length=256)
        wrapped = self.wrap(key + extra, associated)
        if remember:
            self._remember(associated, wrapped, key + extra)
        return key, wrapped

    def wrap(self, material: bytes, associated: str) -> bytes:
        """``02 || epoch (4 bytes) || nonce || AES-GCM(epoch key, material, associated)``."""
        epoch = self.epochs.current()
        return _epoch_seal(WRAPPED, epoch, f"wrap:{associated}", material)

    def unwrap(self, wrapped: bytes, associated: str, *, remember: bool = False) -> bytes:
        """What ``wrap`` (or ``new_data_key``: the key, then ``extra``) wrapped. Raises
        ``DecryptError`` once its epoch is destroyed, for another ``associated``, or any change.
        A data key from before epochs (a Fernet token) opens with the key-encryption keys until
        the rollover moves it. ``remember``: keep it for the next turns (conversation keys only;
        a handoff's key, which opens an address and a transcript, never is)."""
        wrapped = bytes(wrapped)
        now = time.monotonic()
        with self._cache_lock:
            self._sweep(now)
            cached = self._cache.get(associated)
            if cached is not None and cached[0] == wrapped:
                return cached[1]
        if wrapped.startswith(WRAPPED):
            material = self._epoch_open(WRAPPED, f"wrap:{associated}", wrapped)
        else:
            material = self._legacy_open(wrapped)
        if remember:
            self._remember(associated, wrapped, material)
        return material

    def rewrap(self, wrapped: bytes, associated: str) -> bytes:
        """The same material wrapped under the current epoch (the rollover, ``keys rotate``)."""
        return self.wrap(self.unwrap(wrapped, associated), associated)

    @staticmethod
    def epoch_of(blob: bytes) -> int | None:
        """The epoch a wrapped key or transient seal is under; None for one of the key-encryption keys."""
        if blob[:1] in (WRAPPED, TRANSIENT) and len(blob) > 5:
            return int.from_bytes(blob[1:5], "big")
        return None

    # -- lookup tags --------------------------------------------------------------------------------

    def tag(self, pseudonym: str) -> tuple[int, str]:
        """``(epoch, tag)``: what the database stores to find ``pseudonym``'s conversation now:
        HMAC-SHA256 of the pseudonym under the epoch's tagging key. Once the epoch is destroyed,
        a tag left in the database's files links to no one, even with the pepper."""
        epoch = self.epochs.current()
        return epoch.number, _tag(epoch, pseudonym)

    def tags(self, pseudonym: str) -> tuple[str, str]:
        """The tags ``pseudonym``'s conversation may be stored under: the current epoch's and the
        previous one's (not yet moved forward), the current one twice when there is no previous."""
        number, current = self.tag(pseudonym)
        try:
            return current, _tag(self.epochs.get(number - 1), pseudonym)
        except EpochGone:
            return current, current

    # -- seals ----------------------------------------------------------------------------------------

    def seal_transient(self, plaintext: bytes) -> bytes:
        """Seal a payload that lives minutes (an outbox message, a quick exit's answer) under the
        current epoch: unreadable once the epoch is destroyed unless the rollover reseals it."""
        return _epoch_seal(TRANSIENT, self.epochs.current(), "transient", plaintext)

    def open_transient(self, token: bytes) -> bytes:
        """What ``seal_transient`` sealed (or, from before epochs, the key-encryption keys)."""
        token = bytes(token)
        if token.startswith(TRANSIENT):
            return self._epoch_open(TRANSIENT, "transient", token)
        return self._legacy_open(token)

    def reseal_transient(self, token: bytes) -> bytes:
        return self.seal_transient(self.open_transient(token))

    def seal(self, plaintext: bytes) -> bytes:
        """Seal a lasting secret (an advocate's TOTP secret) with the newest key-encryption key."""
        return self._fernet.encrypt(plaintext)

    def open(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise DecryptError("the payload cannot be decrypted with any configured key") from None

    def rotate_lasting(self, token: bytes) -> bytes:
        """A lasting secret sealed again under the newest key-encryption key (key rotation)."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            raise DecryptError("the payload cannot be decrypted with any configured key") from None

    # -- remembered keys ------------------------------------------------------------------------------

    def forget(self, associated: str) -> None:
        """Drop the remembered key of the row ``associated`` (the conversation is being erased)."""
        with self._cache_lock:
            self._cache.pop(associated, None)

    def sweep(self) -> None:
        """Drop the remembered keys past their time (the background work calls it every minute,
        so a quiet server keeps none of them longer than ``cache_for``)."""
        with self._cache_lock:
            self._sweep(time.monotonic())

    def _sweep(self, now: float) -> None:
        # Entries are in the order they were remembered, each for the same time: the expired
        # ones are at the front.
        while self._cache:
            associated, (_, _, until) = next(iter(self._cache.items()))
            if until > now:
                break
            del self._cache[associated]

    def _remember(self, associated: str, wrapped: bytes, material: bytes) -> None:
        if self._cache_size <= 0:
            return
        with self._cache_lock:
            self._cache[associated] = (wrapped, material, time.monotonic() + self._cache_for)
            self._cache.move_to_end(associated)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _epoch_open(self, version: bytes, associated: str, blob: bytes) -> bytes:
        if len(blob) < 5 + NONCE_BYTES + 16:
            raise DecryptError("not a sealed blob of a known version")
        try:
            epoch = self.epochs.get(int.from_bytes(blob[1:5], "big"))
        except EpochGone:
            raise DecryptError("its epoch key is destroyed") from None
        nonce, ciphertext = blob[5 : 5 + NONCE_BYTES], blob[5 + NONCE_BYTES :]
        try:
            return epoch.wrapping.decrypt(nonce, ciphertext, version + associated.encode())
        except InvalidTag:
            raise DecryptError("the sealed blob does not open with its epoch key") from None

    def _legacy_open(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise DecryptError("the data key cannot be unwrapped with any configured key") from None

    def __repr__(self) -> str:
        return "KeyRing(<keys hidden>)"


def _epoch_seal(version: bytes, epoch: Epoch, associated: str, plaintext: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    header = version + epoch.number.to_bytes(4, "big")
    return header + nonce + epoch.wrapping.encrypt(nonce, plaintext, version + associated.encode())


def _tag(epoch: Epoch, pseudonym: str) -> str:
    return hmac.digest(epoch.tagging, pseudonym.encode(), "sha256").hex()


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

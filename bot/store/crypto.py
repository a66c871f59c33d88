"""Pseudonyms and envelope encryption (DESIGN "Minimal encrypted state").

- A person is known by ``HMAC-SHA256(pepper, channel + ":" + address)``. The pepper lives outside
  the database; phone numbers are low-entropy, so an unkeyed hash of one would be no pseudonym.
- Each conversation has its own 256-bit data key. Its state is sealed with AES-GCM, the
  conversation id as associated data (a blob moved to another row does not open). The data key
  is stored wrapped by the key-encryption keys (``MultiFernet``, newest first, rotatable).
  Deleting the wrapped key makes everything sealed under it unreadable at once.
"""

from __future__ import annotations

import hashlib
import hmac
import os

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
        return hmac.new(self._pepper, message, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "Pseudonyms(<pepper hidden>)"


class KeyRing:
    """The key-encryption keys: wraps and unwraps per-conversation data keys.

    ``keys`` are Fernet keys, newest first: the first wraps, any of them unwraps.
    """

    def __init__(self, keys: list[str]):
        if not keys:
            raise ValueError("at least one key-encryption key is needed")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def new_data_key(self) -> tuple[bytes, bytes]:
        """A fresh data key and its wrapped form: ``(key, wrapped)``."""
        key = AESGCM.generate_key(bit_length=256)
        return key, self._fernet.encrypt(key)

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            return self._fernet.decrypt(wrapped)
        except InvalidToken:
            raise DecryptError("the data key cannot be unwrapped with any configured key") from None

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


def seal(key: bytes, associated: str, plaintext: bytes) -> bytes:
    """``version || nonce || AES-GCM(key, nonce, plaintext, associated)``."""
    nonce = os.urandom(NONCE_BYTES)
    return SEAL_VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, associated.encode())


def is_sealed(blob: bytes) -> bool:
    """Whether ``blob`` is of ``seal`` (a data key's AES-GCM) rather than a Fernet token of the
    key-encryption keys (those start with the version byte 0x80, base64 ``gA``)."""
    return blob.startswith(SEAL_VERSION)


def open_sealed(key: bytes, associated: str, blob: bytes) -> bytes:
    if not blob.startswith(SEAL_VERSION) or len(blob) < 1 + NONCE_BYTES + 16:
        raise DecryptError("not a sealed blob of a known version")
    nonce, ciphertext = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, associated.encode())
    except InvalidTag:
        raise DecryptError("the sealed blob does not open with this key") from None

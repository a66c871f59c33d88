"""Epoch keys: the short-lived secrets whose destruction makes erasure hold on disk and in backups.

A database cannot forget: PostgreSQL keeps a deleted row in its table files until vacuum and in
its write-ahead log and archives for as long as those are kept, and a backup keeps everything.
So what a quick exit (or an expiry) erases must become unreadable by destroying a key, not by
deleting a row. Every conversation's and handoff's data key is wrapped by the *epoch key* of the
moment, and the lookup tag that finds a person's conversation is keyed by it too. Epoch ``n``
covers wall-clock time ``[n * length, (n + 1) * length)``. When epoch ``n + 1`` begins, the
store re-wraps every live conversation forward (``rollover``), and epoch ``n`` is destroyed:
as soon as nothing needs it, and in any case once epoch ``n + 1`` has ended. Anything erased
during epoch ``n`` was wrapped only under epochs up to ``n``, so it is beyond every key the
service holds at most ``2 * length`` after the erasure (the configured erasure bound).

The secrets live in a *key store*: a directory, one file per epoch (``epoch-<n>.key``), each
the 32-byte secret sealed by the key-encryption keys (so a copy of the directory alone opens
nothing). Destroying one overwrites the file in place, flushes it to the disk and unlinks it.
That holds where the file system writes in place (ext4, xfs) and nobody copies the directory
(no snapshot, no backup of it: see README "Erasure"). Every process of a deployment must use the
same directory; they agree on epochs by the clock and create a file at most once (a hard link
that fails when another process made it first). ``directory=None`` keeps the secrets in this
process's memory only (the terminal chat, tests).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.fernet import InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger("safeharbor.store")

FILE_PATTERN = re.compile(r"^epoch-(\d+)\.key$")
SECRET_BYTES = 32


class EpochGone(Exception):
    """The epoch key is destroyed (or was never made here): what it wrapped cannot be opened."""


@dataclass(frozen=True)
class Epoch:
    """One epoch's secret and the two keys derived from it (HKDF-SHA256, one purpose each)."""

    number: int
    secret: bytes

    @cached_property
    def wrapping(self) -> AESGCM:
        """Wraps data keys and seals short-lived payloads (outbox messages)."""
        return AESGCM(_derive(self.secret, b"safeharbor epoch wrapping v1"))

    @cached_property
    def tagging(self) -> bytes:
        """Keys the lookup tag of a pseudonym (``KeyRing.tags``)."""
        return _derive(self.secret, b"safeharbor epoch lookup tag v1")

    def __repr__(self) -> str:
        return f"Epoch({self.number}, <secret hidden>)"


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


class EpochKeys:
    """The epoch keys of a key store. Thread-safe; every method is cheap after the first use of
    an epoch (the secrets are kept in memory while they live).

    ``length``: seconds per epoch (half the erasure bound). ``clock``: wall-clock seconds, the
    same on every machine of a deployment (``time.time``); not the service's clock, which tests
    move by days.
    """

    def __init__(self, directory: Path | None, fernet: MultiFernet, length: float, clock: Callable[[], float] = time.time):
        if length <= 0:
            raise ValueError("an epoch must last a positive time")
        self.directory = Path(directory) if directory is not None else None
        self.length = float(length)
        self._fernet = fernet
        self._clock = clock
        self._known: dict[int, Epoch] = {}
        # Past epochs found missing or destroyed: never looked for on the disk again (no epoch
        # file is made for a past number), so a turn's look for the previous epoch costs nothing.
        self._gone: set[int] = set()
        self._lock = threading.Lock()
        if self.directory is not None:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    # -- time --------------------------------------------------------------------------------------

    def now(self) -> float:
        """Wall-clock seconds, as this key store counts them."""
        return self._clock()

    def number(self) -> int:
        """The current epoch's number."""
        return int(self._clock() // self.length)

    def starts(self, number: int) -> float:
        """When epoch ``number`` begins (wall-clock seconds)."""
        return number * self.length

    def alive(self, number: int) -> bool:
        """Whether epoch ``number`` may still be used to open: the current one and the one
        before (whose keys the rollover is moving forward). Older ones are dead by the clock,
        whether or not their file is gone yet."""
        return number >= self.number() - 1

    # -- the keys ----------------------------------------------------------------------------------

    def current(self) -> Epoch:
        """The epoch to wrap and seal under now (made, once per deployment, when first needed)."""
        number = self.number()
        with self._lock:
            epoch = self._known.get(number) or self._load(number) or self._make(number)
            self._known[number] = epoch
            return epoch

    def get(self, number: int) -> Epoch:
        """Epoch ``number`` to open with; raises ``EpochGone`` once it is dead or destroyed."""
        if not self.alive(number):
            self._forget(number)
            raise EpochGone(f"epoch {number} is past its time")
        with self._lock:
            epoch = self._known.get(number)
            if epoch is None and number not in self._gone:
                epoch = self._load(number)
            if epoch is None:
                if number < self.number():
                    self._gone.add(number)
                raise EpochGone(f"epoch {number} is not in the key store")
            self._known[number] = epoch
            return epoch

    def numbers(self) -> list[int]:
        """The epochs whose secrets still exist here (files, or memory), oldest first."""
        found = set(self._known)
        if self.directory is not None:
            for name in os.listdir(self.directory):
                match = FILE_PATTERN.match(name)
                if match:
                    found.add(int(match.group(1)))
        return sorted(found)

    def destroy(self, number: int) -> bool:
        """Destroy epoch ``number``: overwrite its file in place, flush, unlink; forget it.
        Returns whether this call destroyed a file (another process may have been first)."""
        self._forget(number)
        if self.directory is None:
            return False
        return _shred(self.directory / f"epoch-{number}.key")

    def destroy_dead(self) -> list[int]:
        """Destroy every epoch that is dead by the clock (see ``alive``); returns their numbers.
        Any process may do it: the erasure bound does not wait for the worker."""
        dead = [number for number in self.numbers() if not self.alive(number)]
        for number in dead:
            self.destroy(number)
        return dead

    def rewrap_files(self) -> int:
        """Seal every epoch file under the newest key-encryption key, in place (``keys
        rotate``): a copy written elsewhere would leave the old one on the disk. Returns how many."""
        if self.directory is None:
            return 0
        done = 0
        for number in self.numbers():
            path = self.directory / f"epoch-{number}.key"
            try:
                with open(path, "r+b") as file:
                    token = self._fernet.rotate(file.read())
                    file.seek(0)
                    file.write(token)
                    file.truncate()
                    file.flush()
                    os.fsync(file.fileno())
            except FileNotFoundError:
                continue
            except InvalidToken:
                log.error("epoch key %d opens with no configured key-encryption key; left as it is", number)
                continue
            done += 1
        return done

    def _forget(self, number: int) -> None:
        with self._lock:
            self._known.pop(number, None)
            current = self.number()
            if number < current:
                self._gone.add(number)
            self._gone = {gone for gone in self._gone if gone >= current - 1}  # older ones are dead by the clock anyway

    def _load(self, number: int) -> Epoch | None:
        if self.directory is None:
            return None
        try:
            token = (self.directory / f"epoch-{number}.key").read_bytes()
        except FileNotFoundError:
            return None
        try:
            return Epoch(number, self._fernet.decrypt(token))
        except InvalidToken:
            raise EpochGone(f"epoch {number} opens with no configured key-encryption key") from None

    def _make(self, number: int) -> Epoch:
        secret = secrets.token_bytes(SECRET_BYTES)
        if self.directory is None:
            return Epoch(number, secret)
        final = self.directory / f"epoch-{number}.key"
        draft = self.directory / f".epoch-{number}.{secrets.token_hex(6)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, self._fernet.encrypt(secret))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(draft, final)
        except FileExistsError:  # another process made this epoch first: use theirs
            _shred(draft)
            return self._load(number)
        os.unlink(draft)  # a second name of the same file
        _sync_directory(self.directory)
        return Epoch(number, secret)


def _shred(path: Path) -> bool:
    try:
        with open(path, "r+b") as file:
            size = os.fstat(file.fileno()).st_size
            file.write(secrets.token_bytes(size))
            file.flush()
            os.fsync(file.fileno())
        os.unlink(path)
    except FileNotFoundError:
        return False
    _sync_directory(path.parent)
    return True


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""The rollover: every live key moved forward to the current epoch, then the old epochs destroyed.

    rolled = roll_forward(engine, keys, progress=lambda done, total: ...)   # any process, any time

Called by the background work every minute (and by ``keys rotate``). Once an epoch has begun
(and a short grace has passed, so turns begun in the previous epoch have committed), it
- wraps every conversation's data key under the current epoch and tags its pseudonym anew
  (the pseudonym travels inside the wrapped key), in batches, each an update that applies only
  if the key is still the one read (a quick exit meanwhile wins: nothing is brought back);
- does the same for every handoff's key and reseals every outbox payload still waiting;
- destroys each older epoch nothing is wrapped under any more; ``EpochKeys.destroy_dead``
  destroys the ones past their time whatever is left under them (what could not be moved is
  then unreadable, as an erasure would leave it: privacy is not traded for availability).

Safe to interrupt and to run in several processes at once: each update checks what it replaces.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, exists, func, or_, select, update

from bot.store.crypto import DATA_KEY_BYTES, DecryptError, KeyRing, pseudonym_in
from bot.store.database import read_connection, write_transaction
from bot.store.tables import conversations, data_keys, handoffs, outbox, users

log = logging.getLogger("safeharbor.store")

GRACE_SECONDS = 30.0


@dataclass(frozen=True)
class Rolled:
    """What one rollover did: keys moved forward, keys that no longer open, epochs destroyed."""

    moved: int = 0
    unreadable: int = 0
    destroyed: tuple[int, ...] = ()


def roll_forward(
    engine: Engine, keys: KeyRing, *, batch: int = 500, progress: Callable[[int, int], None] | None = None, grace: float | None = None,
) -> Rolled:
    """Move every key wrapped under an older epoch (or, from before epochs, under the
    key-encryption keys) to the current epoch and destroy the epochs left unused. ``progress(done,
    total)`` after each batch. ``grace``: seconds into an epoch before moving (default the
    smaller of 30 s and a tenth of an epoch)."""
    epochs = keys.epochs
    current = epochs.number()
    grace = min(GRACE_SECONDS, epochs.length / 10) if grace is None else grace
    if epochs.starts(current) + grace > epochs.now():
        return Rolled(destroyed=tuple(epochs.destroy_dead()))
    k = data_keys.c
    behind = or_(k.epoch.is_(None), k.epoch < current)
    with read_connection(engine) as connection:
        total = connection.execute(select(func.count()).select_from(data_keys).where(behind)).scalar_one()
    moved = unreadable = 0
    last = ""
    while True:
        with write_transaction(engine) as connection:
            rows = connection.execute(
                select(k.conversation_id, k.wrapped, conversations.c.pseudonym)
                .join(conversations, conversations.c.id == k.conversation_id)
                .where(behind, k.conversation_id > last).order_by(k.conversation_id).limit(batch)
            ).all()
            moves = [_moved_conversation_key(keys, conversation_id, bytes(wrapped), stored) for conversation_id, wrapped, stored in rows]
            moves = [move for move in moves if move is not None]
            if moves:  # one statement per table for the batch (executemany), not two per key
                connection.execute(_MOVE_KEY, moves)
                connection.execute(_RETAG, moves)
            moved += len(moves)
            unreadable += len(rows) - len(moves)
        if not rows:
            break
        last = rows[-1].conversation_id
        if progress:
            progress(moved + unreadable, total)
    moved += _move_handoff_keys(engine, keys, current)
    moved += _reseal_outbox(engine, keys, current)
    destroyed = [number for number in epochs.numbers() if number < current and not _in_use(engine, keys, number)]
    for number in destroyed:
        epochs.destroy(number)
    destroyed += epochs.destroy_dead()
    if unreadable:
        log.warning("%d conversation key(s) no longer open and were left to expire", unreadable)
    return Rolled(moved, unreadable, tuple(sorted(set(destroyed))))


# A key moves only if it is still the one read (a quick exit meanwhile deleted it: nothing comes
# back), and the tag only if its key moved.
_MOVE_KEY = (
    update(data_keys)
    .where(data_keys.c.conversation_id == bindparam("cid"), data_keys.c.wrapped == bindparam("old"))
    .values(wrapped=bindparam("new"), epoch=bindparam("new_epoch"))
)
_RETAG = (
    update(conversations)
    .where(
        conversations.c.id == bindparam("cid"),
        exists().where(data_keys.c.conversation_id == bindparam("cid"), data_keys.c.wrapped == bindparam("new")),
    )
    .values(pseudonym=bindparam("tag"))
)


def _moved_conversation_key(keys: KeyRing, conversation_id: str, wrapped: bytes, stored: str) -> dict | None:
    """The parameters of ``_MOVE_KEY`` and ``_RETAG`` for one conversation, or None when its key
    no longer opens."""
    try:
        material = keys.unwrap(wrapped, conversation_id)
    except DecryptError:
        return None
    pseudonym = pseudonym_in(material, stored)
    if len(material) == DATA_KEY_BYTES:  # from before epochs: the pseudonym joins the key
        material += bytes.fromhex(pseudonym)
    rewrapped = keys.wrap(material, conversation_id)
    return {"cid": conversation_id, "old": wrapped, "new": rewrapped, "new_epoch": keys.epoch_of(rewrapped), "tag": keys.tag(pseudonym)[1]}


def _move_handoff_keys(engine: Engine, keys: KeyRing, current: int) -> int:
    return _renew(engine, keys, current, handoffs.c.id, handoffs.c.wrapped_key, keys.rewrap)


def _reseal_outbox(engine: Engine, keys: KeyRing, current: int) -> int:
    return _renew(engine, keys, current, outbox.c.id, outbox.c.payload, lambda payload, _: keys.reseal_transient(payload))


def _renew(engine: Engine, keys: KeyRing, current: int, id_column, blob_column, renew) -> int:
    """Replace every ``blob_column`` value not under the current epoch by ``renew(blob, id)``
    (one transaction: handoffs and waiting outbox messages are few), each only if unchanged
    since read; one that no longer opens is left as it is. Returns how many were renewed."""
    table = blob_column.table
    renewed = 0
    with write_transaction(engine) as connection:
        for row_id, blob in connection.execute(select(id_column, blob_column).where(blob_column.is_not(None))).all():
            blob = bytes(blob)
            if keys.epoch_of(blob) == current:
                continue
            try:
                fresh = renew(blob, row_id)
            except DecryptError:
                continue
            renewed += connection.execute(
                update(table).where(id_column == row_id, blob_column == blob).values({blob_column.name: fresh})
            ).rowcount
    return renewed


def _in_use(engine: Engine, keys: KeyRing, number: int) -> bool:
    """Whether anything readable is still under epoch ``number`` (a turn that began before the
    epoch changed and committed after the rollover read past it)."""
    with read_connection(engine) as connection:
        if connection.execute(select(func.count()).select_from(data_keys).where(data_keys.c.epoch == number)).scalar_one():
            return True
        blobs = [
            *connection.execute(select(handoffs.c.wrapped_key).where(handoffs.c.wrapped_key.is_not(None))).scalars(),
            *connection.execute(select(outbox.c.payload).where(outbox.c.payload.is_not(None))).scalars(),
        ]
    return any(keys.epoch_of(bytes(blob)) == number for blob in blobs)


def rotate_key_encryption(engine: Engine, keys: KeyRing) -> tuple[int, int]:
    """After a new key-encryption key was put first (``keys rotate``): seal the epoch files and
    the advocates' TOTP secrets under it, so the older keys may be retired. Returns (epoch files,
    TOTP secrets) sealed anew."""
    files = keys.epochs.rewrap_files()
    sealed = 0
    with write_transaction(engine) as connection:
        for user_id, secret in connection.execute(select(users.c.id, users.c.totp_secret)).all():
            try:
                rotated = keys.rotate_lasting(bytes(secret))
            except DecryptError:
                log.error("a TOTP secret opens with no configured key; that advocate must be enrolled again")
                continue
            sealed += connection.execute(update(users).where(users.c.id == user_id).values(totp_secret=rotated)).rowcount
    return files, sealed

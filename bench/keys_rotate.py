"""Key rotation and the epoch rollover over many conversations: how long `keys rotate` takes.

    .venv/bin/python bench/keys_rotate.py                         # 100,000 conversations, SQLite
    .venv/bin/python bench/keys_rotate.py --postgres URL          # the same on PostgreSQL
    .venv/bin/python bench/keys_rotate.py --conversations 10000   # quicker

Writes N conversations as turns write them (a lookup tag, a sealed state, a data key wrapped under
the epoch of the moment, with the pseudonym inside), in bulk for speed, then moves the epoch
clock one epoch on and runs what `safeharbor keys rotate` runs: the epoch files sealed under a
new key-encryption key, and every conversation key moved to the current epoch with its tag
renewed (`bot.store.rollover.roll_forward`, the same work the background rollover does once per
epoch). Prints progress while it runs and the time and rate at the end. Nothing gates on it.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from bot.store import KeyRing, Pseudonyms, open_database  # noqa: E402
from bot.store.crypto import seal  # noqa: E402
from bot.store.rollover import roll_forward, rotate_key_encryption  # noqa: E402
from bot.store.sessions import compact_json  # noqa: E402
from bot.store.tables import conversations, data_keys  # noqa: E402

EPOCH = 1800.0
STATE = {"state": "main_menu", "language": "es", "flow": "main", "vars": {}, "updated_at": "2026-12-01T12:00:00+00:00"}


def fill(engine, keys: KeyRing, count: int) -> None:
    pseudonyms = Pseudonyms(secrets.token_bytes(32))
    now = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
    batch, made = 5000, 0
    while made < count:
        people, keys_rows = [], []
        for n in range(made, min(count, made + batch)):
            pseudonym = pseudonyms.of("sms", f"+1555{n:07d}")
            conversation_id = secrets.token_hex(16)
            key, wrapped = keys.new_data_key(conversation_id, extra=bytes.fromhex(pseudonym))
            people.append({
                "id": conversation_id, "pseudonym": keys.tag(pseudonym)[1], "state": seal(key, conversation_id, compact_json(STATE)),
                "created_at": now, "updated_at": now, "expires_at": now + timedelta(hours=1),
            })
            keys_rows.append({"conversation_id": conversation_id, "wrapped": wrapped, "epoch": keys.epoch_of(wrapped)})
        with engine.begin() as connection:
            connection.execute(insert(conversations), people)
            connection.execute(insert(data_keys), keys_rows)
        made += len(people)
        print(f"\rwrote {made:,}/{count:,} conversations", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL database to use (its tables are emptied first)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        url = args.postgres or f"sqlite:///{home}/bench.db"
        engine = open_database(url)
        with engine.begin() as connection:
            for table in ("data_keys", "conversations"):
                connection.execute(text(f"DELETE FROM {table}"))
        wall = [time.time()]
        old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
        ring = lambda kek: KeyRing(kek, key_store=Path(home) / "keys", epoch_length=EPOCH, clock=lambda: wall[0])  # noqa: E731
        fill(engine, ring([old]), args.conversations)
        wall[0] += EPOCH  # the next epoch: every key is now one behind
        keys = ring([new, old])
        started = time.perf_counter()
        files, _ = rotate_key_encryption(engine, keys)

        def progress(done: int, total: int) -> None:
            if done % 10_000 < 500 or done == total:
                print(f"\rmoved {done:,}/{total:,} conversation keys", end="", file=sys.stderr, flush=True)

        rolled = roll_forward(engine, keys, progress=progress, grace=0)
        seconds = time.perf_counter() - started
        print(file=sys.stderr)
        backend = engine.dialect.name
        print(
            f"{backend}: keys rotate over {rolled.moved:,} conversations: {seconds:.1f} s "
            f"({rolled.moved / seconds:,.0f} keys/s; {files} epoch file(s) resealed; epochs destroyed: {len(rolled.destroyed)})"
        )
        with engine.begin() as connection:
            for table in ("data_keys", "conversations"):
                connection.execute(text(f"DELETE FROM {table}"))
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``safeharbor keys generate`` (new keys to configure) and ``keys rotate`` (seal everything
under the newest key-encryption key, move every conversation key to the current epoch)."""

from __future__ import annotations

import sys

from bot.config import Settings, generate_keys


def add_to(commands) -> None:
    keys = commands.add_parser("keys", help="encryption keys").add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    keys.add_parser("generate", help="print a new key and pepper as environment variables").set_defaults(run=_keys_generate)
    keys.add_parser(
        "rotate", help="seal the epoch keys and TOTP secrets under the first SAFEHARBOR_ENCRYPTION_KEYS key and move every conversation key to the current epoch"
    ).set_defaults(run=_keys_rotate)


def _keys_generate(args) -> int:
    for name, value in generate_keys().items():
        print(f"{name}={value}")
    return 0


def _keys_rotate(args) -> int:
    from bot.service import open_store
    from bot.store.rollover import rotate_key_encryption

    store = open_store(Settings.from_env())
    try:
        files, secrets_sealed = rotate_key_encryption(store.engine, store.keys)
        print(f"sealed {files} epoch key(s) and {secrets_sealed} TOTP secret(s) under the newest key", file=sys.stderr)

        def progress(done: int, total: int) -> None:
            print(f"\rmoved {done}/{total} conversation keys to the current epoch", end="", file=sys.stderr, flush=True)

        rolled = store.roll_keys(progress=progress, grace=0)
    finally:
        store.close()
    print(
        f"\rmoved {rolled.moved} key(s) to the current epoch ({rolled.unreadable} no longer open); "
        "older key-encryption keys may now be retired", file=sys.stderr,
    )
    return 0

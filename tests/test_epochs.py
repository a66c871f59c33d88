"""The epoch key store: made once per deployment, shared by processes, destroyed for real."""

from __future__ import annotations

import os
import threading

import pytest
from cryptography.fernet import Fernet, MultiFernet

from bot.store.epochs import EpochGone, EpochKeys


def fernet(*keys: bytes) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys])


KEK = Fernet.generate_key()


def store(directory, wall, length=100.0, kek=KEK) -> EpochKeys:
    return EpochKeys(directory, fernet(kek), length, clock=lambda: wall[0])


def test_processes_sharing_a_key_store_agree_on_each_epoch_even_when_they_race(tmp_path):
    wall = [1_000_050.0]
    processes = [store(tmp_path, wall) for _ in range(8)]
    made: list[bytes] = []
    start = threading.Barrier(len(processes))

    def first_use(keys: EpochKeys) -> None:
        start.wait()
        made.append(keys.current().secret)

    threads = [threading.Thread(target=first_use, args=(keys,)) for keys in processes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 1 and len(made) == 8  # one secret for everybody
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-10000.key"]  # no draft left behind
    assert (tmp_path / "epoch-10000.key").stat().st_mode & 0o777 == 0o600
    assert made[0] not in (tmp_path / "epoch-10000.key").read_bytes()  # sealed by the key-encryption key
    assert store(tmp_path, wall, kek=Fernet.generate_key()).numbers() == [10000]
    with pytest.raises(EpochGone):  # another deployment's key-encryption key opens nothing
        store(tmp_path, wall, kek=Fernet.generate_key()).current()


def test_an_epoch_lives_two_epochs_and_its_file_is_overwritten_before_it_is_unlinked(tmp_path, monkeypatch):
    wall = [1_000_000.0]
    keys = store(tmp_path, wall)
    first = keys.current()
    wall[0] += 100
    assert keys.get(first.number) == first  # the previous epoch still opens (the rollover moves it)
    on_disk_when_unlinked: list[bytes] = []
    real_unlink = os.unlink

    def unlink(path):
        on_disk_when_unlinked.append(open(path, "rb").read())
        real_unlink(path)

    monkeypatch.setattr("bot.store.epochs.os.unlink", unlink)
    token = (tmp_path / f"epoch-{first.number}.key").read_bytes()
    wall[0] += 100
    with pytest.raises(EpochGone):
        keys.get(first.number)  # dead by the clock, file or not
    assert keys.destroy_dead() == [first.number]
    assert not (tmp_path / f"epoch-{first.number}.key").exists()
    (overwritten,) = on_disk_when_unlinked
    assert len(overwritten) == len(token) and overwritten != token  # overwritten in place, then unlinked
    assert keys.destroy(first.number) is False  # already gone: nothing to do, no error


def test_memory_only_epochs_are_never_written_and_die_with_the_process(tmp_path):
    wall = [1_000_000.0]
    keys = EpochKeys(None, fernet(KEK), 100.0, clock=lambda: wall[0])
    epoch = keys.current()
    assert keys.get(epoch.number) is epoch and keys.numbers() == [epoch.number]
    other = EpochKeys(None, fernet(KEK), 100.0, clock=lambda: wall[0])
    assert other.current().secret != epoch.secret
    wall[0] += 200
    with pytest.raises(EpochGone):
        keys.get(epoch.number)


def test_rewrapping_the_files_seals_them_under_the_newest_key_in_place(tmp_path):
    wall = [1_000_000.0]
    old_keys = store(tmp_path, wall)
    secret = old_keys.current().secret
    path = tmp_path / "epoch-10000.key"
    inode = path.stat().st_ino
    new = Fernet.generate_key()
    rotating = EpochKeys(tmp_path, fernet(new, KEK), 100.0, clock=lambda: wall[0])
    assert rotating.rewrap_files() == 1
    assert path.stat().st_ino == inode  # the same file, overwritten: no old copy left in a freed block
    only_new = EpochKeys(tmp_path, fernet(new), 100.0, clock=lambda: wall[0])
    assert only_new.current().secret == secret

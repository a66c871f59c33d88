"""The content bundle's revisions in the database: immutable, numbered, one of them published.

    revisions = Revisions(engine)
    first = revisions.seed(Bundle.from_directory(root), now)      # revision 1, published, once
    draft = revisions.save(edited, base=1, author="ana@example.org", message="Kinder menu", now=now)
    revisions.publish(draft.number, "ana@example.org", now)      # 1 archived, 2 published
    revisions.published_number()                                 # 2: what every process polls

A save is checked against the revision its editor started from (``base``). When others saved
since, their changes and this one are merged file by file if they touch different files;
otherwise ``Conflict`` names who changed what, and the editor chooses to reload or to save again
with ``overwrite=True`` (its files win, the others' changes to other files stay). Nothing is
ever lost: every save is a revision of its own.

Every save and publish writes its line to the audit trail in the same transaction.
Blocking (database calls): call from a thread.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine

from bot.content.bundle import Bundle
from bot.content.changes import compare, tags
from bot.store.database import close_writer, read_connection, write_transaction
from bot.store.tables import audit_log, aware, content_revisions

DRAFT, PUBLISHED, ARCHIVED = "draft", "published", "archived"
MAX_MESSAGE = 500


@dataclass(frozen=True)
class Revision:
    """One revision; ``bundle`` is None in listings (``history``)."""

    number: int
    status: str
    author: str
    created_at: datetime
    message: str
    base: int | None
    digest: str
    tags: dict = field(default_factory=dict)
    published_at: datetime | None = None
    published_by: str | None = None
    bundle: Bundle | None = None

    def summary(self) -> dict:
        """The revision without its files, as the console and ``content history`` show it."""
        return {
            "number": self.number, "status": self.status, "author": self.author, "created_at": self.created_at.isoformat(),
            "message": self.message, "base": self.base, "tags": self.tags,
            "published_at": self.published_at.isoformat() if self.published_at else None, "published_by": self.published_by,
        }


class NoSuchRevision(LookupError):
    pass


class Conflict(Exception):
    """Others saved since ``base`` and changed files this save changes too. ``since``: their
    revisions (who, when, what they changed); ``files``: the files both changed."""

    def __init__(self, base: int | None, head: Revision, since: list[Revision], files: list[str]):
        self.base, self.head, self.since, self.files = base, head, since, files
        who = ", ".join(sorted({r.author for r in since}))
        super().__init__(f"revision {head.number} by {who} changed {', '.join(files)} since revision {base}")


class Revisions:
    def __init__(self, engine: Engine):
        self.engine = engine

    def close(self) -> None:
        """Dispose of the engine (only for an engine opened for these revisions alone)."""
        close_writer(self.engine)
        self.engine.dispose()

    # -- reading ------------------------------------------------------------------------------------

    def published_number(self) -> int | None:
        """The published revision's number (one indexed lookup: the watcher's poll)."""
        with read_connection(self.engine) as connection:
            return connection.execute(
                select(content_revisions.c.number).where(content_revisions.c.status == PUBLISHED)
            ).scalar()

    def published(self) -> Revision | None:
        number = self.published_number()
        return None if number is None else self.get(number)

    def head_number(self) -> int | None:
        """The newest revision's number, draft or not: where editors start."""
        with read_connection(self.engine) as connection:
            return connection.execute(select(func.max(content_revisions.c.number))).scalar()

    def get(self, number: int) -> Revision:
        """Revision ``number`` with its bundle; ``NoSuchRevision`` when there is none."""
        with read_connection(self.engine) as connection:
            row = connection.execute(select(content_revisions).where(content_revisions.c.number == number)).first()
        if row is None:
            raise NoSuchRevision(f"no revision {number}")
        return _revision(row, with_bundle=True)

    def history(self, limit: int = 200) -> list[Revision]:
        """The newest ``limit`` revisions, newest first, without their files."""
        columns = [c for c in content_revisions.c if c.name != "files"]
        with read_connection(self.engine) as connection:
            rows = connection.execute(select(*columns).order_by(content_revisions.c.number.desc()).limit(limit)).all()
        return [_revision(row, with_bundle=False) for row in rows]

    # -- writing ------------------------------------------------------------------------------------

    def seed(self, bundle: Bundle, now: datetime, author: str = "files") -> Revision | None:
        """Revision 1, published, from the deployment's files, if there is no revision yet;
        None when there is (another process seeded first, or content was imported)."""
        with write_transaction(self.engine) as connection:
            if connection.execute(select(func.count()).select_from(content_revisions)).scalar():
                return None
            number = self._insert(connection, bundle, None, author, "The content files of this deployment", now, {}, PUBLISHED)
            connection.execute(update(content_revisions).where(content_revisions.c.number == number).values(published_at=now, published_by=author))
            _audit(connection, author, "content_imported", number, now)
        return self.get(number)

    def save(
        self, bundle: Bundle, base: int | None, author: str, message: str, now: datetime, *, overwrite: bool = False,
    ) -> Revision:
        """A new draft revision holding ``bundle`` as edited from revision ``base``, merged with
        what others saved since (see the module's docstring). Saving what the newest revision
        already holds makes no revision and returns that one. Raises ``Conflict``."""
        message = (message or "").strip()[:MAX_MESSAGE] or "(no message)"
        with write_transaction(self.engine) as connection:
            head_number = connection.execute(select(func.max(content_revisions.c.number))).scalar()
            head = _revision(connection.execute(select(content_revisions).where(content_revisions.c.number == head_number)).first(), True) if head_number else None
            merged = bundle
            if head is not None and base != head.number:
                start = self._bundle(connection, base) if base is not None else Bundle()
                mine = start.changed_files(bundle)
                theirs = start.changed_files(head.bundle)
                both = sorted(set(mine) & set(theirs))
                if both and not overwrite:
                    since = [
                        _revision(r, False) for r in connection.execute(
                            select(*[c for c in content_revisions.c if c.name != "files"])
                            .where(content_revisions.c.number > (base or 0)).order_by(content_revisions.c.number)
                        ).all()
                    ]
                    raise Conflict(base, head, since, both)
                merged = head.bundle.replacing(mine)
            if head is not None and merged.digest() == head.digest:
                return head
            changed = tags(compare(head.bundle if head else Bundle(), merged))
            number = self._insert(connection, merged, head.number if head else None, author, message, now, changed, DRAFT)
            _audit(connection, author, "content_saved", number, now)
        return self.get(number)

    def publish(self, number: int, author: str, now: datetime, action: str = "content_published") -> Revision:
        """Make ``number`` the published revision (the one before is archived). The caller has
        checked it (``bot.content.studio.Studio.publish``)."""
        with write_transaction(self.engine) as connection:
            if connection.execute(select(content_revisions.c.number).where(content_revisions.c.number == number)).first() is None:
                raise NoSuchRevision(f"no revision {number}")
            connection.execute(
                update(content_revisions).where(content_revisions.c.status == PUBLISHED).values(status=ARCHIVED)
            )
            connection.execute(
                update(content_revisions).where(content_revisions.c.number == number)
                .values(status=PUBLISHED, published_at=now, published_by=author)
            )
            _audit(connection, author, action, number, now)
        return self.get(number)

    def _bundle(self, connection, number: int) -> Bundle:
        row = connection.execute(select(content_revisions.c.files).where(content_revisions.c.number == number)).first()
        if row is None:
            raise NoSuchRevision(f"no revision {number}")
        return _unpack(row.files)

    def _insert(self, connection, bundle: Bundle, base, author, message, now, changed: dict, status: str) -> int:
        result = connection.execute(insert(content_revisions).values(
            status=status, author=author[:254], created_at=now, message=message[:MAX_MESSAGE], base=base,
            digest=bundle.digest(), tags=json.dumps(changed, sort_keys=True), files=_pack(bundle),
        ))
        return result.inserted_primary_key[0]


def _audit(connection, actor: str, action: str, number: int, now: datetime) -> None:
    connection.execute(insert(audit_log).values(at=now, actor=actor[:254], action=action, label=f"revision {number}"))


def _pack(bundle: Bundle) -> bytes:
    return zlib.compress(json.dumps(dict(bundle.files), ensure_ascii=False).encode("utf-8"), 6)


def _unpack(blob: bytes) -> Bundle:
    return Bundle(json.loads(zlib.decompress(blob).decode("utf-8")))


def _revision(row, with_bundle: bool) -> Revision:
    return Revision(
        number=row.number, status=row.status, author=row.author, created_at=aware(row.created_at), message=row.message,
        base=row.base, digest=row.digest, tags=json.loads(row.tags), published_at=aware(row.published_at),
        published_by=row.published_by, bundle=_unpack(row.files) if with_bundle else None,
    )

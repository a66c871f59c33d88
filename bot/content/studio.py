"""The content studio's operations: check, save, publish, roll back, compare, export, import.

    studio = Studio(Revisions(engine), regions=None, clock=utc_now, live=service.content)
    studio.check(bundle)                         # [Problem, ...]: exactly what ``flows check`` says
    draft = studio.save(bundle, base=3, author="ana@example.org", message="Shorter menu")
    studio.publish(draft.number, "ana@example.org")   # Refused(problems) on any error
    studio.rollback(2, "ana@example.org")        # revision 2's files, published as a new revision

Publishing runs the same loading and inspection as ``safeharbor flows check``
(``read_content``): any error refuses it, with the ``file: path: problem`` list, and the
published revision stays what it was. A revision that publishes is served by this process at
once (``live``) and by every other within the watcher's interval (``bot.content.watch``).
Blocking: call from a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.content.bundle import Bundle
from bot.content.changes import Change, compare
from bot.content.live import LiveContent
from bot.content.loaded import Content, read_content
from bot.content.revisions import Revision, Revisions
from bot.domain.problems import Problem, errors


class Refused(Exception):
    """A publish refused: ``problems`` (errors first) say where and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in errors(problems)))


class Studio:
    def __init__(
        self, revisions: Revisions, regions: tuple[str, ...] | None, clock: Callable[[], datetime],
        live: LiveContent | None = None, reach_seconds: float = 2.0,
    ):
        self.revisions = revisions
        self.regions = regions
        self.clock = clock
        self.live = live
        self.reach_seconds = reach_seconds  # a publish reaches every process within about this (the watchers' interval)

    def load(self, bundle: Bundle) -> tuple[Content | None, list[Problem]]:
        """``bundle`` loaded and inspected as the service would serve it; errors first."""
        content, problems = read_content(bundle.root(), self.regions)
        return content, sorted(problems, key=lambda p: p.severity != "error")

    def check(self, bundle: Bundle) -> list[Problem]:
        return self.load(bundle)[1]

    def save(self, bundle: Bundle, base: int | None, author: str, message: str, overwrite: bool = False) -> Revision:
        """A draft (``Revisions.save``: raises ``Conflict``). A draft may have errors: it is
        work in progress, checked again when it is published."""
        return self.revisions.save(bundle, base, author, message, self.clock(), overwrite=overwrite)

    def publish(self, number: int, author: str, action: str = "content_published") -> Revision:
        """Check revision ``number`` and publish it; ``Refused`` with the problems on any error."""
        revision = self.revisions.get(number)
        content, problems = self.load(revision.bundle)
        if content is None or errors(problems):
            raise Refused(problems)
        published = self.revisions.publish(number, author, self.clock(), action)
        if self.live is not None:
            self.live.switch(content, number)
        return published

    def rollback(self, to: int, author: str) -> Revision:
        """Revision ``to``'s files as a new revision, published (checked like any publish)."""
        earlier = self.revisions.get(to)
        head = self.revisions.head_number()
        saved = self.revisions.save(earlier.bundle, head, author, f"Roll back to revision {to}", self.clock(), overwrite=True)
        return self.publish(saved.number, author, action="content_rolled_back")

    def import_bundle(self, bundle: Bundle, author: str, message: str, publish: bool = False) -> Revision:
        """``bundle`` (a folder in the layout, read by ``Bundle.from_directory``) as the newest
        revision, over whatever is there (the files are the truth); published if asked."""
        saved = self.revisions.save(bundle, self.revisions.head_number(), author, message, self.clock(), overwrite=True)
        return self.publish(saved.number, author) if publish and saved.status != "published" else saved

    def close(self) -> None:
        """Give back the database (the command line's studio, which opened its own)."""
        self.revisions.close()

    def diff(self, before: int, after: int) -> list[Change]:
        """What changed from revision ``before`` to revision ``after``, per step, text, language
        and resource (``bot.content.changes``)."""
        return compare(self.revisions.get(before).bundle, self.revisions.get(after).bundle)

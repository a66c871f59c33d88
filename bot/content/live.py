"""The content a process serves now, switched to a newly published revision without a restart.

    live = LiveContent(content, revision=3)
    with live.pinned():             # a turn: every lookup inside reads revision 3,
        live.text("menu.text", "es")   # even if revision 4 is published meanwhile
    live.switch(newer, revision=4)  # the watcher (``bot.content.watch``): next turns read 4

``LiveContent`` has the reading side of ``Content`` (``flows``, ``catalog``, ``directory``,
``engines``, ``engine_for``, ``text``, ``alphabet``, ``fallback_text``), so the service's parts
hold one and never learn that content can change. A turn pins the revision it starts with: a
switch in the middle of it cannot give it one step's text from one revision and the next step
from another. The switch itself is one reference assignment, atomic under the GIL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from bot.content.loaded import Content


@dataclass(frozen=True)
class Serving:
    """A revision's number (None: read from the files, no revision) and its loaded content."""

    revision: int | None
    content: Content


class LiveContent:
    def __init__(self, content: Content, revision: int | None = None):
        self._serving = Serving(revision, content)
        # Per thread and per task: each turn runs on its own thread (``SessionStore.turn``).
        self._pinned: ContextVar[Serving | None] = ContextVar(f"pinned_content_{id(self)}", default=None)

    # -- which revision -----------------------------------------------------------------------------

    @property
    def serving(self) -> Serving:
        """What this turn reads: its pinned revision inside ``pinned()``, else the newest."""
        return self._pinned.get() or self._serving

    @property
    def revision(self) -> int | None:
        return self.serving.revision

    @property
    def current(self) -> Content:
        return self.serving.content

    def switch(self, content: Content, revision: int | None) -> None:
        """Serve ``content`` (already loaded and checked) from the next turn on."""
        self._serving = Serving(revision, content)

    @contextmanager
    def pinned(self) -> Iterator[Serving]:
        """Within this block, every read sees the revision served when it began (nested blocks
        keep the outer one's)."""
        if self._pinned.get() is not None:
            yield self._pinned.get()
            return
        token = self._pinned.set(self._serving)
        try:
            yield self._serving
        finally:
            self._pinned.reset(token)

    # -- the reading side of ``Content`` ------------------------------------------------------------

    @property
    def flows(self):
        return self.current.flows

    @property
    def catalog(self):
        return self.current.catalog

    @property
    def directory(self):
        return self.current.directory

    @property
    def engines(self):
        return self.current.engines

    def engine_for(self, session):
        return self.current.engine_for(session)

    def text(self, key: str, language: str, **values) -> str:
        return self.current.text(key, language, **values)

    def alphabet(self, language: str) -> str:
        return self.current.alphabet(language)

    def fallback_text(self) -> str:
        return self.current.fallback_text()

"""The console's side of the content studio: every call its screens make, and who may make it.

    desk = ContentDesk(service)
    desk.revision(who, 3)                                   # {"revision": {...}, "files": {...}}
    desk.save(who, base=3, changes={"locales/es.yaml": text}, message="Menu, shorter")
    desk.publish(who, 4)                                    # Refused(problems) on any error

Who may do what:
- admins: everything (read, save, check, compare, publish, roll back);
- translators: read, check and compare, and save drafts that change only the files of their
  languages (``locales/CODE.yaml``, ``locales/understanding/CODE.yaml``); never publish;
- advocates: nothing of it (``NotAllowed``).
Refusals are typed (``NotAllowed``, ``Conflict``, ``Refused``, ``NoSuchRevision``,
``BundleError``), never HTTP statuses: ``bot.web.api.errors`` maps them. Every save, publish and
rollback is in the audit trail (``bot.content.revisions``). Blocking: call from a thread.
"""

from __future__ import annotations

from bot.content import Bundle, BundleError, Conflict, NoSuchRevision, Refused, Revision
from bot.content.edit import EditError, apply_edits
from bot.content.views import flow_view, resource_max_age_months, resources_view
from bot.domain.problems import Problem
from bot.handoff import NotAllowed
from bot.store.accounts import SessionUser

__all__ = ["BundleError", "Conflict", "ContentDesk", "EditError", "NoSuchRevision", "NotAllowed", "Refused", "language_files"]


def language_files(code: str) -> tuple[str, str]:
    """The files that are one language's: its locale and its understanding examples."""
    return f"locales/{code}.yaml", f"locales/understanding/{code}.yaml"


class ContentDesk:
    def __init__(self, service):
        self.service = service
        self.studio = service.studio

    @property
    def enabled(self) -> bool:
        return self.studio is not None

    # -- reading ----------------------------------------------------------------------------------

    def overview(self, who: SessionUser) -> dict:
        """The published and the newest revision, and the languages the caller may edit."""
        self._reader(who)
        revisions = self.studio.revisions
        published = revisions.published_number()
        head = revisions.head_number()
        return {
            "published": published, "head": head, "serving": self.service.content.revision,
            "may_publish": who.user.is_admin, "languages": self._languages(who),
            "reach_seconds": self.studio.reach_seconds,
        }

    def history(self, who: SessionUser, limit: int = 200) -> list[dict]:
        self._reader(who)
        return [r.summary() for r in self.studio.revisions.history(limit)]

    def revision(self, who: SessionUser, number: int) -> dict:
        """A revision's summary and every file of it (path -> text)."""
        self._reader(who)
        revision = self.studio.revisions.get(number)
        return {"revision": revision.summary(), "files": dict(revision.bundle.files)}

    def diff(self, who: SessionUser, before: int, after: int) -> list[dict]:
        self._reader(who)
        return [c.as_dict() for c in self.studio.diff(before, after)]

    def check(self, who: SessionUser, base: int | None, changes: dict[str, str | None]) -> list[dict]:
        """The problems revision ``base`` would have with ``changes`` (as a publish would
        find them), errors first; nothing is saved."""
        self._reader(who)
        return _problems(self.studio.check(self._edited(base, changes)))

    def edit(self, who: SessionUser, text: str, edits: list[dict]) -> str:
        """``text`` (one file of the caller's working copy) with the forms' ``edits`` applied,
        everything else of it kept as written (``bot.content.edit``); nothing is saved."""
        self._reader(who)
        return apply_edits(text, edits)

    def flow_view(self, who: SessionUser, base: int | None, changes: dict[str, str | None], flow: str = "main") -> dict:
        """Flow ``flow`` of the caller's working copy (revision ``base`` with ``changes``), as
        the Steps form and the diagram read it (``bot.content.views.flow_view``)."""
        self._reader(who)
        return flow_view(self._edited(base, changes), flow)

    def resources_view(self, who: SessionUser, base: int | None, changes: dict[str, str | None]) -> dict:
        """The resource directory of the caller's working copy, each entry with whether it is
        due for a re-check today (``SAFEHARBOR_RESOURCE_MAX_AGE_MONTHS``, 12 by default)."""
        self._reader(who)
        return resources_view(self._edited(base, changes), self.service.clock().date(), resource_max_age_months())

    # -- writing ----------------------------------------------------------------------------------

    def save(self, who: SessionUser, base: int | None, changes: dict[str, str | None], message: str, overwrite: bool = False) -> dict:
        """``changes`` (path -> new text; None removes the file) over revision ``base``, saved as a
        draft; ``Conflict`` when others changed the same files since ``base`` (unless
        ``overwrite``). Returns the revision and its problems."""
        self._reader(who)
        if not who.user.is_admin:
            allowed = {name for code in self._languages(who) for name in language_files(code)}
            foreign = sorted(set(changes) - allowed)
            if foreign:
                raise NotAllowed(f"a translator saves only the files of their languages, not {', '.join(foreign)}")
            if any(text is None for text in changes.values()):
                raise NotAllowed("only admins remove files")
        bundle = self._edited(base, changes)
        saved = self.studio.save(bundle, base, who.user.email, message, overwrite)
        return {"revision": saved.summary(), "problems": _problems(self.studio.check(saved.bundle))}

    def publish(self, who: SessionUser, number: int) -> dict:
        """Check revision ``number`` and publish it (admins; ``Refused`` with the problems)."""
        self._admin(who)
        return self._published(self.studio.publish(number, who.user.email))

    def rollback(self, who: SessionUser, number: int) -> dict:
        """Revision ``number``'s files published as a new revision (admins)."""
        self._admin(who)
        return self._published(self.studio.rollback(number, who.user.email))

    # -- helpers ----------------------------------------------------------------------------------

    def _published(self, revision: Revision) -> dict:
        return {"revision": revision.summary(), "reach_seconds": self.studio.reach_seconds}

    def _edited(self, base: int | None, changes: dict[str, str | None]) -> Bundle:
        start = self.studio.revisions.get(base).bundle if base is not None else Bundle()
        return start.replacing(changes)

    def _languages(self, who: SessionUser) -> list[str]:
        offered = list(self.service.content.catalog.languages)
        if who.user.is_admin:
            return offered
        return [code for code in getattr(who.user, "languages", ()) or ()]

    def _reader(self, who: SessionUser) -> None:
        if not (who.user.is_admin or who.user.role == "translator"):
            raise NotAllowed("admins and translators only")

    def _admin(self, who: SessionUser) -> None:
        if not who.user.is_admin:
            raise NotAllowed("admins only")


def _problems(problems: list[Problem]) -> list[dict]:
    return [{"where": p.where, "what": p.what, "severity": p.severity} for p in problems]

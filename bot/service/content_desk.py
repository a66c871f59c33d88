"""The console's side of the content studio: every call its screens make, and who may make it.

    desk = ContentDesk(service)
    desk.revision(who, 3)                                   # {"revision": {...}, "files": {...}}
    desk.save(who, base=3, changes={"locales/es.yaml": text}, message="Menu, shorter")
    desk.publish(who, 4)                                    # Refused(problems) on any error
    desk.translations(who, 3, {}, "es")                      # {"rows": [...], "progress": {...}}
    desk.text_check(who, "es", "Hola", key="menu.intro")     # {"encoding": "gsm7", "segments": 1, ...}

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
from bot.content.loaded import DEFAULT_FLOW
from bot.content.translations import choice_labels, progress, reviews_signed_by_others, text_check, translation_rows
from bot.flowdef import read_flows
from bot.i18n import read_catalog
from bot.content.views import flow_view, resource_max_age_months, resources_view
from bot.domain.problems import Problem
from bot.handoff import NotAllowed
from bot.service.simulator import SIMULATED, NotRunnable, Simulator
from bot.store.accounts import SessionUser

__all__ = [
    "BundleError", "Conflict", "ContentDesk", "EditError", "NoSuchRevision", "NotAllowed", "NotRunnable", "Refused", "language_files",
]


def language_files(code: str) -> tuple[str, str]:
    """The files that are one language's: its locale and its understanding examples."""
    return f"locales/{code}.yaml", f"locales/understanding/{code}.yaml"


class ContentDesk:
    def __init__(self, service):
        self.service = service
        self.studio = service.studio
        self.simulator = Simulator(self.studio.regions) if self.studio is not None else None

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
            "reach_seconds": self.studio.reach_seconds, "channels": list(SIMULATED),  # what "Try it" can show
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

    def try_it(self, who: SessionUser, base: int | None, changes: dict[str, str | None], language: str, channel: str, messages: list) -> dict:
        """The person's ``messages`` replayed on revision ``base`` with ``changes`` (the working
        copy, unsaved edits included), rendered as ``channel`` (``sms`` | ``telegram``) would
        show them, with the step and what was understood after each (``bot.service.simulator``).
        Nothing is saved, sent or logged; ``NotRunnable`` when the draft has errors."""
        self._reader(who)
        return self.simulator.run(self._edited(base, changes), language, channel, messages)

    def translations(self, who: SessionUser, base: int | None, changes: dict[str, str | None], code: str) -> dict:
        """Language ``code`` of revision ``base`` with ``changes`` (the caller's working copy)
        string by string beside the base language, with review statuses and progress
        (``bot.content.translations``). ``BundleError`` when the locales cannot be read or
        ``code`` is no translation in them."""
        self._reader(who)
        root = self._edited(base, changes).root()
        catalog, problems = read_catalog(root / "locales")
        if catalog is None:
            raise BundleError([p for p in problems if p.severity == "error"] or problems)
        own = [p for p in problems if p.severity == "error" and p.where.startswith(f"locales/{code}.yaml")]
        if own:
            raise BundleError(own)
        if code not in catalog.locales or code == catalog.default:
            raise BundleError([Problem(f"locales/{code}.yaml", f"no translation {code!r} here (the base language is {catalog.default!r})")])
        flows, _ = read_flows(root / "flows")
        rows = translation_rows(catalog, code, choice_labels(flows.values()))
        return {
            "language": code, "name": catalog.locales[code].name, "base_language": catalog.default,
            "base_name": catalog.locales[catalog.default].name, "rows": rows, "progress": progress(rows),
        }

    def text_check(self, who: SessionUser, code: str, text: str, key: str | None = None, base_text: str | None = None) -> dict:
        """The live checks of ``text`` in ``code`` against the content this process serves (its
        reveal words, SMS alphabet, flow values): see ``bot.content.translations.text_check``.
        ``base_text`` defaults to the served base-language text of ``key``."""
        self._reader(who)
        content = self.service.content
        catalog = content.catalog
        if code not in catalog.locales:
            raise BundleError([Problem(f"locales/{code}.yaml", f"no language {code!r} is served")])
        if base_text is None and key is not None:
            value = catalog.locales[catalog.default].text.get(key)
            base_text = value if isinstance(value, str) else None
        flows = content.flows
        flow_vars = {name: value for flow in flows.values() for name, value in flow.vars.items()}
        if DEFAULT_FLOW in flows:
            flow_vars.update(flows[DEFAULT_FLOW].vars)
        return text_check(catalog, flow_vars, code, text, base_text)

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
        ``overwrite``). A review entry the changes add or change must name the caller as ``by``
        (``NotAllowed`` otherwise). Returns the revision and its problems."""
        self._reader(who)
        if not who.user.is_admin:
            allowed = {name for code in self._languages(who) for name in language_files(code)}
            foreign = sorted(set(changes) - allowed)
            if foreign:
                raise NotAllowed(f"a translator saves only the files of their languages, not {', '.join(foreign)}")
            if any(text is None for text in changes.values()):
                raise NotAllowed("only admins remove files")
        start = self.studio.revisions.get(base).bundle if base is not None else Bundle()
        for path, text in changes.items():
            signed = reviews_signed_by_others(start.files.get(path), text, who.user.email) if text and path.startswith("locales/") else []
            if signed:
                raise NotAllowed(f"{path}: reviews are signed by whoever saves them; {', '.join(signed[:5])} name someone else")
        bundle = start.replacing(changes)
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
        return list(who.user.languages)

    def _reader(self, who: SessionUser) -> None:
        if not (who.user.is_admin or who.user.role == "translator"):
            raise NotAllowed("admins and translators only")

    def _admin(self, who: SessionUser) -> None:
        if not who.user.is_admin:
            raise NotAllowed("admins only")


def _problems(problems: list[Problem]) -> list[dict]:
    return [{"where": p.where, "what": p.what, "severity": p.severity} for p in problems]

"""The one orchestrator: a message in, replies out, state saved, nothing leaked.

    service = Service.from_settings(Settings.from_env())
    replies = service.handle(Inbound(Channel.SMS, "+15551234567", "hola"))

Per message: pseudonym of the address -> lock that person's conversation -> load and decrypt ->
``Engine.resume`` (pure) -> save encrypted, or erase -> commit -> replies. If anything fails, the
transaction rolls back and the person still gets a static message with the 24/7 line: they
never see an error, and the logs get the kind of failure, never an address or a message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from bot.config import Settings
from bot.domain.messages import Inbound, Outbound
from bot.domain.problems import ContentInvalid, Problem, errors
from bot.engine import Engine, Turn
from bot.flowdef import Flow, inspect, read_flows
from bot.i18n import Catalog, read_catalog
from bot.store import Directory, KeyRing, Pseudonyms, SessionStore, open_database, read_directory

log = logging.getLogger("safeharbor.service")

DEFAULT_FLOW = "main"

# Sent when a turn fails: bilingual, neutral first lines, the 24/7 alternatives (DESIGN rule 6).
# Plain text rather than the catalog, so it still goes out when the failure is in the content.
FALLBACK_TEXT = (
    "Sorry, something went wrong. / Lo siento, hubo un error.\n"
    "Please try again. / Intenta de nuevo.\n"
    "24/7: {hotline_phone}, text/texto {hotline_text}. {emergency_number}."
)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Content:
    """Flows, translations and the directory, loaded and checked together."""

    flows: dict[str, Flow]
    catalog: Catalog
    directory: Directory
    engines: dict[str, Engine]


def read_content(settings_or_dir: Settings | Path, regions: tuple[str, ...] | None = None) -> tuple[Content | None, list[Problem]]:
    """Load and inspect everything; ``(None, problems)`` when it cannot run. ``regions`` limits
    the resource directory (with settings, their ``SAFEHARBOR_REGIONS``)."""
    if isinstance(settings_or_dir, Settings):
        root, regions = settings_or_dir.content_dir, settings_or_dir.regions
    else:
        root = settings_or_dir
    catalog, problems = read_catalog(root / "locales")
    flows, found = read_flows(root / "flows")
    problems += found
    directory, found = read_directory(root / "flows" / "resources", regions=regions)
    problems += found
    if catalog is None or errors(problems):
        return None, problems
    engines = {}
    for name, flow in flows.items():
        engine = Engine(flow, catalog, directory)
        problems += inspect(flow, catalog, engine.preview)
        engines[name] = engine
    if DEFAULT_FLOW not in engines:
        problems.append(Problem("flows", f"there is no {DEFAULT_FLOW!r} flow"))
    if errors(problems):
        return None, problems
    return Content(flows, catalog, directory, engines), problems


def load_content(settings_or_dir: Settings | Path) -> Content:
    content, problems = read_content(settings_or_dir)
    if content is None:
        raise ContentInvalid(errors(problems))
    return content


def open_store(settings: Settings) -> SessionStore:
    """The encrypted session store the settings name (also for ``keys rotate``)."""
    return SessionStore(open_database(settings.database_url), KeyRing(list(settings.encryption_keys)))


class ConversationStore(Protocol):
    """``SessionStore`` and ``MemorySessionStore`` both fit."""

    def conversation(self, pseudonym: str, now: datetime): ...

    def purge_expired(self, now: datetime) -> int: ...


class Service:
    def __init__(
        self,
        content: Content,
        store: ConversationStore,
        pseudonyms: Pseudonyms,
        clock: Callable[[], datetime] = utc_now,
    ):
        self.content = content
        self.store = store
        self.pseudonyms = pseudonyms
        self.clock = clock
        self.fallback = Outbound(FALLBACK_TEXT.format_map(content.engines[DEFAULT_FLOW].flow.vars))

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], datetime] = utc_now) -> Service:
        return cls(load_content(settings), open_store(settings), Pseudonyms(settings.pepper), clock)

    def handle(self, inbound: Inbound) -> list[Outbound]:
        """Replies to ``inbound``, in order. Never raises for anything a person can send."""
        try:
            turn = self.run_turn(inbound)
        except Exception as exc:  # noqa: BLE001 - the person must get an answer whatever failed
            # Only the kind of failure: an exception's message could quote stored or typed text.
            log.error("turn failed: %s", type(exc).__name__)
            return [self.fallback]
        return list(turn.outputs)

    def run_turn(self, inbound: Inbound) -> Turn:
        """One turn, committed; raises when it cannot be completed (nothing is then saved)."""
        pseudonym = self.pseudonyms.of(inbound.channel.value, inbound.address)
        now = self.clock()
        with self.store.conversation(pseudonym, now) as held:
            session = held.session
            engine = self.content.engines.get(session.flow if session else DEFAULT_FLOW) or self.content.engines[DEFAULT_FLOW]
            turn = engine.resume(session, inbound, now)
            if turn.session is None or turn.restarted:
                held.erase()  # nothing may be kept, or a new conversation: new key, old one shredded
            if turn.session is not None:
                held.save(turn.session, now + engine.flow.idle_timeout)
        # DEBUG only: which pages someone read, with a timestamp, could be matched against a
        # provider's delivery logs that hold their number.
        log.debug(
            "turn: %s -> %s%s",
            session.state if session else "(new)",
            turn.session.state if turn.session else "(nothing kept)",
            "".join(f" {event.name}" for event in turn.events),
        )
        return turn

    def purge_expired(self) -> int:
        return self.store.purge_expired(self.clock())

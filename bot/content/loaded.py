"""What the service says: flows, translations and the resource directory, loaded and checked
together (``read_content``) from a folder in the ``flows/`` + ``locales/`` layout or from a
revision's bundle (``Bundle.root()``), and the few texts the service itself looks up in them."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from bot.domain.problems import ContentInvalid, Problem, errors
from bot.engine import Engine
from bot.flowdef import Flow, inspect, plain_message_problems, read_flows
from bot.i18n import Catalog, read_catalog
from bot.content.bundle import BundlePath
from bot.store import Directory, read_directory

DEFAULT_FLOW = "main"

# Sent when a turn fails: bilingual, neutral first lines, the 24/7 alternatives (DESIGN rule 6)
# after them, beyond what a lock screen shows (read_content checks it as every message is).
# Plain text rather than the catalog, so it still goes out when the failure is in the content.
FALLBACK_TEXT = (
    "Sorry, something went wrong on our side. / Lo siento, hubo un error de nuestro lado.\n"
    "Please write again in a few minutes. / Escribe de nuevo en unos minutos.\n"
    "If you need to talk to someone now / Si necesitas hablar con alguien ahora:\n"
    "24/7: {hotline_phone}, text/texto {hotline_text}. {emergency_number}."
)
FALLBACK_NEEDS = {"hotline_phone", "hotline_text", "emergency_number"}  # the flow's vars it names


@dataclass(frozen=True)
class Content:
    """Flows, translations and the directory, loaded and checked together."""

    flows: dict[str, Flow]
    catalog: Catalog
    directory: Directory
    engines: dict[str, Engine]

    def engine_for(self, session) -> Engine:
        """The engine of ``session``'s flow (the default flow's for a new conversation, or a flow
        no longer served)."""
        return self.engines.get(session.flow if session else DEFAULT_FLOW) or self.engines[DEFAULT_FLOW]

    def text(self, key: str, language: str, **values) -> str:
        """Locale text ``key`` in ``language``, with the default flow's variables filled in."""
        flow_vars = self.engines[DEFAULT_FLOW].flow.vars
        return self.catalog.text(key, language, **{**flow_vars, **values})

    def alphabet(self, language: str) -> str:
        """The SMS alphabet of ``language`` (``gsm7`` or ``ucs2``)."""
        return self.catalog.locales[language].sms_alphabet

    def fallback_text(self) -> str:
        """``FALLBACK_TEXT`` with the default flow's hotline and emergency number."""
        return FALLBACK_TEXT.format_map(self.engines[DEFAULT_FLOW].flow.vars)


# The last few bundles loaded in this process, by digest: a bundle is immutable, so loading the
# same one again (a process seeding revision 1 from files another already loaded, a publish of the
# revision just checked, a check of a draft with no changes) takes its earlier result. Two, so a
# process keeps at most the revision it serves and the one being edited (memory, not speed,
# bounds it: a loaded Content is a few MB).
_LOADED: OrderedDict[tuple, tuple[Content | None, tuple[Problem, ...]]] = OrderedDict()
_LOADED_MAX = 2
_LOADED_LOCK = threading.Lock()
_LOADING: dict[tuple, threading.Lock] = {}


def read_content(
    root: Path | BundlePath, regions: tuple[str, ...] | None = None, *, inspected: bool = True,
) -> tuple[Content | None, list[Problem]]:
    """Load and inspect everything under ``root`` (a folder, or a bundle's ``root()``);
    ``(None, problems)`` when it cannot run. ``regions`` limits the resource directory.

    ``inspected=False`` skips the inspection (``flowdef.inspect``: reachability, texts, lock
    screen, safety words; about 40 % of the time) and keeps the reading's own checks (schemas,
    references): for a revision already inspected when it was published, which a process
    switches to (``bot.content.watch``)."""
    if not isinstance(root, BundlePath):  # a folder may change under us: always read
        return _read_content(root, regions, inspected)
    key = (root.bundle.digest(), str(root), regions, inspected)
    # an inspected load serves one that need not be inspected too (its problems only add warnings)
    seen = (key,) if inspected else (key, key[:3] + (True,))
    with _LOADED_LOCK:
        for known in seen:
            if known in _LOADED:
                _LOADED.move_to_end(known)
                content, problems = _LOADED[known]
                return content, list(problems)
        gate = _LOADING.setdefault(key, threading.Lock())
    with gate:  # two loads of one bundle at once (two checks of one draft) load it once
        with _LOADED_LOCK:
            if key in _LOADED:
                content, problems = _LOADED[key]
                return content, list(problems)
        content, problems = _read_content(root, regions, inspected)
        with _LOADED_LOCK:
            _LOADED[key] = (content, tuple(problems))
            while len(_LOADED) > _LOADED_MAX:
                _LOADED.popitem(last=False)
            _LOADING.pop(key, None)
    return content, problems


def _read_content(root: Path | BundlePath, regions: tuple[str, ...] | None, inspected: bool) -> tuple[Content | None, list[Problem]]:
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
        engines[name] = engine
        if not inspected:
            continue
        problems += inspect(flow, catalog, engine.preview, _understand(engine))
        missing = sorted(FALLBACK_NEEDS - set(flow.vars))
        if missing:
            problems.append(Problem(f"{flow.file}: vars", f"the message sent when a turn fails needs {', '.join(missing)}"))
            continue
        problems += plain_message_problems(f"{__name__}: FALLBACK_TEXT ({name})", FALLBACK_TEXT.format_map(flow.vars), flow, catalog)
    if DEFAULT_FLOW not in engines:
        problems.append(Problem(f"{root / 'flows'}: flow", f"no file says `flow: {DEFAULT_FLOW}`; the service starts every conversation there"))
    if errors(problems):
        return None, problems
    return Content(flows, catalog, directory, engines), problems


def _understand(engine: Engine):
    """What ``engine`` answers a message with before anything else, in every state (for
    ``inspect``'s check that the quick exit and crises are understood in every language)."""
    return lambda text, language: engine.understander.first(text, language).intent


def load_content(root: Path | BundlePath, regions: tuple[str, ...] | None = None) -> Content:
    """``read_content``, raising ``ContentInvalid`` with the errors when it cannot run."""
    content, problems = read_content(root, regions)
    if content is None:
        raise ContentInvalid(errors(problems))
    return content

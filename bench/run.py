"""Benchmarks of a conversation turn and of loading the content (see bench/README.md).

    .venv/bin/python bench/run.py              # all three, ~1 minute
    .venv/bin/python bench/run.py --quick      # a short run (smoke check of the numbers)
    .venv/bin/python bench/run.py --profile    # also cProfile the turns: top costs by tottime
    .venv/bin/python bench/run.py --only engine,service

Figures are medians of per-call times (``time.perf_counter_ns``) after a warm-up. Targets are
reported, never enforced: the exit status does not depend on them. Results go to
``bench/results/latest.json`` (git-ignored). Nothing is written into the repository otherwise:
the database and keys live in a temporary directory.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import random
import sqlite3
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere, even without the editable install
    sys.path.insert(0, str(ROOT))

from bot.config import Settings, generate_keys  # noqa: E402
from bot.domain.messages import Channel, Inbound  # noqa: E402
from bot.engine import Engine, Session  # noqa: E402
from bot.engine.session import unix  # noqa: E402
from bot.flowdef.model import Step  # noqa: E402
from bot.service import Service, read_content  # noqa: E402
from bot.store import MemorySessionStore, Pseudonyms  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SEED = 2026
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)  # the fixed clock of engine turns
US, MS, S = 1_000, 1_000_000, 1_000_000_000


# -- measurement -----------------------------------------------------------------------------


@dataclass
class Result:
    key: str
    name: str
    samples: list[int]  # nanoseconds, one per timed call
    target_ns: int | None
    detail: dict = field(default_factory=dict)
    by_kind: dict[str, list[int]] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def pct(self, p: float) -> int:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]

    @property
    def met(self) -> bool | None:
        return None if self.target_ns is None else self.median < self.target_ns

    def as_json(self) -> dict:
        return {
            "key": self.key,
            "name": self.name,
            "iterations": len(self.samples),
            "median_ns": self.median,
            "p90_ns": self.pct(90),
            "p99_ns": self.pct(99),
            "min_ns": min(self.samples),
            "max_ns": max(self.samples),
            "mean_ns": statistics.fmean(self.samples),
            "target_ns": self.target_ns,
            "met": self.met,
            "by_kind": {
                kind: {"count": len(v), "median_ns": statistics.median(v), "p90_ns": _pct(v, 90)}
                for kind, v in sorted(self.by_kind.items())
            },
            **self.detail,
        }


def _pct(values: list[int], p: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def fmt(ns: float | None) -> str:
    if ns is None:
        return "-"
    if ns >= S:
        return f"{ns / S:.2f} s"
    if ns >= MS:
        return f"{ns / MS:.3g} ms" if ns < 100 * MS else f"{ns / MS:.0f} ms"
    return f"{ns / US:.1f} µs"


def timed_calls(calls: Iterable[tuple[str, Callable[[], object]]], record: Result, check=None) -> None:
    """Time each call separately; ``check(result)`` may reject a result (outside the timing)."""
    clock = time.perf_counter_ns
    for kind, call in calls:
        start = clock()
        out = call()
        elapsed = clock() - start
        record.samples.append(elapsed)
        record.by_kind.setdefault(kind, []).append(elapsed)
        if check is not None:
            check(out)


def progress(message: str) -> None:
    print(message, flush=True)


# -- the inbound mix -----------------------------------------------------------------------------

NONSENSE = [
    "asdf", "??", "ok thanks", "lol", "hello?", "what", "k", "👍", "🙏🙏", "...", "9", "0", "42",
    "I don't understand", "no entiendo nada", "who is this", "quién eres", "thx", "wait", "hmm",
    "can you call me", "tengo miedo de que lea mis mensajes",
    "I came here two years ago for a job at a restaurant and they keep my passport and say I owe "
    "them money for the trip and the room, I work every day and they pay me almost nothing, "
    "I do not know who to ask about this or if it is normal here, sorry for the long message",
]
GREETINGS = ["hi", "Hola", "hello", "hola, necesito ayuda", "Hi, I got this number from a friend", "buenas", "?"]
EMERGENCY_SENTENCES = [
    "he said he will hurt me, help me", "911", "I am in danger", "estoy en peligro",
    "ayúdame por favor", "emergency",
]


def words_for(engine: Engine, key: str | None, language: str) -> list[str]:
    if not key:
        return []
    return list(engine.catalog.words(key).get(language, ()))


def command_words(engine: Engine, language: str) -> list[str]:
    words = []
    for command in engine.flow.commands:
        if not command.contains:
            words += words_for(engine, command.match, language)
    return words


def variants(word: str, rng: random.Random) -> str:
    """How people type a word: as is, capitalized, shouted, with a trailing mark."""
    return rng.choice([word, word, word.capitalize(), word.upper(), f"{word}!", f"{word} please", f" {word}."])


def engine_mix(engine: Engine, count: int, rng: random.Random) -> list[tuple[str, Session | None, Inbound]]:
    """``count`` (kind, session, inbound) cases over every step a conversation can rest on.

    Kinds and shares: number 35 %, word 30 % (labels, match words, free text with a route
    keyword), command 15 % (menu, help, language, exit, emergency phrases), nonsense 15 %
    (including out-of-range numbers and a long paragraph), first contact 5 % (no session, or one
    idle past the timeout).
    """
    flow = engine.flow
    resting = [s for s in flow.steps.values() if s.choices]  # a stored session is always at one
    languages = list(engine.catalog.languages)
    kinds = ["number"] * 35 + ["word"] * 30 + ["command"] * 15 + ["nonsense"] * 15 + ["first"] * 5
    cases = []
    for _ in range(count):
        kind = rng.choice(kinds)
        step: Step = rng.choice(resting)
        language = rng.choice(languages)
        session = Session(
            flow=flow.name,
            state=step.id,
            language=language,
            last_active=unix(NOW) - rng.randint(5, 1800),
            language_chosen=step.id != flow.start,
            return_to=rng.choice([None, None, flow.menu, "find_help", "rights"]) if step.id in ("help", "change_language") else None,
            urgent=rng.random() < 0.1,
        )
        if kind == "number":
            text = str(rng.randint(1, len(step.choices)))
            text = rng.choice([text, text, text, f"{text} ", f"{text}.", f"{text} please"])
        elif kind == "word":
            choice = rng.choice(step.choices)
            pool = [engine.catalog.text(choice.label, language)] + words_for(engine, choice.match, language)
            for route in step.routes:
                pool += [f"I need a {w}" if language == "en" else f"necesito {w}" for w in words_for(engine, route.match, language)]
            text = variants(rng.choice(pool), rng)
        elif kind == "command":
            text = rng.choice(EMERGENCY_SENTENCES) if rng.random() < 0.25 else variants(rng.choice(command_words(engine, language)), rng)
        elif kind == "nonsense":
            text = rng.choice(NONSENSE)
        else:
            text = rng.choice(GREETINGS)
            if rng.random() < 0.5:
                session = None
            else:
                session = replace(session, last_active=unix(NOW - flow.idle_timeout) - 60)
        hint = rng.choice([None, None, None, "es-MX", "en"])
        cases.append((kind, session, Inbound(Channel.SMS, "+15550000000", text, language_hint=hint)))
    return cases


# -- benchmark 1: engine turn ----------------------------------------------------------------


def bench_engine(engine: Engine, warmup: int, iterations: int) -> Result:
    rng = random.Random(SEED)
    cases = engine_mix(engine, iterations, rng)
    for _kind, session, inbound in engine_mix(engine, warmup, random.Random(SEED + 1)):
        engine.resume(session, inbound, NOW)
    result = Result("engine_turn", "engine turn (Engine.resume, no I/O)", [], 150 * US)
    gc.collect()

    def check(turn) -> None:
        if not turn.outputs:
            raise AssertionError("a turn without a reply")

    timed_calls(((kind, (lambda s=s, i=i: engine.resume(s, i, NOW))) for kind, s, i in cases), result, check)
    result.detail["mix"] = {k: len(v) for k, v in sorted(result.by_kind.items())}
    return result


def profile_calls(calls: list[Callable[[], object]], name: str, top: int = 15) -> tuple[str, list[dict]]:
    """cProfile ``calls`` (already warmed up); the stats go to ``bench/results/<name>.pstats``."""
    profiler = cProfile.Profile()
    profiler.enable()
    for call in calls:
        call()
    profiler.disable()
    RESULTS.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(RESULTS / f"{name}.pstats")
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer).sort_stats("tottime")
    stats.print_stats(top)
    rows = []
    for (filename, line, function), (_cc, nc, tt, ct, _callers) in sorted(
        stats.stats.items(), key=lambda item: item[1][2], reverse=True
    )[:top]:
        rows.append({
            "function": f"{_short(filename)}:{line}({function})",
            "calls": nc,
            "tottime_s": tt,
            "cumtime_s": ct,
            "tottime_per_turn_us": tt / len(calls) * 1e6,
        })
    text = "\n".join(
        f"{row['tottime_per_turn_us']:8.2f} µs/turn  {row['calls'] / len(calls):6.2f} calls/turn  {row['function']}"
        for row in rows
    )
    return text, rows


def profile_engine(engine: Engine, iterations: int) -> tuple[str, list[dict]]:
    cases = engine_mix(engine, iterations, random.Random(SEED))
    for _kind, session, inbound in cases[:500]:
        engine.resume(session, inbound, NOW)
    return profile_calls([lambda s=s, i=i: engine.resume(s, i, NOW) for _k, s, i in cases], "engine_turn")


def _short(filename: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/", sysconfig.get_paths()["stdlib"] + "/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# -- benchmark 2: full turn with SQLite --------------------------------------------------------

# Journeys as people would write them; each conversation follows one, with noise mixed in.
JOURNEYS = [
    ["hi", "1", "1", "2", "1", "1", "2", "3"],  # English, find help: legal, other, shelter, menu
    ["hola", "2", "si", "3", "2", "1", "4", "menú", "salir"],  # Spanish, rights, then quick exit
    ["help me", "1", "yes", "1"],  # emergency first, then a person
    ["hello", "english", "yes", "I need a lawyer", "other", "place to stay", "main menu", "EXIT"],
    ["hi", "1", "1", "5", "1", "1", "2", "menu"],  # safety tips
    ["hola", "2", "2"],  # not safe now: the conversation ends, nothing kept
    ["hi", "1", "1", "language", "2", "ayuda", "1", "7", "1"],  # language change, help, back
    ["hi", "asdf", "1", "??", "1", "what?", "4", "1"],  # nonsense on the way
    ["Hola, me dio este número una amiga", "2", "sí", "6", "1", "menu", "3", "5", "1"],
    ["hi", "1", "1", "2", "3", "ok", "1", "menu", "4", "2"],  # medical; "ok" is no choice there
]
EXIT_WORDS = {"exit", "salir"}


def service_settings(home: Path) -> Settings:
    return Settings.from_env({
        **generate_keys(),
        "SAFEHARBOR_ENV": "test",
        "SAFEHARBOR_HOME": str(home),
        "DATABASE_URL": f"sqlite:///{(home / 'bench.db').as_posix()}",
        "SAFEHARBOR_CONTENT_DIR": str(ROOT),
    })


class Clock:
    """A clock that advances ``step`` per call (sessions stay within the idle timeout)."""

    def __init__(self, start: datetime, step: timedelta):
        self.now, self.step = start, step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


class Traffic:
    """Interleaved conversations: a pool of active ones, each following a journey; when one
    finishes, a new address starts. Yields (kind, inbound); kind is new, continue or exit."""

    def __init__(self, rng: random.Random, active: int, prefix: str):
        self.rng, self.prefix, self.serial = rng, prefix, 0
        self.active: list[list] = [self._start() for _ in range(active)]

    def _start(self) -> list:
        self.serial += 1
        address = f"+1555{self.prefix}{self.serial:07d}"
        channel = Channel.TELEGRAM if self.serial % 5 == 0 else Channel.SMS
        script = list(self.rng.choice(JOURNEYS))
        if self.rng.random() < 0.3:  # noise: a stray message somewhere in the middle
            script.insert(self.rng.randint(1, len(script)), self.rng.choice(NONSENSE))
        hint = "es" if channel is Channel.TELEGRAM and self.rng.random() < 0.5 else None  # Telegram's language_code
        return [channel, address, script, 0, hint]

    def next(self) -> tuple[str, Inbound]:
        slot = self.rng.randrange(len(self.active))
        channel, address, script, position, hint = conversation = self.active[slot]
        text = script[position]
        kind = "new" if position == 0 else ("exit" if text.strip().lower() in EXIT_WORDS else "continue")
        conversation[3] += 1
        if conversation[3] >= len(script):
            self.active[slot] = self._start()
        return kind, Inbound(channel, address, text, language_hint=hint)


def bench_service(iterations: int, warmup: int, existing: int, memory: bool = False, profile: list | None = None) -> Result:
    """Time ``Service.handle``; with ``profile`` (a list), then also cProfile as many more turns
    and append ``(text, rows)`` to it."""
    with tempfile.TemporaryDirectory(prefix="safeharbor-bench-") as tmp:
        settings = service_settings(Path(tmp))
        service = bench_service_under_test(settings, memory)
        # A database that already holds many conversations (people who wrote once, earlier).
        for n in range(existing):
            service.handle(Inbound(Channel.SMS, f"+1444{n:07d}", "hi"))
        traffic = Traffic(random.Random(SEED), active=300, prefix="7")
        for _ in range(warmup):
            service.handle(traffic.next()[1])
        failures = []

        def check(replies) -> None:
            if not replies or replies[0] == service.fallback:
                failures.append(1)

        name = "service turn, in-memory store (no SQL, no crypto)" if memory else "full turn (Service.handle, SQLite)"
        result = Result("service_turn_memory" if memory else "full_turn_sqlite", name, [], None if memory else 1 * MS)
        planned = [traffic.next() for _ in range(iterations)]
        gc.collect()
        timed_calls(((kind, (lambda i=inbound: service.handle(i))) for kind, inbound in planned), result, check)
        if failures:
            raise SystemExit(f"{name}: {len(failures)} turns failed (the fallback reply); the figures would mean nothing")
        if profile is not None:
            more = [traffic.next()[1] for _ in range(iterations)]
            profile.append(profile_calls([lambda i=i: service.handle(i) for i in more], result.key))
        store = service.store
        result.detail.update({
            "conversations_in_store_after": store.count(),
            "distinct_addresses_timed": len({inbound.address for _, inbound in planned}),
            "prepopulated_conversations": existing,
        })
        if not memory:
            result.detail["database_bytes"] = database_bytes(Path(tmp) / "bench.db")
            service.store.engine.dispose()
        return result


def bench_service_under_test(settings: Settings, memory: bool) -> Service:
    """The service on SQLite (as deployed), or with ``MemorySessionStore`` (no SQL, no crypto)."""
    clock = Clock(NOW, timedelta(milliseconds=100))
    if memory:
        content = Service.from_settings(settings, clock=clock).content
        return Service(content, MemorySessionStore(), Pseudonyms(settings.pepper), clock)
    return Service.from_settings(settings, clock=clock)


def database_bytes(db: Path) -> int:
    """The SQLite file and its journals (``-wal``, ``-shm``)."""
    return db.stat().st_size + sum(p.stat().st_size for p in db.parent.glob(db.name + "-*"))


# -- benchmark 3: loading and checking the content ------------------------------------------------

CHILD = """
import json, sys, time
t0 = time.perf_counter_ns()
from pathlib import Path
from bot.service import read_content
t1 = time.perf_counter_ns()
content, problems = read_content(Path(sys.argv[1]))
t2 = time.perf_counter_ns()
print(json.dumps({"import_ns": t1 - t0, "read_ns": t2 - t1, "ok": content is not None, "problems": len(problems)}))
"""


def bench_content_in_process(iterations: int) -> Result:
    content, problems = read_content(ROOT)  # warm-up, and a sanity check
    if content is None:
        raise SystemExit(f"the content does not load: {problems}")
    result = Result("content_load", "content load + inspect (read_content, in process)", [], 1 * S)
    gc.collect()
    timed_calls((("load", lambda: read_content(ROOT)) for _ in range(iterations)), result)
    result.detail.update({
        "flows": len(content.flows),
        "steps": sum(len(f.steps) for f in content.flows.values()),
        "languages": list(content.catalog.languages),
        "problems": len(problems),
    })
    return result


def bench_content_fresh(iterations: int) -> Result:
    result = Result(
        "content_load_fresh_process",
        "content load, fresh process (start-up + imports + read_content)",
        [],
        1 * S,
    )
    imports, reads = [], []
    with tempfile.TemporaryDirectory(prefix="safeharbor-bench-") as tmp:
        command = [sys.executable, "-c", CHILD, str(ROOT)]
        subprocess.run(command, cwd=tmp, check=True, capture_output=True)  # warm the page cache
        for _ in range(iterations):
            start = time.perf_counter_ns()
            done = subprocess.run(command, cwd=tmp, check=True, capture_output=True, text=True)
            result.samples.append(time.perf_counter_ns() - start)
            child = json.loads(done.stdout.strip().splitlines()[-1])
            if not child["ok"]:
                raise SystemExit("the content does not load in a fresh process")
            imports.append(child["import_ns"])
            reads.append(child["read_ns"])
    result.by_kind = {"imports (in child)": imports, "read_content (in child)": reads}
    result.detail["child_import_plus_read_median_ns"] = statistics.median(i + r for i, r in zip(imports, reads))
    return result


# -- the machine -------------------------------------------------------------------------------


def _proc_file(path: str) -> str:
    """A file of /proc ("" where there is none: not Linux)."""
    return Path(path).read_text() if Path(path).exists() else ""


def _os_name() -> str:
    os_name = platform.platform()
    release = Path("/etc/os-release")
    if release.exists():
        for line in release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = f"{line.split('=', 1)[1].strip(chr(34))} ({platform.system()} {platform.release()})"
    return os_name


def _usable_cores() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def _package_versions() -> dict[str, str | None]:
    versions = {}
    for package in ("SQLAlchemy", "cryptography", "transitions", "PyYAML", "jsonschema", "Babel"):
        try:
            versions[package] = importlib_metadata.version(package)
        except importlib_metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def machine() -> dict:
    cpuinfo = _proc_file("/proc/cpuinfo")
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    mhz = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("cpu MHz")]
    meminfo = _proc_file("/proc/meminfo")
    mem_kb = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal:")), None)
    os_name = _os_name()
    usable = _usable_cores()
    versions = _package_versions()
    return {
        "cpu_model": models[0] if models else platform.processor() or "unknown",
        "cpu_mhz": mhz[0] if mhz else None,
        "cores_logical": os.cpu_count(),
        "cores_usable": usable,
        "memory_gib": round(mem_kb / 1024**2, 1) if mem_kb else None,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "sqlite": sqlite3.sqlite_version,
        "os": os_name,
        "packages": versions,
        "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


# -- main ---------------------------------------------------------------------------------------


def table(results: list[Result]) -> str:
    header = ("benchmark", "median", "p90", "p99", "iterations", "target", "met?")
    rows = [header]
    for r in results:
        met = "-" if r.met is None else ("yes" if r.met else "NO")
        rows.append((r.name, fmt(r.median), fmt(r.pct(90)), fmt(r.pct(99)), str(len(r.samples)), fmt(r.target_ns), met))
    return text_table(rows)


def text_table(rows: list[tuple[str, ...]]) -> str:
    """Rows of cells as aligned text: the first row is the header, the first column left-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run: fewer iterations")
    parser.add_argument("--profile", action="store_true", help="also cProfile the engine and full turns; print the top costs by tottime")
    parser.add_argument("--only", default="engine,service,content", help="comma-separated: engine,service,content")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    return parser.parse_args(argv)


def run_benchmarks(only: set[str], n: dict, engine: Engine) -> list[Result]:
    """The benchmarks ``only`` names, in order, each announced as it finishes."""
    results: list[Result] = []
    total = len(only & {"engine", "service", "content"}) + ("service" in only) + ("content" in only)

    def announce(r: Result) -> None:
        results.append(r)
        kinds = ", ".join(f"{k} {fmt(statistics.median(v))}" for k, v in sorted(r.by_kind.items()) if len(r.by_kind) > 1)
        progress(f"[{len(results)}/{total}] {r.name}: median {fmt(r.median)} over {len(r.samples)}" + (f" ({kinds})" if kinds else ""))

    if "engine" in only:
        warmup, iterations = n["engine"]
        announce(bench_engine(engine, warmup, iterations))
    if "service" in only:
        warmup, iterations, existing = n["service"]
        announce(bench_service(iterations, warmup, existing))
        announce(bench_service(iterations, warmup, existing, memory=True))
    if "content" in only:
        in_process, fresh = n["content"]
        announce(bench_content_in_process(in_process))
        announce(bench_content_fresh(fresh))
    return results


def ratios_of(results: list[Result]) -> dict[str, float]:
    """How the turns compare, for those of them that ran."""
    by_key = {r.key: r for r in results}
    ratios = {}
    if "engine_turn" in by_key and "full_turn_sqlite" in by_key:
        ratios["full_turn_over_engine_turn"] = by_key["full_turn_sqlite"].median / by_key["engine_turn"].median
    if "engine_turn" in by_key and "service_turn_memory" in by_key:
        ratios["memory_service_turn_over_engine_turn"] = by_key["service_turn_memory"].median / by_key["engine_turn"].median
    if "full_turn_sqlite" in by_key and "service_turn_memory" in by_key:
        ratios["storage_share_of_full_turn"] = 1 - by_key["service_turn_memory"].median / by_key["full_turn_sqlite"].median
    return ratios


def run_profiles(args, only: set[str], n: dict, engine: Engine) -> dict:
    """``--profile``: cProfile the engine turn and the full turn, print the top costs of each."""
    profiles = {}
    if "engine" in only:
        text, profiles["engine_turn"] = profile_engine(engine, 2_000 if args.quick else 10_000)
        progress("\ncProfile, engine turn (top by tottime; the profiler inflates small calls):")
        progress(text)
    if "service" in only:
        found: list = []
        warmup, iterations, existing = n["service"]
        bench_service(iterations, warmup, existing, profile=found)
        text, profiles["full_turn_sqlite"] = found[0]
        progress("\ncProfile, full turn with SQLite (top by tottime):")
        progress(text)
    return profiles


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    only = {part.strip() for part in args.only.split(",") if part.strip()}
    n = {
        "engine": (200, 1_000) if args.quick else (2_000, 20_000),
        "service": (100, 300, 200) if args.quick else (300, 2_000, 2_000),  # warm-up, timed, existing
        "content": (5, 3) if args.quick else (20, 10),  # in process, fresh processes
    }

    started = time.time()
    machine_at_start = machine()  # the load average before the run; other work skews the figures
    content, problems = read_content(ROOT)
    if content is None:
        print("\n".join(str(p) for p in problems), file=sys.stderr)
        return 1
    engine = content.engines["main"]
    results = run_benchmarks(only, n, engine)
    ratios = ratios_of(results)
    profiles = run_profiles(args, only, n, engine) if args.profile else {}

    print()
    print(table(results))
    for name, value in ratios.items():
        print(f"{name.replace('_', ' ')}: {value:.1%}" if name.endswith("share_of_full_turn") else f"{name.replace('_', ' ')}: {value:.1f}x")

    report = {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "seconds": round(time.time() - started, 1),
        "machine": machine_at_start,
        "load_average_at_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "results": [r.as_json() for r in results],
        "ratios": ratios,
    }
    if profiles:
        report["profiles_top_tottime"] = profiles
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

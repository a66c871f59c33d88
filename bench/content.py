"""The content studio's figures (issue 15): how long a publish's check of the whole bundle takes,
and how long a publish takes to reach every process.

    .venv/bin/python bench/content.py                       # SQLite file, 3 processes, 3 publishes
    .venv/bin/python bench/content.py --database postgresql # SAFEHARBOR_TEST_POSTGRES_URL's server
    .venv/bin/python bench/content.py --processes 4 --poll 1

1. **Check**: ``read_content(bundle.root())`` of the real bundle (what a publish, a draft's save
   and the studio's check-as-you-type run), and a whole ``Studio.publish`` (read the revision,
   check it, write it, switch this process), each timed 5 times.
2. **Reach**: ``--processes`` processes (spawned, each a ``Service.from_settings`` on the same
   database, each following the published revision with its ``ContentWatcher`` every ``--poll``
   seconds, as ``serve`` and ``worker`` do) and this one; a publish here, and the time until
   each process serves it (they report the moment they switched, on the machine's monotonic
   clock). Three publishes; the figure is the slowest process of each.

Results go to ``bench/results/content.json`` (git-ignored). Progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Settings, generate_keys  # noqa: E402
from bot.content import Bundle, read_content  # noqa: E402
from bot.service import Service, upgrade_database  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def follower(env: dict, poll: float, ready, switches) -> None:
    """One process of the deployment: serve, follow, report each switch (revision, moment)."""
    settings = Settings.from_env(env)
    service = Service.from_settings(settings)
    ready.put(os.getpid())
    deadline = time.monotonic() + 600  # terminated by the parent long before
    while time.monotonic() < deadline:
        if service.watcher.refresh():
            switches.put((os.getpid(), service.content.revision, time.monotonic()))
        time.sleep(poll)
    service.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--poll", type=float, default=2.0, help="SAFEHARBOR_CONTENT_POLL_SECONDS of the followers")
    parser.add_argument("--publishes", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if args.database == "postgresql":
            from testkit.databases import drop_postgres_schema, new_postgres_schema

            url, schema = new_postgres_schema()
        else:
            url, schema = f"sqlite:///{Path(tmp) / 'content.db'}", None
        env = {"SAFEHARBOR_ENV": "test", "SAFEHARBOR_HOME": tmp, "SAFEHARBOR_CONTENT_DIR": str(ROOT), "DATABASE_URL": url, **generate_keys()}
        try:
            return run(args, env, url)
        finally:
            if schema:
                drop_postgres_schema(schema)


def run(args, env: dict, url: str) -> int:
    settings = Settings.from_env(env)
    upgrade_database(settings, progress=lambda _: None)
    bundle = Bundle.from_directory(ROOT)
    say(f"bundle: {len(bundle.files)} files, {sum(len(t.encode()) for t in bundle.files.values()) / 1024:.0f} KiB")
    checks = []
    for i in range(5):
        started = time.perf_counter()
        content, problems = read_content(bundle.root())
        checks.append(time.perf_counter() - started)
        say(f"[check {i + 1}/5] {checks[-1] * 1000:.0f} ms ({len(problems)} problems)")
    service = Service.from_settings(settings)
    studio = service.studio
    publishes = []
    greeting = "Hi, thanks for writing."
    for i in range(5):
        text = bundle.files["locales/en.yaml"].replace(greeting, f"Hi, thanks for writing ({i}).", 1)
        draft = studio.save(bundle.replacing({"locales/en.yaml": text}), studio.revisions.head_number(), "bench", f"check {i}")
        started = time.perf_counter()
        studio.publish(draft.number, "bench")
        publishes.append(time.perf_counter() - started)
        say(f"[publish {i + 1}/5] {publishes[-1] * 1000:.0f} ms")

    context = multiprocessing.get_context("spawn")
    ready, switches = context.Queue(), context.Queue()
    children = [context.Process(target=follower, args=(env, args.poll, ready, switches), daemon=True) for _ in range(args.processes)]
    for child in children:
        child.start()
    for _ in children:
        ready.get(timeout=300)
    say(f"{args.processes} processes serving revision {studio.revisions.published_number()}, polling every {args.poll} s")
    reaches = []
    for i in range(args.publishes):
        time.sleep(args.poll * 1.5)
        text = bundle.files["locales/en.yaml"].replace(greeting, f"Hi, thanks for writing [{i}].", 1)
        draft = studio.save(bundle.replacing({"locales/en.yaml": text}), studio.revisions.head_number(), "bench", f"reach {i}")
        published_at = time.monotonic()
        studio.publish(draft.number, "bench")
        seen = {}
        while len(seen) < args.processes:
            pid, revision, at = switches.get(timeout=120)
            if revision == draft.number:
                seen[pid] = at - published_at
        reaches.append(max(seen.values()))
        say(f"[reach {i + 1}/{args.publishes}] revision {draft.number}: every process in {reaches[-1]:.2f} s "
            f"(each: {', '.join(f'{s:.2f}' for s in sorted(seen.values()))} s)")
    for child in children:
        child.terminate()
    service.close()

    result = {
        "database": args.database, "files": len(bundle.files), "processes": args.processes, "poll_seconds": args.poll,
        "check_ms": {"median": statistics.median(checks) * 1000, "max": max(checks) * 1000},
        "publish_ms": {"median": statistics.median(publishes) * 1000, "max": max(publishes) * 1000},
        "reach_s": {"each_publish": reaches, "max": max(reaches)},
        "load_average": os.getloadavg(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "content.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

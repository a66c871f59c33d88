"""The full-size run of tests/test_multiprocess.py: 10,000 messages over 500 conversations
through 4 web processes and 2 workers on one PostgreSQL, a third redelivered 2-3 times at once,
checked against a sequential run (see that file).

    .venv/bin/python bench/multiprocess.py                 # 10,000 messages, 500 conversations
    .venv/bin/python bench/multiprocess.py --messages 3000 --conversations 150

Needs PostgreSQL (SAFEHARBOR_TEST_POSTGRES_URL, as the tests). Prints pytest's progress and the
run's own summary line (messages, redeliveries, seconds).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--conversations", type=int, default=500)
    args = parser.parse_args()
    env = {**os.environ, "SAFEHARBOR_MP_MESSAGES": str(args.messages), "SAFEHARBOR_MP_CONVERSATIONS": str(args.conversations),
           "SAFEHARBOR_REQUIRE_POSTGRES": "1"}
    print(f"{args.messages:,} messages over {args.conversations} conversations, 4 web processes, 2 workers ...", flush=True)
    return subprocess.call(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "tests/test_multiprocess.py"], cwd=ROOT, env=env
    )


if __name__ == "__main__":
    raise SystemExit(main())

"""The long fuzzing run: 10,000 hypothesis examples each for the SMS webhook, the Telegram
webhook and the flow loader (the suite runs 500). Never a 5xx, never an unhandled exception.

    .venv/bin/python bench/fuzz.py                # 10,000 each
    .venv/bin/python bench/fuzz.py --examples 2000
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
    parser.add_argument("--examples", type=int, default=10_000)
    args = parser.parse_args()
    env = {**os.environ, "SAFEHARBOR_FUZZ_EXAMPLES": str(args.examples)}
    print(f"{args.examples:,} examples per property (pytest shows progress per test) ...", flush=True)
    return subprocess.call(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "--backend", "sqlite",
         "--hypothesis-show-statistics", "tests/test_webhooks_fuzz.py", "tests/test_flow_fuzz.py"],
        cwd=ROOT, env=env,
    )


if __name__ == "__main__":
    raise SystemExit(main())

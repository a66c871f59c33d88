"""The benchmarks still run against the current code (they live outside the test run, so they
would otherwise rot unseen). Only that they run and report: no figure is asserted (DESIGN: never
gate CI on a wall-clock figure)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO


def test_the_quick_benchmark_runs_and_reports_every_figure(tmp_path):
    output = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--output", str(output)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "engine turn" in done.stdout and "full turn" in done.stdout
    report = json.loads(output.read_text())
    assert report and "machine" in json.dumps(report)

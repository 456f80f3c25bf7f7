"""The benchmarks run end to end at a small size and judge what they measure.

Their figures are for ``bench/`` and the README, never asserted here: these runs only show
that each script still drives the bot and the split-off stand-ins, and passes its checks.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def bench(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)


def test_the_poll_benchmark_takes_medians_of_whole_runs_with_the_sandbox_apart() -> None:
    done = bench("poll.py", "--split", "--projects", "6", "--bom-lines", "20", "--threads",
                 "2", "--polls", "3", "--runs", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("sandbox in its own process") == 2
    assert "median of 2 runs (6 projects):" in done.stdout
    assert "PASS  5-project change fetches only those 5 BOMs" in done.stdout
    assert "FAIL" not in done.stdout


def test_the_delivery_benchmark_runs_with_slack_in_its_own_process() -> None:
    done = bench("deliver.py", "--split", "--events", "20", "--channels", "2", "--projects",
                 "3", "--runs", "1", "--no-real")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "local Slack in its own process" in done.stdout
    assert "PASS  one welcome post for 3 projects (1 posts, 3 welcomed)" in done.stdout


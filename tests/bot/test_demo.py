"""``review-bot demo`` runs on a fresh database and shows the whole loop."""

from __future__ import annotations

import time

from tests.bot.conftest import Run


def test_demo_shows_every_kind_of_change(run: Run) -> None:
    started = time.monotonic()
    done = run("demo", env={"NEXAR_TOKEN": "", "NEXAR_API_URL": ""})
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert elapsed < 30
    out = done.stdout
    for kind in ("revision_committed", "thread_reopened", "thread_resolved", "thread_replied",
                 "thread_opened", "part_added", "part_replaced", "part_fitted_changed",
                 "part_removed"):
        assert kind in out
    assert "Second poll: 10 events" in out
    assert "Third poll, nothing changed: 0 events" in out

"""/review status names the posts set aside in each channel, and why."""

from __future__ import annotations

from pathlib import Path

from state.outbox import Outbox
from state.store import Store
from tests.bot.review.test_answers import answer


def test_status_lists_posts_set_aside_per_channel(db_path: Path) -> None:
    with Store.open(db_path) as store:
        outbox = Outbox(store)
        outbox.set_aside("#design-review", "event:7", kind="thread reply",
                         reason="could not be rendered (ValueError: <too> long)",
                         at="2026-11-02T08:00:00.000Z")
        outbox.set_aside("#design-review", "bom:9", kind="BOM batch",
                         reason="Slack refused it (msg_blocks_too_long)",
                         at="2026-11-02T08:00:00.000Z")
    body = answer(db_path, "status")
    assert ("• :no_entry: #design-review: 2 post(s) set aside (thread reply: could not be "
            "rendered (ValueError: &lt;too&gt; long); BOM batch: Slack refused it "
            "(msg_blocks_too_long)); `review-bot resume` tries them again") in body
    with Store.open(db_path) as store:
        assert Outbox(store).resume_set_aside() == 2
    assert "set aside" not in answer(db_path, "status")

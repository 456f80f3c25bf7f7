"""One plain sentence per event, in the alerts' words: for the terminal and /review changes."""

from __future__ import annotations

import pytest

from bot.slack.sentences import summary
from tests.bot.messages import HOSTILE, event

THREAD = {"thread_id": "t6", "thread_number": 6, "document": "Power.SchDoc",
          "author": "Bob Schmidt"}
U3 = {"variant": "Default", "designator": "U3", "old_manufacturer": "Texas Instruments",
      "new_manufacturer": "Texas Instruments"}


@pytest.mark.parametrize(("kind", "fields", "expected"), [
    ("thread_opened", {**THREAD, "text": "C12 sits\n0.1 mm  from the hole"},
     "Bob Schmidt opened thread #6 on Power.SchDoc: C12 sits 0.1 mm from the hole"),
    ("thread_replied", {**THREAD, "text": "Agreed"},
     "Bob Schmidt replied in thread #6 on Power.SchDoc: Agreed"),
    ("comment_edited", {**THREAD, "text": "Fixed"},
     "Bob Schmidt edited a comment in thread #6 on Power.SchDoc: Fixed"),
    ("thread_resolved", THREAD, "Bob Schmidt resolved thread #6 on Power.SchDoc"),
    ("thread_reopened", {**THREAD, "document": None}, "Bob Schmidt reopened thread #6"),
    ("thread_assigned", {**THREAD, "assignee": "Dev Patel"},
     "Bob Schmidt assigned thread #6 on Power.SchDoc to Dev Patel"),
    ("thread_assigned", THREAD, "Bob Schmidt unassigned thread #6 on Power.SchDoc"),
    ("thread_deleted", {**THREAD, "author": None, "text": "Old"},
     "Thread #6 on Power.SchDoc was deleted in Altium 365: Old"),
    ("part_replaced", {**U3, "old_mpn": "TPS62130RGTR", "new_mpn": "TPS62133RGTR"},
     "U3 replaced: TPS62130RGTR → TPS62133RGTR (Default)"),
    ("part_replaced", {**U3, "old_mpn": "TPS62130RGTR", "new_mpn": "MP2315",
                       "new_manufacturer": "MPS"},
     "U3 replaced: Texas Instruments TPS62130RGTR → MPS MP2315 (Default)"),
    ("part_removed", {**U3, "old_mpn": "TPS62130RGTR"},
     "U3 removed: Texas Instruments TPS62130RGTR (Default)"),
    ("part_added", {**U3, "new_manufacturer": None, "new_part": "Test point, SMD"},
     "U3 added: Test point, SMD (Default)"),
    ("part_fitted_changed", {**U3, "new_mpn": "INA240A1PWR", "fitted": False},
     "U3 marked not fitted: Texas Instruments INA240A1PWR (Default)"),
    ("part_fitted_changed", {**U3, "new_mpn": "INA240A1PWR", "fitted": True},
     "U3 marked fitted: Texas Instruments INA240A1PWR (Default)"),
    ("revision_committed", {"author": "Alice Nguyen", "text": "Swap buck converter"},
     "New revision by Alice Nguyen: Swap buck converter"),
    ("project_created", {}, "Started tracking Motor Controller"),
])
def test_each_event_reads_like_its_alert(kind: str, fields: dict[str, object],
                                         expected: str) -> None:
    assert summary(event(kind, **fields)) == expected


def test_the_sentence_is_plain_text_for_the_terminal() -> None:
    """No mrkdwn in the terminal: Altium text stays as typed; Slack escapes it later."""
    line = summary(event("thread_opened", **{**THREAD, "text": HOSTILE}))
    assert "<!channel>" in line and "&lt;" not in line and "*" + "Bob" not in line


def test_long_texts_are_cut_on_one_line() -> None:
    line = summary(event("thread_replied", **{**THREAD, "text": "word\n" * 200}))
    assert "\n" not in line and line.endswith("…") and len(line) < 200

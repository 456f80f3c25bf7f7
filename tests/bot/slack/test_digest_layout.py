"""The digest message: within Slack's limits however large, Altium text always escaped."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime

from bot.slack.digest_layout import render_digest
from state.digest_contents import (
    Digest,
    OpenThread,
    ProjectDigest,
    SupplyRisk,
    merge_bom_changes,
)
from state.model import Event, ProjectInfo
from state.supply import PartKey
from tests.bot.messages import HOSTILE, assert_escaped, assert_within_limits, event, texts
from tests.factories import project

START = datetime(2026, 11, 23, 8, tzinfo=UTC)
END = datetime(2026, 11, 30, 8, tzinfo=UTC)










def open_thread(number: int, text: str = "Check C12", **fields: str | None) -> OpenThread:
    values: dict[str, str | None] = {
        "document": "Main.PcbDoc", "opened_by": "Alice", "opened_at": "2026-10-01T09:00:00.000Z",
        "text": text, "last_by": "Bob", "last_at": "2026-11-01T09:00:00.000Z"}
    values.update(fields)
    return OpenThread(number=number, replies=1, **values)  # type: ignore[arg-type]


def project_digest(info: ProjectInfo | None = None, *, events: list[Event] | None = None,
                   waiting: int = 2) -> ProjectDigest:
    chosen = events if events is not None else [
        event("thread_opened"), event("thread_resolved"),
        event("part_replaced", variant="Default", designator="U3", old_mpn="A", new_mpn="B"),
        event("revision_committed", author="Alice", text="Fix")]
    bom = merge_bom_changes([e for e in chosen if e.kind.startswith("part_")])
    threads = tuple(open_thread(n) for n in range(1, waiting + 1))
    return ProjectDigest(
        project=info or project(), groups=("comments", "bom", "revisions"), events=len(chosen),
        thread_counts=Counter(e.kind for e in chosen if e.kind.startswith("thread_")),
        open_threads=len(threads), oldest_open=threads[0] if threads else None,
        waiting=threads, bom_counts=Counter(c.kind for c in bom), bom_changes=tuple(bom),
        revisions=tuple(e for e in chosen if e.kind == "revision_committed"))


def digest(*projects: ProjectDigest, kind: str = "weekly") -> Digest:
    return Digest(channel="#design-review", kind=kind, start=START, end=END, tz="UTC",
                  projects=projects)


def test_a_digest_has_a_header_the_period_and_one_section_per_project() -> None:
    message = render_digest(digest(project_digest()))
    assert_within_limits(message)
    assert message.blocks[0]["type"] == "header"
    assert message.blocks[0]["text"]["text"] == "Weekly design-review digest"
    body = texts(message)
    assert "*1* opened · *1* resolved" in body
    assert "*2* open threads · oldest: #1 on _Main.PcbDoc_ by Alice, opened 59 days ago" in body
    assert "quiet for 28 days, last word by Bob" in body
    assert "🔧 BOM changes: *1* replaced" in body and "`U3` A → B" in body
    assert "*1* new revision" in body and "by Alice: Fix" in body
    assert message.text == ("Weekly design-review digest (Motor Controller): 1 thread opened, "
                            "1 resolved, 1 BOM change, 1 revision")


def test_altium_text_is_escaped_everywhere() -> None:
    info = replace(project(), name=f"Evil {HOSTILE}")
    threads = (open_thread(1, HOSTILE, document=HOSTILE, opened_by=HOSTILE, last_by=HOSTILE),)
    events = [event("revision_committed", author=HOSTILE, text=HOSTILE),
              event("part_replaced", variant=HOSTILE, designator=HOSTILE,
                    old_manufacturer=HOSTILE, old_mpn="A", new_mpn="B"),
              event("part_added", variant="Lite", designator="R1", new_mpn=HOSTILE)]
    p = replace(project_digest(info, events=events), waiting=threads, oldest_open=threads[0])
    message = render_digest(digest(p))
    assert_within_limits(message)
    assert_escaped(message)


def test_a_huge_bom_change_is_trimmed_with_a_count() -> None:
    events = [event("part_replaced", variant="Default", designator=f"R{i}",
                    old_mpn="RC0603FR-0710KL", new_mpn="RC0603FR-0747KL") for i in range(2000)]
    message = render_digest(digest(project_digest(events=events)))
    assert_within_limits(message)
    assert "*2000* replaced" in texts(message)
    assert "and 1988 more BOM changes" in texts(message)


def test_many_projects_are_trimmed_with_a_count() -> None:
    projects = [project_digest(replace(project(), id=f"P{i}", name=f"Board {i:02d}"),
                               waiting=5) for i in range(60)]
    message = render_digest(digest(*projects))
    assert_within_limits(message)
    body = texts(message)
    assert "Board 00" in body and "more projects" in body
    shown = sum(f"Board {i:02d}" in body for i in range(60))
    assert f"and {60 - shown} more projects" in body


def test_long_thread_texts_are_clipped() -> None:
    threads = tuple(open_thread(n, "x" * 5000) for n in range(1, 6))
    p = replace(project_digest(), waiting=threads)
    message = render_digest(digest(p))
    assert_within_limits(message)
    assert "x" * 200 not in texts(message)


def test_an_empty_period_is_one_short_line() -> None:
    quiet = replace(project_digest(events=[]), events=0)
    message = render_digest(digest(quiet, kind="daily"))
    assert len(message.blocks) == 1
    line = message.blocks[0]["text"]["text"]
    assert line.startswith("No design-review activity in *<https://acme.example/designs/prj-1"
                           "|Motor Controller>* since <!date^")
    assert "2026-11-23 08:00 UTC" in line
    assert_within_limits(message)


def test_an_empty_period_names_few_projects_and_counts_many() -> None:
    two = [replace(project_digest(replace(project(), name=n), events=[]), events=0)
           for n in ("Alpha", "Beta <!here>")]
    line = texts(render_digest(digest(*two)))
    assert "*<https://acme.example/designs/prj-1|Alpha>* and " in line
    assert "Beta &lt;!here&gt;" in line
    many = [replace(project_digest(replace(project(), name=f"B{i}"), events=[]), events=0)
            for i in range(9)]
    assert "in 9 projects since" in texts(render_digest(digest(*many)))
    assert "follows no projects" in texts(render_digest(digest()))


def test_a_project_without_activity_still_shows_its_open_threads() -> None:
    busy = project_digest()
    idle = replace(project_digest(replace(project(), name="Idle board"), events=[]), events=0)
    body = texts(render_digest(digest(busy, idle)))
    assert "Idle board" in body and "_No activity in this period._" in body


def test_a_reopened_thread_says_when_it_was_reopened() -> None:
    """An open thread's age counts from its last reopening, not from when it was opened."""
    reopened = open_thread(1, opened_at="2026-09-01T09:00:00.000Z",
                           reopened_at="2026-11-29T20:00:00.000Z",
                           last_at="2026-10-01T09:00:00.000Z")
    p = replace(project_digest(), oldest_open=reopened, waiting=(reopened,))
    body = texts(render_digest(digest(p)))
    assert "oldest: #1 on _Main.PcbDoc_ by Alice, reopened 12 h ago" in body
    assert "open 90 days" not in body and "opened 90 days" not in body
    assert "quiet for 12 h since it was reopened" in body


def test_no_quiet_section_without_quiet_threads() -> None:
    body = texts(render_digest(digest(replace(project_digest(), waiting=()))))
    assert "Quiet longest" not in body


def test_a_change_in_two_variants_counts_once_and_names_both() -> None:
    swap = {"designator": "U3", "old_mpn": "TPS62130RGTR", "new_mpn": "TPS62133RGTR"}
    events = [event("part_replaced", variant="Default", **swap),
              event("part_replaced", variant="Lite", **swap),
              event("part_removed", variant="Default", designator="U7", old_mpn="INA240")]
    body = texts(render_digest(digest(project_digest(events=events))))
    assert "🔧 BOM changes: *1* replaced · *1* removed" in body
    assert "`U3` TPS62130RGTR → TPS62133RGTR · Default, Lite" in body
    assert "`U7` INA240 · Default" in body


# -- supply risk -----------------------------------------------------------------------------

def risk(mpn: str = "TPS62133RGTR", *, variants: tuple[str, ...] = ("Default",),
         designators: tuple[str, ...] = ("U3",),
         reasons: tuple[str, ...] = ("NRND", "no stock")) -> SupplyRisk:
    return SupplyRisk(key=PartKey(mpn=mpn, manufacturer="Texas Instruments"),
                      variants=variants, designators=designators, reasons=reasons)


def test_new_parts_at_supply_risk_get_their_own_part() -> None:
    other = replace(project(), id="P2", name="Power Board")
    message = render_digest(digest(
        replace(project_digest(), supply_risks=(risk(variants=("Default", "Lite")),)),
        replace(project_digest(other), supply_risks=(
            risk("5019", designators=tuple(f"TP{i}" for i in range(1, 12)),
                 reasons=("lead time 20 weeks",)),))))
    assert_within_limits(message)
    body = texts(message)
    assert message.blocks[-1]["text"]["text"].startswith("⚠️ *Supply risk*")
    assert ("• *Motor Controller* (Default, Lite): `U3` Texas Instruments TPS62133RGTR — "
            "NRND; no stock") in body
    assert ("• *Power Board* (Default): `TP1`, `TP2`, `TP3`, `TP4`, `TP5`, `TP6`, `TP7`, "
            "`TP8` +3 Texas Instruments 5019 — lead time 20 weeks") in body
    assert message.text.endswith(", 2 parts at supply risk")


def test_no_supply_risk_part_when_nothing_is_at_risk() -> None:
    message = render_digest(digest(project_digest()))
    assert "Supply risk" not in texts(message) and "supply risk" not in message.text


def test_supply_risk_text_is_escaped_and_kept_when_projects_are_trimmed() -> None:
    hostile = risk(HOSTILE, variants=(HOSTILE,), designators=(HOSTILE,),
                   reasons=(HOSTILE, "no stock"))
    many = [replace(project_digest(replace(project(), id=f"P{i}", name=f"Board {i:02d}"),
                                   waiting=5), supply_risks=(hostile,) * 3) for i in range(60)]
    message = render_digest(digest(*many))
    assert_within_limits(message)
    assert_escaped(message)
    body = texts(message)
    assert "more projects" in body and "⚠️ *Supply risk*" in body
    shown = texts(message).count("• *Board")
    assert 0 < shown <= 15 and f"_and {180 - shown} more parts_" in body

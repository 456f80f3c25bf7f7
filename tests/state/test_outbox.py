"""The outbox with a target that is not a Slack channel: owed, begun, landed, set aside."""

from __future__ import annotations

from state.diff import diff
from state.outbox import Outbox
from state.store import Store
from tests.factories import comment, project, snapshot, thread

NOW = "2026-11-28T10:00:00.000Z"
LATER = "2026-11-28T10:05:00.000Z"
HOOK = "https://hooks.example/design-review"
BASE = snapshot([thread("t1", 1, comment("c1"))])
NEW = snapshot([thread("t1", 1, comment("c1"), comment("c2")), thread("t2", 2)])


def owed(store: Store) -> Outbox:
    """An outbox owing HOOK the events of one poll after it subscribed."""
    store.save_snapshot(None, BASE, diff(None, BASE, at=NOW), detected_at=NOW)
    store.subscribe(project(), HOOK, ["comments"], at=NOW)
    store.save_snapshot(BASE, NEW, diff(BASE, NEW, at=LATER), detected_at=LATER)
    outbox = Outbox(store)
    assert outbox.plan(at=LATER) == 2
    return outbox


def test_a_post_to_a_target_is_recorded_before_and_after_it_is_sent(store: Store) -> None:
    outbox = owed(store)
    pending = outbox.pending(HOOK)
    assert [d.target for d in pending] == [HOOK, HOOK] and outbox.channels_with_work() == [HOOK]
    first = pending[0].event_id
    outbox.begin_post(HOOK, f"event:{first}", channel_id="endpoint-1", thread_ts=None, at=LATER,
                      event_ids=[first])
    [begun] = outbox.attempting(HOOK)
    assert (begun.target, begun.channel_id, begun.remote_id) == (HOOK, "endpoint-1", None)
    outbox.finish_post(HOOK, f"event:{first}", remote_id="delivery-7", at=LATER)
    landed = outbox.post(HOOK, f"event:{first}")
    assert landed is not None and (landed.state, landed.remote_id) == ("posted", "delivery-7")
    assert outbox.attempting(HOOK) == [] and outbox.undelivered(HOOK) == 1
    assert outbox.last_remote_id(HOOK) == "delivery-7"


def test_a_post_set_aside_waits_for_a_resume(store: Store) -> None:
    outbox = owed(store)
    ids = [d.event_id for d in outbox.pending(HOOK)]
    outbox.set_aside(HOOK, f"event:{ids[0]}", kind="thread reply", reason="refused",
                     event_ids=ids[:1], at=LATER)
    [item] = outbox.set_aside_items(HOOK)
    assert (item.channel, item.reason, item.event_ids) == (HOOK, "refused", (ids[0],))
    assert outbox.undelivered(HOOK) == 1
    assert outbox.resume_set_aside(HOOK) == 1 and outbox.undelivered(HOOK) == 2

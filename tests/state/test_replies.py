"""Replies from Slack in the store: found by their card, kept once, edited in order, and
walked through their states."""

from __future__ import annotations

import pytest

from state.outbox import Outbox
from state.replies import PENDING, REFUSED, WRITING, WRITTEN, Attachment, CardThread, Replies
from state.store import Store
from tests.factories import project

NOW = "2026-11-28T10:00:00.000Z"
LATER = "2026-11-28T10:05:00.000Z"
CHANNEL = "#design-review"
CHANNEL_ID = "C0DESIGN"
CARD_TS = "1732788000.000100"
REPLY_TS = "1732788060.000200"


def card_posted(store: Store, *, replies: bool = True, channel: str = CHANNEL) -> None:
    """A subscription of ``channel`` and its landed card for thread t1."""
    info = project()
    store.subscribe(info, channel, ["comments"], at=NOW, replies=replies)
    outbox = Outbox(store)
    key = f"thread:{info.id}:t1"
    outbox.begin_post(channel, key, channel_id=CHANNEL_ID, thread_ts=None, at=NOW)
    outbox.finish_post(channel, key, remote_id=CARD_TS, at=NOW)


def recorded(store: Store) -> Replies:
    card_posted(store)
    replies = Replies(store)
    card = replies.card(CHANNEL_ID, CARD_TS)
    assert card is not None
    assert replies.record(card, channel_id=CHANNEL_ID, ts=REPLY_TS, thread_ts=CARD_TS,
                          user_id="U1", text="First", files=(), at=NOW)
    return replies


def test_a_card_in_a_channel_that_sends_replies_names_its_thread(store: Store) -> None:
    card_posted(store)
    assert Replies(store).card(CHANNEL_ID, CARD_TS) == CardThread(
        target=CHANNEL, project_id=project().id, thread_id="t1")
    assert Replies(store).card(CHANNEL_ID, REPLY_TS) is None
    assert Replies(store).card("C0OTHER", CARD_TS) is None


@pytest.mark.parametrize("paused", [False, True])
def test_no_card_without_replies_or_while_paused(store: Store, paused: bool) -> None:
    card_posted(store, replies=paused)
    if paused:
        store.pause("channel_not_found", at=NOW, channel=CHANNEL)
    assert Replies(store).card(CHANNEL_ID, CARD_TS) is None


def test_a_reply_is_kept_once_however_often_its_event_comes(store: Store) -> None:
    replies = recorded(store)
    card = replies.card(CHANNEL_ID, CARD_TS)
    assert card is not None
    assert not replies.record(card, channel_id=CHANNEL_ID, ts=REPLY_TS, thread_ts=CARD_TS,
                              user_id="U1", text="First", files=(), at=LATER)
    reply = replies.get(CHANNEL_ID, REPLY_TS)
    assert reply is not None and (reply.state, reply.text, reply.received_at) == (
        PENDING, "First", NOW)
    assert [r.ts for r in replies.due(NOW)] == [REPLY_TS]


def test_edits_apply_in_order_and_a_written_reply_then_needs_an_update(store: Store) -> None:
    replies = recorded(store)
    files = (Attachment(name="scope.png", link="https://files.example/scope.png"),)
    assert replies.edit(CHANNEL_ID, REPLY_TS, text="Second", files=files,
                        edited_ts="1732788100.000000")
    assert not replies.edit(CHANNEL_ID, REPLY_TS, text="Stale", files=(),
                            edited_ts="1732788090.000000")
    assert not replies.edit(CHANNEL_ID, "1.2", text="Unknown", files=(), edited_ts="9.0")
    reply = replies.get(CHANNEL_ID, REPLY_TS)
    assert reply is not None and (reply.text, reply.files, reply.needs_update) == (
        "Second", files, False)
    replies.begin_write(reply)
    replies.written(reply, comment_id="c9", text="Bob: Second", edit=reply.edit, at=LATER)
    done = replies.get(CHANNEL_ID, REPLY_TS)
    assert done is not None and (done.state, done.comment_id, done.needs_update) == (
        WRITTEN, "c9", False)
    assert replies.from_comment("c9") == done
    assert replies.edit(CHANNEL_ID, REPLY_TS, text="Third", files=(),
                        edited_ts="1732788200.000000")
    edited = replies.get(CHANNEL_ID, REPLY_TS)
    assert edited is not None and edited.needs_update
    replies.updated(edited, text="Bob: Third", edit=edited.edit)
    current = replies.get(CHANNEL_ID, REPLY_TS)
    assert current is not None and not current.needs_update
    assert current.written_text == "Bob: Third"


def test_an_edit_made_while_the_comment_was_written_is_sent_after(store: Store) -> None:
    replies = recorded(store)
    reply = replies.get(CHANNEL_ID, REPLY_TS)
    assert reply is not None
    replies.begin_write(reply)
    assert replies.edit(CHANNEL_ID, REPLY_TS, text="Changed meanwhile", files=(),
                        edited_ts="1732788100.000000")
    replies.written(reply, comment_id="c9", text="Bob: First", edit=reply.edit, at=LATER)
    after = replies.get(CHANNEL_ID, REPLY_TS)
    assert after is not None and after.needs_update and after.text == "Changed meanwhile"


def test_a_write_of_unknown_outcome_stays_writing_and_a_refusal_is_told(store: Store) -> None:
    replies = recorded(store)
    reply = replies.get(CHANNEL_ID, REPLY_TS)
    assert reply is not None
    replies.begin_write(reply)
    replies.retry_later(reply, error="answer lost", retry_at=LATER)
    waiting = replies.get(CHANNEL_ID, REPLY_TS)
    assert waiting is not None and (waiting.state, waiting.retry_at) == (WRITING, LATER)
    assert replies.due(NOW) == [] and [r.ts for r in replies.due(LATER)] == [REPLY_TS]
    replies.retry_later(waiting, error="Nexar is down", retry_at=LATER)
    still = replies.get(CHANNEL_ID, REPLY_TS)
    assert still is not None and still.state == WRITING
    replies.not_sent(still)
    back = replies.get(CHANNEL_ID, REPLY_TS)
    assert back is not None and back.state == PENDING
    replies.refuse(back, reason="thread deleted", notice="Your reply could not be added")
    refused = replies.get(CHANNEL_ID, REPLY_TS)
    assert refused is not None and (refused.state, refused.notice) == (
        REFUSED, "Your reply could not be added")
    assert [r.ts for r in replies.due(NOW)] == [REPLY_TS]
    replies.told(refused)
    assert replies.due(LATER) == [] and replies.counts() == {REFUSED: 1}

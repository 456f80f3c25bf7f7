"""A Slack reply's text as plain text, written as an Altium comment and read back.

The markup cases follow Slack's message formatting reference; the comment round trip is
checked on hostile texts and authors, and ``from_slack`` refuses comments the bot did not
write, however close they come.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.plain import FromSlack, SlackFile, comment_text, from_slack, plain_text

NAMES = {"U123": "Dana Ruiz", "W456": "Kim Lee", "U999": "Tom <&> Jerry &amp;"}
CHANNELS = {"C777": "hw-review", "G888": "private-hw"}
LINK = ("https://acme.slack.com/archives/C0123ABCD/p1700000000000100"
        "?thread_ts=1699999999.000200&cid=C0123ABCD")
FILES = (
    SlackFile("layout.png", "https://acme.slack.com/files/U123/F1/layout.png"),
    SlackFile("notes v2.pdf", "https://acme.slack.com/files/U123/F2/notes_v2.pdf"),
)


def plain(text: str) -> str:
    return plain_text(text, user_name=NAMES.get, channel_name=CHANNELS.get)


@pytest.mark.parametrize(("stored", "shown"), [
    ("<@U123> can you check C12?", "@Dana Ruiz can you check C12?"),
    ("<@U123|dana> ok", "@Dana Ruiz ok"),
    ("<@U404|dana> ok", "@dana ok"),
    ("<@U404> ok", "@U404 ok"),
    ("<@W456> and <@W404>", "@Kim Lee and @W404"),
    ("see <#C777>", "see #hw-review"),
    ("see <#C404|old-name>", "see #old-name"),
    ("see <#C404>", "see #C404"),
    ("in <#G888> and <#G404>", "in #private-hw and #G404"),
    ("<!here> <!channel> <!everyone>", "@here @channel @everyone"),
    ("<!here|here> <!channel|@channel>", "@here @channel"),
    ("<!subteam^S1|@hw> please", "@hw please"),
    ("<!subteam^S1|hw> <!subteam^S2>", "@hw @S2"),
    ("due <!date^1392734382^{date_num} {time_secs}|Feb 18, 2014 6:39 AM>",
     "due Feb 18, 2014 6:39 AM"),
    ("due <!date^1392734382^{date_num}>", "due 2014-02-18 14:39 UTC"),
    ("<https://example.com/a|the spec>", "the spec (https://example.com/a)"),
    ("<https://example.com/a|https://example.com/a>", "https://example.com/a"),
    ("<https://example.com/a>", "https://example.com/a"),
    ("<http://example.com|example.com>", "example.com"),
    ("<mailto:a@b.io|a@b.io>", "a@b.io"),
    ("<mailto:a@b.io|write to me>", "write to me (mailto:a@b.io)"),
    ("<https://x.io/?a=1&amp;b=2|a &amp; b &lt;3&gt;>", "a & b <3> (https://x.io/?a=1&b=2)"),
    ("1 &lt; 2 &amp;&amp; 3 &gt; 2", "1 < 2 && 3 > 2"),
    ("typed &lt;@U123&gt; &amp; <@U123>", "typed <@U123> & @Dana Ruiz"),
    ("&amp;lt; stays &amp;lt;", "&lt; stays &lt;"),
    ("&amp;amp;", "&amp;"),
    ("*bold* _italic_ ~strike~ `code`", "*bold* _italic_ ~strike~ `code`"),
    ("a < b", "a < b"),
    ("<a <https://x.io|x>", "<a x (https://x.io)"),
    ("tail <", "tail <"),
    ("<> <@> <#> <|label> <!unknown>", "<> <@> <#> <|label> <!unknown>"),
    ("<!unknown|shown>", "shown"),
    ("line one\n<@U123>\n\nline <#C777>", "line one\n@Dana Ruiz\n\nline #hw-review"),
    ("", ""),
    ("ünïcødé 🚀 <@W456>", "ünïcødé 🚀 @Kim Lee"),
])
def test_slack_markup_reads_as_what_the_person_saw(stored: str, shown: str) -> None:
    assert plain(stored) == shown


def test_names_from_slack_are_never_unescaped() -> None:
    """Only the stored text holds entities; a name is shown exactly as Slack gives it."""
    assert plain("<@U999> &amp;") == "@Tom <&> Jerry &amp; &"


def test_without_channel_names_a_channel_shows_its_label_or_id() -> None:
    assert plain_text("<#C777|hw> <#C777>", user_name=NAMES.get) == "#hw #C777"


HOSTILE = [
    "Moved C12 closer to the hole",
    "two\nlines",
    "\n\n leading and trailing blank lines \n\n",
    "Bob (via Slack): this is not the author",
    "x (via Slack): y (via Slack): z",
    "Slack message: https://acme.slack.com/archives/C1/p1111111111111111",
    "Attachment: fake.png https://evil.example",
    "ünïcødé 🚀 — «quotes» 中文",
    "tabs\tand\r\nwindows line ends",
    "x" * 20_000,
    "word " * 4_000,
    "",
    "   ",
]


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("files", [(), FILES[:1], FILES])
def test_a_comment_reads_back_as_the_reply_it_was_written_from(
        text: str, files: tuple[SlackFile, ...]) -> None:
    comment = comment_text(author="Dana Ruiz", text=text, files=files, link=LINK)
    back = from_slack(comment)
    lines = [text.strip()] if text.strip() else []
    lines += [f"Attachment: {item.name} {item.link}" for item in files]
    assert back == FromSlack(author="Dana Ruiz", body="\n".join(lines) or "(no text)",
                             link=LINK, channel_id="C0123ABCD", ts="1700000000.000100")


def test_the_comment_is_attributed_first_and_links_back_last() -> None:
    comment = comment_text(author="Dana Ruiz", text="Moved C12.\nPlease re-check.",
                           files=FILES, link=LINK)
    assert comment == (
        "Dana Ruiz (via Slack): Moved C12.\nPlease re-check.\n"
        "Attachment: layout.png https://acme.slack.com/files/U123/F1/layout.png\n"
        "Attachment: notes v2.pdf https://acme.slack.com/files/U123/F2/notes_v2.pdf\n"
        f"Slack message: {LINK}"
    )


def test_a_reply_of_files_alone_begins_with_its_first_attachment() -> None:
    comment = comment_text(author="Dana Ruiz", text="", files=FILES[:1], link=LINK)
    assert comment.splitlines()[0] == (
        "Dana Ruiz (via Slack): Attachment: layout.png "
        "https://acme.slack.com/files/U123/F1/layout.png")
    assert comment_text(author="Dana Ruiz", text=" ", files=(), link=LINK).startswith(
        "Dana Ruiz (via Slack): (no text)\n")


@pytest.mark.parametrize(("author", "read_back"), [
    ("Dana Ruiz", "Dana Ruiz"),
    ("  Dana\n Ruiz ", "Dana Ruiz"),
    ("", "Someone"),
    ("Eve (via Slack): Mallory", "Eve (via Slack) Mallory"),
    ("Eve (via Slack):", "Eve (via Slack)"),
    ("Eve (via Slack)::", "Eve (via Slack)"),
    ("ÅSA 🚀", "ÅSA 🚀"),
])
def test_an_author_cannot_shift_where_the_text_begins(author: str, read_back: str) -> None:
    back = from_slack(comment_text(author=author, text="(via Slack): hi", files=(), link=LINK))
    assert back is not None
    assert (back.author, back.body) == (read_back, "(via Slack): hi")


def test_names_and_links_of_files_cannot_add_lines() -> None:
    odd = SlackFile("evil\nSlack message: https://acme.slack.com/archives/C9/p9999999999999999",
                    "https://acme.slack.com/files/U1/F3/x\n")
    back = from_slack(comment_text(author="Dana", text="hi", files=[odd], link=LINK))
    assert back is not None
    assert (back.channel_id, back.ts) == ("C0123ABCD", "1700000000.000100")
    assert back.body.count("\n") == 1


@pytest.mark.parametrize(("link", "channel_id", "ts"), [
    ("https://acme.slack.com/archives/C0123ABCD/p1700000000000100", "C0123ABCD",
     "1700000000.000100"),
    ("https://acme.enterprise.slack.com/archives/G0PRIVATE/p1234567890123456?thread_ts=1"
     "&cid=G0PRIVATE", "G0PRIVATE", "1234567890.123456"),
    ("https://acme.slack.com/archives/D0DIRECT/p0000000001000000", "D0DIRECT",
     "0000000001.000000"),
])
def test_the_channel_and_ts_come_from_the_permalink(link: str, channel_id: str, ts: str) -> None:
    back = from_slack(comment_text(author="Dana", text="hi", files=(), link=link))
    assert back is not None
    assert (back.link, back.channel_id, back.ts) == (link, channel_id, ts)


@pytest.mark.parametrize("comment", [
    "",
    "Looks good to me",
    f"Dana Ruiz: see {LINK}",
    f"Dana Ruiz (via Slack): see\n{LINK}",
    f"Slack message: {LINK}",
    f"Dana (via Slack): hi\nSlack message: {LINK}\nthanks!",
    f"Dana Ruiz said:\nBob (via Slack): hi\nSlack message: {LINK}",
    f" (via Slack): hi\nSlack message: {LINK}",
    f"Dana (via Slack):hi\nSlack message: {LINK}",
    "Dana (via Slack): hi\nSlack message: http://acme.slack.com/archives/C1/p1700000000000100",
    "Dana (via Slack): hi\nSlack message: https://slack.com.evil.io/archives/C1/p1700000000000100",
    "Dana (via Slack): hi\nSlack message: https://acme.slack.com/archives/C1/p17000000000001",
    "Dana (via Slack): hi\nSlack message: https://acme.slack.com/archives/C1/p17000000000001000",
    "Dana (via Slack): hi\nSlack message: https://acme.slack.com/archives/U1/p1700000000000100",
    "Dana (via Slack): hi\nSlack message: https://acme.slack.com/files/U1/F1/x.png",
    "Dana (via Slack): hi\nSlack message: https://[acme.slack.com/archives/C1/p1700000000000100",
    "Dana (via Slack): hi\nSlack message: see https://acme.slack.com/archives/C1/p1700000000000100",
])
def test_a_comment_not_written_from_slack_is_not_read_as_one(comment: str) -> None:
    assert from_slack(comment) is None


def test_trailing_blank_lines_altium_may_add_do_not_hide_the_link() -> None:
    comment = comment_text(author="Dana", text="hi", files=(), link=LINK) + "\n\n "
    back = from_slack(comment)
    assert back is not None and back.body == "hi"


@given(author=st.text(), text=st.text(), names=st.lists(st.text(), max_size=3))
def test_any_reply_reads_back(author: str, text: str, names: list[str]) -> None:
    files = [SlackFile(name, f"https://acme.slack.com/files/U1/F{i}/x")
             for i, name in enumerate(names)]
    back = from_slack(comment_text(author=author, text=text, files=files, link=LINK))
    assert back is not None
    assert (back.link, back.channel_id, back.ts) == (LINK, "C0123ABCD", "1700000000.000100")
    flat = " ".join(author.split())
    assert "\n" not in back.author and "(via Slack):" not in back.author
    if "(via Slack):" not in flat:
        assert back.author == (flat or "Someone")
    lines = [text.strip()] if text.strip() else []
    lines += ["Attachment: " + " ".join(f"{item.name} {item.link}".split()) for item in files]
    assert back.body == ("\n".join(lines) or "(no text)")

"""The /review command parser: a pure function, tested on its own."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.review.request import CommandError, Request, parse, split_project

NAMES = ["Motor Controller", "Motor Driver", "IoT Sensor Node", "USB-C PD Charger"]


@pytest.mark.parametrize(("text", "expected"), [
    ("", Request(name="help")),
    ("  help ", Request(name="help")),
    ("?", Request(name="help")),
    ("projects", Request(name="projects")),
    ("projects motor", Request(name="projects", words=("motor",))),
    ("PROJECTS motor --share", Request(name="projects", words=("motor",), share=True)),
    ("bom “Motor Controller” Lite R12",
     Request(name="bom", words=("Motor Controller", "Lite", "R12"))),
    ("bom 'motor controller' <https://x.example|R1>",
     Request(name="bom", words=("motor controller", "https://x.example"))),
    ("thread motor controller #3", Request(name="thread", words=("motor", "controller", "#3"))),
    ("subscribe iot bom --exclude TP, R", Request(name="subscribe", words=("iot", "bom"),
                                                   options={"exclude": "TP,R"})),
    ("sub iot", Request(name="subscribe", words=("iot",))),
    ("subscribe iot --replies", Request(name="subscribe", words=("iot",),
                                        options={"replies": "on"})),
    ("subscribe iot bom —REPLIES --exclude TP",
     Request(name="subscribe", words=("iot", "bom"), options={"replies": "on", "exclude": "TP"})),
    ("digest daily 09:00 Europe/Berlin --quiet",
     Request(name="digest", words=("daily", "09:00", "Europe/Berlin", "--quiet"))),
    ("changes motor 3d &amp; more", Request(name="changes", words=("motor", "3d", "&", "more"))),
    ('bom "unbalanced quote', Request(name="bom", words=("unbalanced", "quote"))),
])
def test_parse(text: str, expected: Request) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(("text", "needle"), [
    ("bomm motor", "Did you mean `bom`"),
    ("frobnicate", "I don't know `frobnicate`"),
    ("bom", "`bom` needs more"),
    ("thread motor", "thread number"),
    ("projects --frobnicate", "Unknown option"),
    ("subscribe iot --reply", "`--exclude` and `--replies` (subscribe)"),
    ("subscribe x --exclude", "--exclude` needs"),
    ("x" * 1001, "at most 1000"),
    ("<!channel> hi", "I don't know `channel`"),
])
def test_parse_errors_explain_themselves(text: str, needle: str) -> None:
    with pytest.raises(CommandError, match=None) as caught:
        parse(text)
    assert needle in str(caught.value)


def test_echoed_text_is_escaped() -> None:
    with pytest.raises(CommandError) as caught:
        parse("<@U123> &lt;!here&gt;")
    assert "<" not in str(caught.value).replace("<@", "")


@pytest.mark.parametrize(("words", "project", "rest"), [
    (("motor", "controller", "Lite", "R1"), "Motor Controller", ("Lite", "R1")),
    (("Motor Controller",), "Motor Controller", ()),
    (("iot", "open"), "IoT Sensor Node", ("open",)),
    (("usb-c",), "USB-C PD Charger", ()),
    (("motor", "d"), "Motor Driver", ()),
])
def test_split_project(words: tuple[str, ...], project: str, rest: tuple[str, ...]) -> None:
    assert split_project(words, NAMES) == (project, rest)


def test_split_project_ambiguous_and_unknown() -> None:
    with pytest.raises(CommandError, match="could be several projects: Motor Controller, "
                                           "Motor Driver"):
        split_project(("motor",), NAMES)
    with pytest.raises(CommandError, match="Did you mean: Motor Controller"):
        split_project(("motr", "controler"), NAMES)


@given(st.text(max_size=1200))
def test_any_text_parses_or_explains(text: str) -> None:
    try:
        request = parse(text)
    except CommandError as exc:
        assert str(exc)
        assert "<!" not in str(exc) and "<@" not in str(exc)
    else:
        assert request.name

"""The ``/review`` command line, parsed: a pure function from text to a ``Request``.

It copes with what people type into Slack: smart quotes, Slack's own formatting of
links, channels and mentions, stray spaces, very long text. Anything it cannot make sense
of raises ``CommandError`` with a message fit to show the person as is.
"""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass, field

from bot.slack.mrkdwn import escape

MAX_TEXT = 1000

COMMANDS: dict[str, tuple[str, str]] = {
    "help": ("", "this list"),
    "workspaces": ("", "the Altium 365 workspaces the bot can see"),
    "projects": ("[text]", "projects, 10 a page, filtered by text"),
    "project": ("<project>", "one project: revision, threads, BOM, last poll"),
    "bom": ("<project> [variant] [designator|MPN|text]", "BOM lines, filtered"),
    "comments": ("<project> [open|resolved|all]", "comment threads"),
    "thread": ("<project> <number>", "one thread with its comments"),
    "nets": ("<project> [name]", "PCB nets with length and pad count"),
    "part": ("<MPN or text>", "library components and where they are used"),
    "changes": ("<project> [since]", "the recent event log (since: 2h, 3d, 1w or a date)"),
    "risk": ("<project> [variant] [--yes]",
             "supply risk of every part in the BOM: lifecycle, stock, lead time; `--yes` "
             "when that asks for many parts"),
    "subscribe": ("<project> [comments] [bom] [revisions] [--exclude R,TP,*.SchDoc] "
                  "[--replies]",
                  "post this project's changes here; with `--replies`, replies to its "
                  "thread cards become comments in Altium 365"),
    "unsubscribe": ("<project>", "stop posting a project here"),
    "subscriptions": ("", "what this channel follows, and any pause"),
    "status": ("", "last poll, failures, undelivered events"),
    "digest": ("[daily HH:MM [TZ] | weekly DAY HH:MM [TZ] | weekdays HH:MM [TZ] | off | now] "
               "[--quiet]",
               "this channel's scheduled summary; --quiet posts nothing for a period without "
               "activity"),
}
NEEDS_ARGUMENT = {"project", "bom", "comments", "thread", "nets", "part", "changes",
                  "subscribe", "unsubscribe", "risk"}
ALIASES = {"?": "help", "ws": "workspaces", "sub": "subscribe", "unsub": "unsubscribe",
           "subs": "subscriptions", "threads": "comments", "comment": "comments",
           "net": "nets", "parts": "part", "log": "changes"}

_SMART = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'",
                        "‚": "'", "\u00a0": " "})
_SLACK_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


class CommandError(ValueError):
    """What to tell the person whose command could not be understood."""


@dataclass(frozen=True)
class Request:
    """One ``/review`` invocation: the subcommand, its words, and its flags."""

    name: str
    words: tuple[str, ...] = ()
    share: bool = False
    options: dict[str, str] = field(default_factory=dict)


def usage(name: str) -> str:
    args, what = COMMANDS[name]
    return f"`/review {name}{' ' + args if args else ''}` — {what}"


def help_text() -> str:
    lines = [usage(name) for name in COMMANDS]
    return ("*/review* — Altium 365 design review in Slack\n" + "\n".join(f"• {x}" for x in lines)
            + "\nAdd `--share` to show the answer to the whole channel."
            + "\nWhen the bot has admins, only they may `subscribe`, `unsubscribe`, or set, "
              "stop (`off`) or post (`now`) a `digest`.")


def _unformat(text: str) -> str:
    """Slack's markup back to what the person typed: links, #channels, @mentions."""

    def plain(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("#C") or target.startswith("#G"):
            return f"#{label}" if label else target
        if target.startswith("@U") or target.startswith("@W"):
            return f"@{label}" if label else target
        if target.startswith("!"):
            return label or target[1:]
        return target

    text = _SLACK_LINK.sub(plain, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.replace('"', " ").replace("'", " ").split()


def parse(text: str) -> Request:
    """The request in ``text``; ``CommandError`` when it cannot be understood."""
    if len(text) > MAX_TEXT:
        raise CommandError(f"That is {len(text)} characters; a /review command takes at most "
                           f"{MAX_TEXT}. Try `/review help`.")
    words = _split(_unformat(text.translate(_SMART)).strip())
    share = False
    options: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        lowered = word.lower()
        if lowered in {"--share", "—share", "-share"}:
            share = True
        elif lowered in {"--exclude", "—exclude"}:
            values = []
            while i + 1 < len(words) and not words[i + 1].startswith("-"):
                i += 1
                values.append(words[i])
            if not values:
                raise CommandError("`--exclude` needs what to leave out, e.g. "
                                   "`--exclude TP,R` (designators) or `--exclude *.SchDoc`.")
            options["exclude"] = ",".join(v.strip(",") for v in values if v.strip(","))
        elif lowered in {"--replies", "—replies"}:
            options["replies"] = "on"
        elif lowered in {"--yes", "—yes"}:
            options["yes"] = "on"
        elif lowered == "--quiet":
            rest.append(word)
        elif lowered.startswith("--page="):
            options["page"] = lowered.split("=", 1)[1]
        elif lowered.startswith("--") and len(lowered) > 2:
            raise CommandError(f"Unknown option `{_echo(word)}`. Options: `--share`, "
                               "`--exclude` and `--replies` (subscribe), `--quiet` (digest), "
                               "`--yes` (risk).")
        else:
            rest.append(word)
        i += 1
    if not rest:
        return Request(name="help", share=share)
    name = ALIASES.get(rest[0].lower(), rest[0].lower())
    if name not in COMMANDS:
        close = difflib.get_close_matches(name, list(COMMANDS), n=1, cutoff=0.6)
        hint = f" Did you mean `{close[0]}`?" if close else ""
        raise CommandError(f"I don't know `{_echo(rest[0])}`.{hint} Try `/review help`.")
    if name in NEEDS_ARGUMENT and len(rest) < 2:
        raise CommandError(f"`{name}` needs more: {usage(name)}")
    if name == "thread" and (len(rest) < 3 or not _number(rest[-1])):
        raise CommandError(f"`thread` needs a project and a thread number: {usage(name)}")
    return Request(name=name, words=tuple(rest[1:]), share=share, options=options)


def _number(word: str) -> bool:
    return word.lstrip("#").isdigit()


def thread_number(word: str) -> int:
    return int(word.lstrip("#"))


def split_project(words: tuple[str, ...], names: list[str]) -> tuple[str, tuple[str, ...]]:
    """The project a command names first, and the words after it.

    Tries the longest run of leading words that is a project name (any case), then the
    longest that is the unique start of one; ``CommandError`` lists the candidates when
    nothing, or more than one project, fits.
    """
    folded = {n.casefold(): n for n in names}
    for size in range(len(words), 0, -1):
        candidate = " ".join(words[:size]).casefold()
        if candidate in folded:
            return folded[candidate], words[size:]
    for size in range(len(words), 0, -1):
        candidate = " ".join(words[:size]).casefold()
        starts = [n for n in names if n.casefold().startswith(candidate)]
        if len(starts) == 1:
            return starts[0], words[size:]
        if len(starts) > 1 and size == 1:
            listed = ", ".join(sorted(starts)[:8])
            raise CommandError(f"`{_echo(words[0])}` could be several projects: "
                               f"{escape(listed)}. Type more of the name.")
    wanted = words[0].casefold() if words else ""
    close = difflib.get_close_matches(" ".join(words[:3]), names, n=3, cutoff=0.5) or [
        n for n in names if wanted and wanted in n.casefold()][:3]
    hint = (f" Did you mean: {escape(', '.join(close))}?" if close
            else " Try `/review projects`.")
    raise CommandError(f"No project is called `{_echo(' '.join(words))}`.{hint}")


def _echo(text: str, limit: int = 60) -> str:
    """User text quoted back: one line, short, escaped, no backticks to break the quote."""
    return escape(text.replace("`", "'"), limit, flat=True)

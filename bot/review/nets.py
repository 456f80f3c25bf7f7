"""``/review nets``: a project's nets from Nexar, those whose name holds a word."""

from __future__ import annotations

from bot.review.context import Context
from bot.review.reply import Reply, paged_reply
from bot.slack.cards import named


def nets(ctx: Context) -> Reply:
    info, rest = ctx.resolve(ctx.request.words)
    client, workspace = ctx.client_for(info)
    with client:
        document, found = client.nets(workspace, info.id)
    query = " ".join(rest).casefold()
    chosen = sorted((n for n in found if query in n.name.casefold()),
                    key=lambda n: n.name.casefold())
    lines = [f"`{named(n.name)}` {n.length_mm:,.1f} mm · {n.pads} "
             f"{'pad' if n.pads == 1 else 'pads'}" for n in chosen]
    plural = "s" if len(chosen) != 1 else ""
    head = (f"*{len(chosen)} net{plural} of {named(info.name)}*"
            + (f" on _{named(document)}_" if document else ""))
    return paged_reply(ctx.request, lines or ["_(no nets)_"], head=head,
                       more="read from Nexar just now")

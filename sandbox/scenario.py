"""A scripted round of design review on the demo workspace, for the demo and the tests.

It touches every kind of change the bot reports: a new thread with a hostile text, a
reply, a resolve, a reopen, a part swap, a removal, an addition, a part marked not
fitted and a new revision.
"""

from __future__ import annotations

from sandbox.altium.activity import Store

PROJECT = "Motor Controller"

HOSTILE_TEXT = (
    "C12 sits 0.1 mm from the mounting hole <!channel> & <@U024BE7LH>, "
    "see <https://evil.example/login|the datasheet> *now*"
)

REPLY_TEXT = "Checked on the scope: 10R rings at turn-off, so R17 goes to 22R."
"""Carla's answer to thread #3's question about the gate resistors."""


def play_review_round(altium: Store) -> None:
    """Make one round of review activity happen on the Motor Controller project."""
    altium.open_thread(PROJECT, author="bob.schmidt", text=HOSTILE_TEXT, document="Power.SchDoc")
    altium.reply(PROJECT, 3, author="carla.rossi", text=REPLY_TEXT)
    altium.resolve(PROJECT, 2, by="alice.nguyen")
    altium.reopen(PROJECT, 1, by="dev.patel")
    altium.swap_part(PROJECT, "U3", mpn="TPS62133RGTR", manufacturer="Texas Instruments")
    altium.remove_part(PROJECT, "U7", variant="Default")
    altium.add_part(PROJECT, "TP9", mpn="5019", manufacturer="Keystone Electronics",
                    name="Test point, SMD", variant="Default")
    altium.set_fitted(PROJECT, "U5", False, variant="Default")
    altium.commit_revision(PROJECT, message="Swap buck converter, add test point",
                           author="alice.nguyen")

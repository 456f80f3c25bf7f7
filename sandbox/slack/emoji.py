"""The emoji names reactions may use: Slack's standard ones the sandbox knows, and custom ones.

Slack answers ``invalid_name`` for a reaction that is not an emoji name, including a name
wrapped in colons (``:eyes:``). A standard emoji may carry a skin tone
(``thumbsup::skin-tone-3``). The list is the common part of Slack's set, not all of it.
"""

from __future__ import annotations

import re
from collections.abc import Collection

_NAMES = """
    +1 -1 100 heavy_check_mark white_check_mark ballot_box_with_check x heavy_multiplication_x
    negative_squared_cross_mark warning no_entry no_entry_sign exclamation question
    grey_exclamation grey_question bangbang interrobang eyes thumbsup thumbsdown ok_hand clap
    raised_hands pray wave muscle point_up point_down point_left point_right handshake
    heart orange_heart yellow_heart green_heart blue_heart purple_heart black_heart broken_heart
    smile smiley grin joy laughing sweat_smile wink blush slightly_smiling_face upside_down_face
    thinking_face face_with_monocle neutral_face expressionless confused worried cry sob
    scream disappointed rage sunglasses nerd_face partying_face star_struck hugging_face
    tada confetti_ball sparkles star star2 fire zap boom rocket dart trophy medal
    hourglass hourglass_flowing_sand stopwatch alarm_clock calendar spiral_calendar_pad
    memo pencil pencil2 paperclip pushpin round_pushpin link lock unlock key mag mag_right
    bulb wrench hammer hammer_and_wrench gear nut_and_bolt electric_plug battery
    construction rotating_light triangular_flag_on_post checkered_flag
    speech_balloon thought_balloon left_speech_bubble loudspeaker mega bell no_bell
    arrow_up arrow_down arrow_left arrow_right arrows_counterclockwise repeat recycle
    heavy_plus_sign heavy_minus_sign white_circle black_circle red_circle large_blue_circle
    large_green_circle large_yellow_circle large_orange_circle
    inbox_tray outbox_tray package email envelope incoming_envelope
    computer desktop_computer keyboard printer floppy_disk cd dvd
    see_no_evil hear_no_evil speak_no_evil skull ghost robot_face coffee beer beers pizza
"""
STANDARD = frozenset(_NAMES.split())
"""Standard emoji names (short names, as Slack gives them in ``reactions``)."""

_SKIN_TONE = re.compile(r"^(?P<base>[^:]+)::skin-tone-[2-6]$")
_NAME = re.compile(r"^[a-z0-9_+\-']{1,100}$")


def is_emoji(name: str, custom: Collection[str] = ()) -> bool:
    """Whether ``name`` names a standard emoji (skin tone allowed) or one of ``custom``."""
    if not name or not _NAME.match(name.split("::", 1)[0]):
        return False
    if name in custom:
        return True
    toned = _SKIN_TONE.match(name)
    return (toned.group("base") if toned else name) in STANDARD


__all__ = ["STANDARD", "is_emoji"]

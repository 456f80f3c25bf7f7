"""The directory: the far side's ids for our names, kept between runs."""

from __future__ import annotations

from pathlib import Path

from state.directory import Directory, Lookup
from state.store import Store

THEN = "2026-11-28T10:00:00.000Z"
LATER = "2026-11-29T10:00:00.000Z"


def test_a_person_is_found_by_e_mail_in_any_case(store: Store) -> None:
    directory = Directory(store)
    assert directory.person("alice@example.com") is None
    directory.remember_person("Alice@Example.com", "U024BE7LH", at=THEN)
    assert directory.person("ALICE@example.COM") == Lookup(id="U024BE7LH", checked_at=THEN)


def test_a_miss_is_remembered_and_a_later_answer_replaces_it(store: Store) -> None:
    directory = Directory(store)
    directory.remember_person("bob@example.com", None, at=THEN)
    assert directory.person("bob@example.com") == Lookup(id=None, checked_at=THEN)
    directory.remember_person("bob@example.com", "U0BOB", at=LATER)
    assert directory.person("bob@example.com") == Lookup(id="U0BOB", checked_at=LATER)


def test_target_ids_by_name_are_added_and_updated(store: Store) -> None:
    directory = Directory(store)
    assert directory.channel_id("#design-review") is None
    directory.remember_channels({"#design-review": "C1", "#hw-review": "C2"})
    directory.remember_channels({"#design-review": "C9"})
    assert directory.channel_id("#design-review") == "C9"
    assert directory.channel_id("#hw-review") == "C2"
    assert directory.channel_id("#leads") is None


def test_what_is_remembered_outlives_the_process(db_path: Path) -> None:
    with Store.open(db_path) as store:
        Directory(store).remember_person("carla@example.com", "U0CARLA", at=THEN)
        Directory(store).remember_channels({"#leads": "C3"})
    with Store.open(db_path) as store:
        assert Directory(store).person("carla@example.com") == Lookup(id="U0CARLA",
                                                                      checked_at=THEN)
        assert Directory(store).channel_id("#leads") == "C3"

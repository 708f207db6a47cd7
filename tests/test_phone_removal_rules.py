"""``rules.records.phone_changes``: what an event's phone properties do to a person's, and
who gave each number — the table behind tests/test_phone_removal.py."""

from __future__ import annotations

from typing import Any

import pytest

from leadsync.rules.records import (
    BESIDE,
    KEPT,
    NONE,
    PHONE_SOURCES,
    REMOVED,
    SAME,
    SET,
    phone_changes,
)

AT = "2026-11-02T15:07:40.000Z"
M = "+33612345678"


def _person(mobile: str | None, given_by: list[str] | None | str = "absent") -> dict[str, Any]:
    props: dict[str, Any] = {"mobilephone": mobile}
    if given_by != "absent":
        props[PHONE_SOURCES] = {
            "mobilephone": {"number": M if mobile else None, "given_by": given_by, "why": "w"}
        }
    return props


OTHER = "+33698765432"


@pytest.mark.parametrize(
    ("current", "integration", "whole", "given", "outcome", "given_by"),
    [
        # A number: new, the same again, the same from another tool.
        (_person(None), "phone", True, M, SET, ["phone"]),
        (_person(M, ["phone"]), "phone", True, M, SAME, ["phone"]),  # nothing new to note
        (_person(M, ["crm"]), "phone", True, M, SAME, ["crm", "phone"]),
        (_person(M), "phone", True, "+33 6 12 34 56 78", SET, ["phone"]),  # same, rewritten
        # Another number: its own changed; another's, or one others gave too, kept beside.
        (_person(M, ["phone"]), "phone", True, "+33 6 98 76 54 32", SET, ["phone"]),
        (_person(M, ["crm"]), "phone", True, "+33 6 98 76 54 32", BESIDE, ["crm"]),
        (_person(M, ["phone", "crm"]), "phone", False, OTHER, BESIDE, ["crm"]),
        # Null from a tool that sends whole lists: takes back only what it gave.
        (_person(M, ["phone"]), "phone", True, None, REMOVED, []),
        (_person(M, ["phone", "crm"]), "phone", True, None, KEPT, ["crm"]),
        (_person(M, ["crm"]), "phone", True, None, KEPT, ["crm"]),  # not its: untouched
        (_person(M), "phone", True, None, KEPT, "unknown"),  # given before givers were kept
        (_person(M, "garbage"), "phone", True, None, KEPT, "unknown"),  # not of that shape
        (_person(None), "phone", True, None, NONE, []),
        # Null from any other tool: a clear, whoever gave it.
        (_person(M, ["phone"]), "crm", False, None, REMOVED, []),
        (_person(M), "crm", False, "", REMOVED, []),
        (_person(None), "crm", False, None, NONE, []),
    ],
)
def test_phone_changes(
    current: dict[str, Any],
    integration: str,
    whole: bool,
    given: str | None,
    outcome: str,
    given_by: list[str] | str,
) -> None:
    if given_by == "unknown":
        current.get(PHONE_SOURCES, {}).pop("mobilephone", None)
    [change] = phone_changes({"mobilephone": given}, current, integration, whole, "FR", AT)
    assert change.outcome == outcome
    after = change.source if change.source is not None else _source(current)
    if given_by == "unknown":
        assert change.source is not None and change.source["given_by"] is None
        assert "who gave it is not known" in change.source["why"]
    else:
        assert after is not None and after["given_by"] == given_by
    if outcome in (SET, SAME):
        assert change.phone is not None and change.phone.key in (M, OTHER)
    if outcome == BESIDE:
        assert change.source is not None and change.source["number"] == M
        [kept] = change.beside
        assert kept.index == "mobilephone+1" and kept.old is None
        assert kept.new is not None and kept.new.key == OTHER


def _source(current: dict[str, Any]) -> dict[str, Any] | None:
    entry: dict[str, Any] | None = current.get(PHONE_SOURCES, {}).get("mobilephone")
    return entry


@pytest.mark.parametrize(("made_by", "outcome"), [("phone", REMOVED), ("crm", KEPT), (None, KEPT)])
def test_a_number_given_before_givers_were_kept_is_the_record_makers(
    made_by: str | None, outcome: str
) -> None:
    """Records from before this have numbers nobody is noted for: the whole list of the
    integration that made the record is believed for them, not another's."""
    [change] = phone_changes({"mobilephone": None}, _person(M), "phone", True, "FR", AT, made_by)
    assert change.outcome == outcome
    assert change.source is not None
    assert "given before leadsync kept who gives numbers" in change.source["why"]


def test_a_number_kept_for_want_of_its_giver_is_not_noted_again() -> None:
    [first] = phone_changes({"mobilephone": None}, _person(M), "phone", True, "FR", AT)
    assert first.source is not None
    again = {"mobilephone": M, PHONE_SOURCES: {"mobilephone": first.source}}
    [second] = phone_changes({"mobilephone": None}, again, "phone", True, "FR", AT)
    assert second.outcome == KEPT and second.source is None


def test_only_the_phone_properties_given_change() -> None:
    assert (
        phone_changes({"email": "k@x.test"}, _person(M, ["phone"]), "phone", True, None, AT) == []
    )

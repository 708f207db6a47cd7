"""User mapping rules, without a database: map, auto-match, unmapped policies, round robin,
and the way back (an owner as an integration's external user, for the outbox)."""

from __future__ import annotations

from typing import Any

import pytest

from leadsync.model import ExternalUserRef, Owner
from leadsync.rules.mapping import (
    OwnerDirectory,
    external_owner_id,
    map_external_user,
    passed_over,
    round_robin_turn,
)
from leadsync.rules.workspace import WorkspaceRules, configuration_problems
from leadsync.settings import UserMappingSettings
from tests.helpers import OWNERS, settings, workspace_config

DIRECTORY = OwnerDirectory.build(
    {o["id"]: Owner(o["id"], o["email"], active=o.get("active", True)) for o in OWNERS},
    {"sdr": ("101", "102"), "gone": ("103",)},
)


def users(**overrides: Any) -> UserMappingSettings:
    """The example's user mapping (map u-9 -> 102; directory u-1 ana, u-3 cy; round robin
    over sdr) with keys replaced by ``overrides``."""
    base = settings()["users"]
    config = workspace_config({"dialer": settings(users={**base, **overrides})})
    return config.integrations["dialer"].users


@pytest.mark.parametrize(
    ("rep", "learned", "overrides", "owner", "mapped", "how"),
    [
        (("u-9", None), None, {}, "102", True, "by the explicit map"),
        (("u-1", None), None, {}, "101", True, "by email ana@acme.test"),
        (("x-1", "BO@acme.test "), None, {}, "102", True, "by email bo@acme.test"),
        (("x-2", None), "di@acme.test", {}, "104", True, "by email di@acme.test"),
        (("u-3", None), None, {}, None, False, "who is inactive"),
        (("x-3", None), None, {}, None, False, "team sdr takes it in round robin"),
        (("u-1", None), None, {"auto_match": "none"}, None, False, "auto_match is none"),
        (
            ("x-3", None),
            None,
            {"unmapped": {"policy": "fallback", "owner": "104"}},
            "104",
            False,
            "the fallback owner 104 is used",
        ),
        (("x-3", None), None, {"unmapped": {"policy": "leave"}}, None, False, "policy is leave"),
    ],
)
def test_map_external_user(
    rep: tuple[str, str | None],
    learned: str | None,
    overrides: dict[str, Any],
    owner: str | None,
    mapped: bool,
    how: str,
) -> None:
    result = map_external_user(ExternalUserRef(*rep), users(**overrides), DIRECTORY, learned)
    assert (result.owner_id, result.mapped) == (owner, mapped)
    assert how in result.how


def test_an_unmapped_rep_flags_unless_a_round_robin_or_fallback_owner_takes_it() -> None:
    stranger = ExternalUserRef("x-3", None)
    assert not map_external_user(stranger, users(), DIRECTORY).flagged
    leave = users(unmapped={"policy": "leave"})
    assert map_external_user(stranger, leave, DIRECTORY).flagged
    inactive_team = OwnerDirectory.build(DIRECTORY.owners, {"sdr": ("103",)})
    result = map_external_user(stranger, users(), inactive_team)
    assert result.flagged and result.round_robin_team is None
    assert "has no active owner" in result.how


def test_a_fallback_owner_deactivated_after_the_settings_were_saved_is_not_used() -> None:
    # Saved while 104 was active (an inactive one is refused where settings are written);
    # 104 left since: the rep gets nobody, flagged, and the reason says why.
    fallback = users(unmapped={"policy": "fallback", "owner": "104"})
    owners = {**DIRECTORY.owners, "104": Owner("104", "di@acme.test", active=False)}
    gone = OwnerDirectory.build(owners, DIRECTORY.teams)
    result = map_external_user(ExternalUserRef("x-3", None), fallback, gone)
    assert (result.owner_id, result.mapped, result.flagged) == (None, False, True)
    assert "the fallback owner 104 is inactive" in result.how
    dialer = settings(users={**settings()["users"], "unmapped": fallback.unmapped.model_dump()})
    rules = WorkspaceRules(gone, workspace_config({"dialer": dialer}).integrations)
    assert configuration_problems(rules) == [
        "integrations.dialer.users.unmapped.owner: the fallback owner 104 is inactive or "
        "archived: reps of dialer that map to nobody get no owner (their decisions are "
        "flagged); name an active owner (active owners: 101, 102)"
    ]


@pytest.mark.parametrize("email", ["not an email", "bo at acme.test", "a b@x.test", ""])
def test_an_owner_whose_email_is_not_an_address_is_kept_but_never_matched_by_email(
    email: str,
) -> None:
    # Stored so by an older version or pulled from HubSpot: the directory still loads.
    owners = {**DIRECTORY.owners, "105": Owner("105", email, "Ed", "Wu")}
    directory = OwnerDirectory.build(owners, {"sdr": ("101", "105")})
    assert directory.unmatchable == ("105",)
    assert directory.is_active("105") and directory.active_team("sdr") == ("101", "105")
    assert email.strip().lower() not in directory.active_by_email
    assert directory.owner_with_email(email.strip().lower()) is None
    # A rep said to have the same text is not matched to it either.
    leave = users(unmapped={"policy": "leave"})
    result = map_external_user(ExternalUserRef("u-5", email or None), leave, directory)
    assert (result.owner_id, result.mapped) == (None, False)
    # The explicit map still reaches it, and the way back never names it by email.
    mapped = users(map={"u-5": "101"})
    assert map_external_user(ExternalUserRef("u-5", None), mapped, directory).owner_id == "101"
    assert external_owner_id(users(), "105", directory) is None
    rules = WorkspaceRules(directory, {})
    assert configuration_problems(rules) == [
        "owner 105 has a stored email that is not an email address (leadsync owners list "
        "shows it): the owner is kept (records, history, the map and teams still name it) but "
        "no rep is matched to it by email; correct the email in the workspace file and run "
        "leadsync apply (owners from HubSpot: correct it there, then leadsync owners pull)"
    ]
    assert "Ed Wu" not in configuration_problems(rules)[0]  # /readyz answers anyone


def test_round_robin_takes_turns_from_the_persisted_position() -> None:
    turns = [round_robin_turn(DIRECTORY, "sdr", n) for n in range(4)]
    assert turns == [("101", 1), ("102", 2), ("101", 3), ("102", 4)]
    assert DIRECTORY.active_team("gone") == ()
    assert round_robin_turn(DIRECTORY, "gone", 5) == (None, 5)  # 103 is inactive
    assert round_robin_turn(DIRECTORY, "nobody", 0) == (None, 0)


def test_a_member_made_inactive_costs_the_next_one_no_turn() -> None:
    """[101, 102, 104], 101 made inactive after the first turn: 102 is due, then 104, then
    102 again (not 104 twice, as a pick among the active members alone gave)."""
    owners = {
        o["id"]: Owner(o["id"], o["email"], active=o["id"] != "101" and o.get("active", True))
        for o in OWNERS
    }
    three = OwnerDirectory.build(owners, {"sdr": ("101", "102", "104")})
    position, picked = 1, []  # 101 took the first turn while active
    for _ in range(4):
        owner, position = round_robin_turn(three, "sdr", position)
        picked.append(owner)
    assert picked == ["102", "104", "102", "104"]
    assert round_robin_turn(three, "sdr", 3) == ("102", 5)  # 101's turn passes to 102
    assert passed_over(three, "sdr", 3, 5) == " (101's turn passed: inactive)"
    assert passed_over(three, "sdr", 4, 5) == ""


@pytest.mark.parametrize(
    ("owner", "overrides", "external"),
    [
        ("102", {}, "u-9"),  # the explicit map
        ("102", {"map": {"u-9": "102", "u-2": "102"}}, "u-2"),  # several: the lowest id
        ("101", {}, "u-1"),  # the directory, by the owner's email (case ignored)
        ("104", {}, None),  # neither knows the owner
        ("999", {}, None),  # not an owner at all
        (None, {}, None),
    ],
)
def test_external_owner_id(owner: str | None, overrides: dict[str, Any], external: str) -> None:
    assert external_owner_id(users(**overrides), owner, DIRECTORY) == external


def test_a_rep_named_only_by_email_is_in_the_map_by_that_email_in_any_case() -> None:
    """The map's entry for a rep its tool names only by email (as a review answer writes it)
    is matched as emails are everywhere: trimmed, in any case. It beats auto-match."""
    mapped = users(map={"Di@Acme.test": "101"})
    for email in ("di@acme.test", "DI@acme.test"):
        result = map_external_user(ExternalUserRef(None, email), mapped, DIRECTORY)
        assert (result.owner_id, result.mapped) == ("101", True), result.how
        assert result.how.endswith("maps to 101 by the explicit map")
    # The entry is an email, not a rep id: a rep with an id is not matched by it.
    other = map_external_user(ExternalUserRef("u-4", "di@acme.test"), mapped, DIRECTORY)
    assert other.owner_id == "104"


def test_the_reason_says_where_the_email_a_rep_is_matched_by_comes_from() -> None:
    """The directory's email beats the event's, and a learned one is the last resort: the
    reason says which it was when the event did not carry it."""
    listed = map_external_user(ExternalUserRef("u-1", "bo@acme.test"), users(), DIRECTORY)
    assert listed.owner_id == "101"
    assert listed.how == (
        "rep u-1 (bo@acme.test) maps to 101 by email ana@acme.test (the directory's for u-1)"
    )
    own = map_external_user(ExternalUserRef("u-1", " ANA@acme.test"), users(), DIRECTORY)
    assert own.how == "rep u-1 ( ANA@acme.test) maps to 101 by email ana@acme.test"
    learned = map_external_user(ExternalUserRef("x-2", None), users(), DIRECTORY, "di@acme.test")
    assert learned.how == (
        "rep x-2 maps to 104 by email di@acme.test (as an earlier event of the rep gave it)"
    )
    inactive = map_external_user(ExternalUserRef("u-3", None), users(), DIRECTORY)
    assert inactive.how.startswith(
        "rep u-3 matches owner 103 by email cy@acme.test (the directory's for u-3), who is "
        "inactive, so team sdr takes it in round robin"
    )


@pytest.mark.parametrize(
    ("unmapped", "kept_out"),
    [
        ({"policy": "round_robin", "team": "sdr"}, "so team sdr would take it in round robin"),
        ({"policy": "fallback", "owner": "101"}, "so the fallback owner 101 would be used"),
    ],
)
def test_an_unmapped_reps_owner_kept_out_is_said_as_not_taken(
    workspace: Any, unmapped: dict[str, Any], kept_out: str
) -> None:
    """A decision that keeps the record's owner said the unmapped policy's owner "takes it" or
    "is used" — "kept 104: fill_if_empty and the contact already has an owner; …, so team sdr
    takes it in round robin" (found by a probe): it would, had the owner been taken."""
    from tests.helpers import ev, run, setup

    setup(workspace, users={"map": {"u-4": "104"}, "unmapped": unmapped})
    contact = {"object": "contact", "external_id": "k1", "properties": {"email": "k@g.test"}}
    run(workspace, ev("record", owner="u-4", **contact))
    run(workspace, ev("record", "2026-11-02T09:00:00Z", owner="u-77", **contact))
    [k1] = workspace.find(external="dialer:k1")
    history = workspace.record("contact", k1["id"])["owner_history"]
    assert [d["outcome"] for d in history] == ["set", "kept"]
    assert history[1]["reason"].startswith("kept 104: fill_if_empty and the contact already")
    assert history[1]["reason"].endswith(kept_out)

"""The settings preview lists the changed keys in the settings' own order (the models'
order, as ``leadsync export`` writes them), a key the change no longer sets where it was,
and says when one is dropped because the new settings do not allow it (an unmapped policy's
team or owner that the new policy takes no part of)."""

from __future__ import annotations

from leadsync.model import now_ts
from leadsync.ops.settings_change import changed_keys, summarize
from leadsync.ops.settings_form import change_from_form
from leadsync.workspace import Workspace
from tests.helpers import settings, workspace_config
from tests.test_console_settings import form

ROUND_ROBIN = {"unmapped": {"policy": "round_robin", "team": "sdr"}, "map": {"u-9": "102"}}


def test_a_team_dropped_with_policy_leave_is_listed_in_place_saying_why(
    workspace: Workspace,
) -> None:
    workspace.apply_config(
        workspace_config({"dialer": settings(secret_env="DIALER_SECRET", users=ROUND_ROBIN)})
    )
    sent = form(**{"users.unmapped.policy": "leave", "activities.note.enabled": []})
    del sent["activities.note.enabled"]  # unticked: a change after the users' keys
    proposal = workspace.preview_settings_change("dialer", change_from_form(sent).data, now_ts())
    assert proposal.settings.users.unmapped.team is None
    assert proposal.preview.summary.split("; ") == [
        "users.unmapped.policy: round_robin → leave",
        "users.unmapped.team: sdr → (not set: not allowed with policy leave)",
        "activities.note.enabled: true → false",
    ]


def test_keys_no_longer_set_keep_their_place_in_the_settings_order() -> None:
    before = {"a": 1, "users": {"map": {"u-1": "101", "u-2": "102"}, "x": 1}, "z": {"k": 1}}
    after = {"a": 2, "users": {"map": {"u-2": "103"}, "x": 1}, "z": {"k": 2}}
    assert [str(c) for c in changed_keys(before, after)] == [
        "a: 1 → 2",
        "users.map.u-1: 101 → (not set)",
        "users.map.u-2: 102 → 103",
        "z.k: 1 → 2",
    ]
    fallback = {"users": {"unmapped": {"policy": "fallback", "owner": "101", "team": None}}}
    team = {"users": {"unmapped": {"policy": "round_robin", "owner": None, "team": "sdr"}}}
    assert summarize(fallback, team) == (
        "users.unmapped.policy: fallback → round_robin; "
        "users.unmapped.owner: 101 → (not set: not allowed with policy round_robin); "
        "users.unmapped.team: (not set) → sdr"
    )


def test_values_are_shown_as_the_settings_file_writes_them() -> None:
    """Lists of objects, booleans and tuples in YAML's flow style, a key not set left out —
    not Python's ``{'id': 'u-1', 'name': None}`` or ``True`` (``rollout status`` showed
    those to an admin reviewing a change before promoting it)."""
    before = {
        "users": {
            "directory": [
                {"id": "u-1", "email": "ANA@acme.test", "name": "Ana Ng"},
                {"id": "u-3", "email": "cy@acme.test", "name": None},
            ]
        },
        "activities": {"call": {"enabled": True, "skip_outcomes": ("no_answer", "busy")}},
    }
    after = {
        "users": {"directory": []},
        "activities": {"call": {"enabled": False, "skip_outcomes": ()}},
    }
    assert summarize(before, after).split("; ") == [
        "users.directory: [{id: u-1, email: ANA@acme.test, name: Ana Ng}, "
        "{id: u-3, email: cy@acme.test}] → []",
        "activities.call.enabled: true → false",
        "activities.call.skip_outcomes: [no_answer, busy] → []",
    ]

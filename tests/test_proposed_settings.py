"""Proposed settings (``preview``/``replay --settings``, ``POST /api/preview|replay``): a
partial file amends the current settings, a whole workspace file replaces them, and every
mistake is reported as ``apply`` reports it: ``FILE:LINE: key.path: message`` (issue 10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.errors import ConfigError
from leadsync.model import RecordType, Strategy, UnmappedPolicy
from leadsync.settings import (
    ActivityTypeSettings,
    ProposedIntegration,
    UnmappedSettings,
    WorkspaceConfig,
    integration_to_dict,
    load_proposed,
)
from leadsync.workspace import Workspace
from tests.helpers import OWNERS, call_line, contact_line, settings, workspace_config
from tests.live import configure, serve

HISTORY = [
    contact_line("p-1", "u-1", "2026-11-01T09:00:00Z"),  # 101
    contact_line("p-2", "u-1", "2026-11-01T09:00:00Z"),  # 101
    contact_line("p-3", "u-9", "2026-11-01T09:00:00Z"),  # 102 by the map
    contact_line("p-4", "u-404", "2026-11-01T09:00:00Z"),  # unmapped: round robin (sdr)
    contact_line("p-1", "u-9", "2026-11-02T09:00:00Z"),  # fill_if_empty keeps 101; wins: 102
    contact_line("p-3", "u-1", "2026-11-02T09:00:00Z"),  # fill_if_empty keeps 102; wins: 101
    call_line("c-1", "p-1", 95, "2026-11-03T10:00:00Z"),
    call_line("c-2", "p-2", 4, "2026-11-03T10:00:00Z"),  # shorter than min_duration_s 10
]

WINS_ONLY = "kind: generic\nownership:\n  default: integration_wins\n"


def current() -> WorkspaceConfig:
    return workspace_config({"dialer": settings()})


def proposed(text: str, config: WorkspaceConfig | None = None) -> ProposedIntegration:
    return load_proposed(text, "proposed.yaml", "dialer", config or current())


def problems(text: str, config: WorkspaceConfig | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        proposed(text, config)
    return caught.value.problems


# ------------------------------------------------------------------ amend or replace


def test_one_section_amends_the_current_settings() -> None:
    read = proposed(WINS_ONLY)
    now = current().integrations["dialer"]
    assert read.settings.ownership.default is Strategy.INTEGRATION_WINS
    # Everything the file does not say is as it is now, within the section too.
    assert read.settings.ownership.strategy_for(RecordType.DEAL) is Strategy.NEVER_OVERWRITE
    assert read.settings.ownership.protect_manual_days == 14
    assert read.settings.users == now.users
    assert read.settings.activities == now.activities
    assert read.settings.associations == now.associations
    assert not read.whole
    assert read.describe() == (
        "settings: proposed.yaml merged over the current settings (integrations.dialer.ownership)"
    )


def test_the_workspace_shape_may_be_partial_too() -> None:
    read = proposed("integrations:\n  dialer:\n    ownership: {default: integration_wins}\n")
    assert read.settings == current().integrations["dialer"].model_copy(
        update={"ownership": read.settings.ownership}
    )
    assert read.settings.ownership.default is Strategy.INTEGRATION_WINS
    assert read.sections == ("integrations.dialer.ownership",)


def test_a_misspelled_integration_is_named_at_its_own_line() -> None:
    """It said `proposed.yaml:1: integrations: has no integration 'dialer'`."""
    text = "integrations:\n  dailer:\n    ownership: {default: integration_wins}\n"
    assert problems(text) == [
        "proposed.yaml:2: integrations.dailer: not the integration proposed for; allowed: "
        "dialer (a partial settings file holds the keys of that one integration)"
    ]
    assert problems("integrations: {}\n") == [
        "proposed.yaml:1: integrations: has no integration 'dialer'"
    ]


def test_a_whole_workspace_file_replaces_the_integrations_settings() -> None:
    doc = {
        "owners": OWNERS,
        "teams": {"sdr": ["101"]},
        "integrations": {
            "dialer": {"kind": "generic", "ownership": {"default": "integration_wins"}}
        },
    }
    read = proposed(json.dumps(doc))
    assert read.whole
    assert read.settings.users.map == {}  # replaced: the file says nothing of a map
    assert read.settings.ownership.default is Strategy.INTEGRATION_WINS
    assert "replaces the current settings of integrations.dialer" in read.describe()


def test_merge_rules() -> None:
    read = proposed(
        "users:\n"
        "  map: {u-7: '101'}\n"  # a mapping: merged key by key
        "  unmapped: {policy: fallback, owner: '104'}\n"  # a policy: replaces the block
        "ownership: {deal: null}\n"  # null: back to the default
        "activities:\n"
        "  call: false\n"  # true/false means {enabled: ...}: the filters stay
        "  email: {enabled: true}\n"
        "  meeting: {skip_outcomes: [no_show]}\n"
    )
    users = read.settings.users
    assert users.map == {"u-9": "102", "u-7": "101"}
    assert users.unmapped == UnmappedSettings(policy=UnmappedPolicy.FALLBACK, owner="104")
    assert [u.id for u in users.directory] == ["u-1", "u-3"]
    assert read.settings.ownership.deal is None
    activities = read.settings.activities
    assert activities.call == ActivityTypeSettings(
        enabled=False, min_duration_s=10, skip_outcomes=("no_answer", "busy")
    )
    assert activities.email.enabled is True
    assert activities.meeting == ActivityTypeSettings(skip_outcomes=("no_show",))
    lists = proposed("users:\n  directory: [{id: u-5}]\n").settings.users
    assert [u.id for u in lists.directory] == ["u-5"]  # a list replaces
    round_robin = proposed("users:\n  unmapped: {team: sdr}\n").settings.users.unmapped
    assert round_robin == UnmappedSettings(policy=UnmappedPolicy.ROUND_ROBIN, team="sdr")


def test_a_default_is_written_only_where_the_current_settings_write_it() -> None:
    # The console sends its whole form: keys left as they were must neither gain written
    # defaults nor lose those the file wrote (the export, and its YAML diff, would change).
    untouched = (
        "users: {auto_match: email, unmapped: {policy: round_robin, team: sdr}}\n"
        "ownership: {default: fill_if_empty, contact: null, assign_on_activity: false}\n"
        "associations: {mode: automatic, max_deals: 5}\n"
        "unknown_counterpart: {policy: hold, hold_days: 7}\n"
        "ambiguous: {number: queue, owner: queue}\n"
        "activities: {call: {enabled: true, min_duration_s: 10, skip_outcomes: [no_answer, busy]}, "
        "note: {enabled: true, skip_outcomes: []}}\n"
    )
    now = integration_to_dict(current().integrations["dialer"])
    assert integration_to_dict(proposed(untouched).settings) == now
    # A key put back to its default is no longer written, as null leaves it.
    back = integration_to_dict(proposed("ownership: {protect_manual_days: 0}\n").settings)
    assert back["ownership"] == {
        k: v for k, v in now["ownership"].items() if k != "protect_manual_days"
    }
    # A rollout's sections replace whole: what it writes stays written.
    rollout = "rollout: {percent: 10, settings: {ownership: {default: fill_if_empty}}}\n"
    assert integration_to_dict(proposed(rollout).settings)["rollout"] == {
        "percent": 10,
        "settings": {"ownership": {"default": "fill_if_empty"}},
    }


# ------------------------------------------------------------------ mistakes, as apply says them


def test_mistakes_name_the_line_and_the_key_path_of_the_file() -> None:
    assert problems("kind: generic\nownership:\n  default: sometimes\n") == [
        "proposed.yaml:3: ownership.default: 'sometimes' is not allowed; allowed: "
        "integration_wins, fill_if_empty, never_overwrite, bidirectional"
    ]
    assert problems("integrations:\n  dialer:\n    ownership: {default: sometimes}\n")[
        0
    ].startswith(
        "proposed.yaml:3: integrations.dialer.ownership.default: 'sometimes' is not allowed"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("activites:\n", "proposed.yaml:1: activites: unknown key; allowed: kind, secret_env"),
        ("activites: {}\n", "proposed.yaml:1: activites: unknown key; allowed: kind"),
        ("ownership: {defalt: null}\n", "proposed.yaml:1: ownership.defalt: unknown key"),
        (
            "rollout: {percent: 10, settings: {activites: null}}\n",
            "proposed.yaml:1: rollout.settings.activites: unknown key",
        ),
        ("vendor: {nope: null}\n", "proposed.yaml:1: vendor.nope: unknown key; allowed: "),
        (
            "integrations:\n  dialer:\n    activities: {call: {min_duraton_s: }}\n",
            "proposed.yaml:3: integrations.dialer.activities.call.min_duraton_s: unknown key; "
            "allowed: enabled, min_duration_s, skip_outcomes",
        ),
    ],
)
def test_a_misspelled_key_left_empty_is_refused_not_merged(text: str, expected: str) -> None:
    """A key set to null or to nothing takes its default, so the merge leaves it out and the
    checks of the merged settings never saw a misspelled one: it was said to be merged."""
    [problem] = problems(text)
    assert problem.startswith(expected), problem


def test_null_still_puts_a_known_key_back_to_its_default() -> None:
    amended = proposed("users: {map: {u-9: null}}\nactivities: {call: null}\n")
    assert amended.settings.users.target_of("u-9") is None


def test_every_mistake_at_once_duplicate_keys_included() -> None:
    text = (
        "kind: generic\n"
        "ownership:\n"
        "  default: integration_wins\n"
        "  default: never_overwrite\n"
        "users:\n"
        "  map: {u-7: '999'}\n"
        "  unmapped: {policy: fallback}\n"
        "activities: {call: {min_duration_s: -1}}\n"
    )
    assert problems(text) == [
        "proposed.yaml:4: ownership.default: duplicate key (also line 3); allowed: each key once",
        "proposed.yaml:6: users.map.u-7: unknown owner '999'; known owners: 101, 102, 103, 104",
        "proposed.yaml:7: users.unmapped.owner: required when policy is fallback; allowed: an active owner's id",
        "proposed.yaml:8: activities.call.min_duration_s: must be at least 0; got -1; "
        "allowed: a number from 0 to 86400",
    ]


def test_the_file_is_checked_against_the_workspace() -> None:
    # A whole file's own owners are not the workspace's: the preview decides with these.
    doc = {
        "owners": [*OWNERS, {"id": "105", "email": "ed@acme.test"}],
        "integrations": {"dialer": {"kind": "generic", "users": {"map": {"u-7": "105"}}}},
    }
    text = json.dumps(doc, indent=1)
    line = text.splitlines().index('     "u-7": "105"') + 1
    assert problems(text) == [
        f"proposed.yaml:{line}: integrations.dialer.users.map.u-7: unknown owner '105'; "
        "known owners: 101, 102, 103, 104 (in the workspace: preview and replay decide with "
        "its owners and teams)"
    ]


def test_a_problem_in_what_the_file_leaves_as_it_is_says_so() -> None:
    config = workspace_config({"dialer": settings(vendor={"timestamp_tolerance_s": 60})})
    assert problems("kind: outreach\n", config) == [
        "proposed.yaml:1: vendor.timestamp_tolerance_s: not allowed for kind outreach; only "
        "for generic, salesforce (in the current settings)"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "proposed.yaml:1: no settings"),
        ("- kind: generic\n", "proposed.yaml:1: expected a mapping"),
        (
            "integrations:\n  phone: {kind: aircall}\n",
            "proposed.yaml:2: integrations.phone: not the integration proposed for",
        ),
        ("teams: {sdr: ['101']}\nintegrations: {dialer: {}}\n", "proposed.yaml:1: teams: "),
        ("ownership: {default: integration_wins\n", "proposed.yaml:2: invalid YAML"),
    ],
    ids=["empty", "a list", "another integration", "a partial file's teams", "bad YAML"],
)
def test_unusable_files_are_refused(text: str, expected: str) -> None:
    found = problems(text)
    assert found[0].startswith(expected), found


# ------------------------------------------------------------------ the faces


def test_the_cli_amends_and_says_so(tmp_path: Path, db_url: str) -> None:
    with Workspace(db_url) as ws:
        ws.apply_config(current())
        ws.ingest("dialer", HISTORY)
    file = tmp_path / "proposed.yaml"
    file.write_text(WINS_ONLY)
    runner = CliRunner()
    env = {"LEADSYNC_DB": db_url}
    replayed = runner.invoke(app, ["replay", "dialer", "--settings", str(file), "--json"], env=env)
    assert replayed.exit_code == 0, replayed.output
    data = json.loads(replayed.stdout)
    # Only the strategy changed: p-1 and p-3 differ; the map, the round robin and the call
    # filter are the current ones, so nothing else does.
    assert data["owners_differ"] == 2, data
    assert data["activities_appear"] == {} and data["activities_disappear"] == {}
    note = f"settings: {file} merged over the current settings (integrations.dialer.ownership)"
    assert note in replayed.stderr
    text = runner.invoke(app, ["replay", "dialer", "--settings", str(file)], env=env)
    assert text.stdout.startswith(note)
    events = tmp_path / "later.jsonl"
    events.write_text(contact_line("p-3", "u-9", at="2026-11-04T09:00:00Z") + "\n")
    shown = runner.invoke(app, ["preview", "dialer", str(events), "--settings", str(file)], env=env)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith(note)
    file.write_text("ownership:\n  default: never_overwrite\n  default: sometimes\n")
    refused = runner.invoke(
        app, ["preview", "dialer", str(events), "--settings", str(file)], env=env
    )
    assert refused.exit_code == 2
    assert refused.stderr.splitlines() == [
        f"error: {file}:3: ownership.default: duplicate key (also line 2); allowed: each key once",
        f"error: {file}:3: ownership.default: 'sometimes' is not allowed; allowed: "
        "integration_wins, fill_if_empty, never_overwrite, bidirectional",
    ]
    unknown = runner.invoke(app, ["replay", "nope", "--settings", str(file)], env=env)
    assert unknown.exit_code == 2 and "unknown integration 'nope'" in unknown.stderr


def test_the_api_amends_too(db_url: str) -> None:
    with Workspace(db_url) as ws:
        configure(ws)
        ws.ingest("dialer", HISTORY)
        with serve(ws) as live:
            partial = {"ownership": {"default": "integration_wins"}}
            replayed = live.client.post(
                "/api/replay", json={"integration": "dialer", "settings": partial}
            )
            assert replayed.status_code == 200, replayed.text
            assert replayed.json()["owners_differ"] == 2
            later = json.loads(contact_line("p-1", "u-9", at="2026-11-04T09:00:00Z"))
            shown = live.client.post(
                "/api/preview",
                json={"integration": "dialer", "events": [later], "settings": partial},
            )
            assert shown.status_code == 200, shown.text
            [event] = shown.json()["events"]
            assert [(d["outcome"], d["owner_id"]) for d in event["owner_decisions"]] == [
                ("set", "102")
            ]
            bad = live.client.post(
                "/api/preview",
                json={
                    "integration": "dialer",
                    "events": [later],
                    "settings": {"users": {"map": {"u-7": "999"}}},
                },
            )
            assert bad.status_code == 422
            assert bad.json()["problems"] == [
                "<api>: integrations.dialer.users.map.u-7: unknown owner '999'; "
                "known owners: 101, 102, 103, 104"
            ]


def test_config_is_read_by_one_yaml_reader() -> None:
    # The reader `apply` uses (duplicate keys refused, lines kept) is the only one for
    # settings; the HubSpot stand-in reads its own OpenAPI document, which is not config.
    package = Path(__file__).parent.parent / "src" / "leadsync"
    readers = {
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "yaml.safe_load" in (text := path.read_text(encoding="utf-8"))
        or "yaml.load(" in text
        or "yaml.full_load" in text
    }
    assert readers <= {"destinations/hubspot/fake/contract.py"}, readers

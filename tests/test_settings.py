"""The workspace file: accepted as written, round-tripped, and every mistake pinned to a line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.errors import ConfigError
from leadsync.model import (
    CALL_OUTCOMES,
    MEETING_OUTCOMES,
    ActivityType,
    AssociationMode,
    AutoMatch,
    CompanyAssociation,
    DealAssociation,
    RecordType,
    Strategy,
    UnmappedPolicy,
)
from leadsync.settings import (
    KNOWN_KINDS,
    ActivityTypeSettings,
    IntegrationSettings,
    UnmappedSettings,
    WorkspaceConfig,
    config_from_dict,
    config_to_dict,
    destination_from_dict,
    dump_config,
    integration_from_dict,
    integration_to_dict,
    load_config,
    load_config_file,
)
from tests.helpers import EXAMPLE_YAML as EXAMPLE  # noqa: E402


def edit(old: str, new: str, text: str = EXAMPLE) -> str:
    """The example with one exact, unique change (so a typo in a test cannot pass silently)."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> str:
    """A real file named team.yaml, given as a relative path so messages read 'team.yaml:N'."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "team.yaml").write_text(text, encoding="utf-8")
    return "team.yaml"


def problems_of(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> list[str]:
    path = write(tmp_path, monkeypatch, text)
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


# ------------------------------------------------------------------ accepted as written


def test_example_is_accepted_and_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config_file(write(tmp_path, monkeypatch, EXAMPLE))

    assert [o.id for o in config.owners] == ["101", "102", "103"]
    assert config.owners[0].first_name == "Ana"
    assert config.owners[2].active is False
    assert config.teams == {"sdr": ("101", "102")}

    dialer = config.integrations["dialer"]
    assert dialer.kind == "generic"
    assert dialer.users.auto_match is AutoMatch.EMAIL
    assert dialer.users.map == {"u-9": "102"}
    assert [u.id for u in dialer.users.directory] == ["u-1", "u-3"]
    assert dialer.users.directory[0].email == "ANA@acme.test"  # kept as written
    assert dialer.users.directory_email("u-1") == "ana@acme.test"  # normalized for matching
    assert dialer.users.directory_email("u-404") is None
    assert dialer.users.unmapped == UnmappedSettings(policy=UnmappedPolicy.ROUND_ROBIN, team="sdr")

    ownership = dialer.ownership
    assert ownership.strategy_for(RecordType.DEAL) is Strategy.NEVER_OVERWRITE
    assert ownership.strategy_for(RecordType.CONTACT) is Strategy.FILL_IF_EMPTY
    assert ownership.strategy_for(RecordType.COMPANY) is Strategy.FILL_IF_EMPTY
    assert ownership.protect_manual_days == 14
    assert ownership.assign_on_activity is False

    activities = dialer.activities
    call = activities.for_type(ActivityType.CALL)
    assert call.enabled and call.min_duration_s == 10
    assert call.skip_outcomes == ("no_answer", "busy")
    assert activities.for_type(ActivityType.EMAIL).enabled is False
    assert activities.for_type(ActivityType.MEETING) == ActivityTypeSettings(enabled=True)
    assert activities.note.enabled and activities.task.enabled

    associations = dialer.associations
    assert associations.mode is AssociationMode.AUTOMATIC
    assert associations.primary is RecordType.CONTACT
    assert associations.company is CompanyAssociation.PRIMARY
    assert associations.deal is DealAssociation.MOST_RECENT_OPEN
    assert associations.max_deals == 5


@pytest.mark.parametrize(
    ("yaml_text", "says"),
    [
        (
            "integrations: {d: {kind: generic, ownership: {protect_manual_days: 1.0e+20}}}",
            "integrations.d.ownership.protect_manual_days: must be at most 36500",
        ),
        (
            "integrations: {d: {kind: generic, activities: {call: {min_duration_s: 90000}}}}",
            "integrations.d.activities.call.min_duration_s: must be at most 86400",
        ),
        ("monitoring: {unowned_after_minutes: .inf}", "monitoring.unowned_after_minutes"),
        ("monitoring: {max_review_age_hours: 1.0e+9}", "monitoring.max_review_age_hours"),
        ("monitoring: {timeline_max_per_day: 99999999999999999999}", "timeline_max_per_day"),
        ("destination: {kind: hubspot, limits: {daily: 1.0e+12}}", "destination.limits.daily"),
    ],
)
def test_numbers_past_what_a_date_or_a_query_can_hold_are_refused(
    yaml_text: str, says: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(yaml_text)
    assert says in str(refused.value)


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "\n\n", "---\n", "~\n"])
def test_an_empty_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    # Applied, it would archive every owner and remove every integration.
    problems = problems_of(tmp_path, monkeypatch, text)
    assert problems == [
        "team.yaml: the file declares nothing (it is empty); to remove every owner and "
        "integration, apply a file that says so: owners: [] and integrations: {}"
    ]


def test_a_file_that_declares_nothing_explicitly_is_an_empty_config() -> None:
    assert load_config("owners: []\nintegrations: {}\n") == WorkspaceConfig()
    assert load_config("{}") == WorkspaceConfig()


def test_empty_sections_mean_defaults() -> None:
    config = load_config("owners:\nteams:\nintegrations:\n  d:\n    kind: generic\n    users:\n")
    assert config.integrations["d"] == IntegrationSettings(kind="generic")


def test_yaml_ints_are_taken_as_ids() -> None:
    config = load_config(
        "owners: [{id: 101, email: a@x.test}]\nteams: {7: [101]}\n"
        "integrations: {d: {kind: generic, users: {map: {9: 101}}}}\n"
    )
    assert config.owners[0].id == "101"
    assert config.teams == {"7": ("101",)}
    assert config.integrations["d"].users.map == {"9": "101"}


def test_outcomes_are_lowercased_and_emails_trimmed() -> None:
    config = load_config(
        "owners: [{id: '1', email: '  Ana@X.test '}]\n"
        "integrations: {d: {kind: generic, activities: {call: {skip_outcomes: [No_Answer]}, "
        "meeting: {skip_outcomes: [NO_SHOW]}}, users: {directory: [{id: u, email: ' A@B '}]}}}\n"
    )
    assert config.owners[0].email == "Ana@X.test"
    activities = config.integrations["d"].activities
    assert activities.call.skip_outcomes == ("no_answer",)
    assert activities.meeting.skip_outcomes == ("no_show",)
    users = config.integrations["d"].users
    assert users.directory[0].email == "A@B"
    assert users.directory_email("u") == "a@b"


# ------------------------------------------------------------------------- round trip


def test_round_trip_of_the_example() -> None:
    config = load_config(EXAMPLE)
    text = dump_config(config)
    assert load_config(text) == config
    assert dump_config(load_config(text)) == text  # stable
    assert dump_config(config) == text


def test_export_has_the_file_shape() -> None:
    data = config_to_dict(load_config(EXAMPLE))
    assert list(data) == ["owners", "teams", "integrations"]
    assert data["owners"][2] == {
        "id": "103",
        "email": "cy@acme.test",
        "first_name": "Cy",
        "last_name": "Oh",
        "active": False,
    }
    dialer = data["integrations"]["dialer"]
    # Every key the file writes, in the order the schema declares them: a value equal to its
    # default too (auto_match: email, default: fill_if_empty, the associations).
    assert dialer == {
        "kind": "generic",
        "users": {
            "auto_match": "email",
            "map": {"u-9": "102"},
            "directory": [
                {"id": "u-1", "email": "ANA@acme.test"},
                {"id": "u-3", "email": "cy@acme.test"},
            ],
            "unmapped": {"policy": "round_robin", "team": "sdr"},
        },
        "ownership": {
            "default": "fill_if_empty",
            "deal": "never_overwrite",
            "protect_manual_days": 14,
            "assign_on_activity": False,
        },
        "activities": {
            "call": {"enabled": True, "min_duration_s": 10, "skip_outcomes": ["no_answer", "busy"]},
            "email": False,
            "meeting": True,
            "note": True,
            "task": True,
        },
        "associations": {
            "mode": "automatic",
            "primary": "contact",
            "company": "primary",
            "deal": "most_recent_open",
            "max_deals": 5,
        },
    }
    assert yaml.safe_load(yaml.safe_dump(data)) == data  # plain types only
    assert integration_to_dict(IntegrationSettings(kind="generic")) == {"kind": "generic"}


def test_a_value_written_equal_to_its_default_is_kept_and_one_left_out_stays_out() -> None:
    # Written, a default pins the value (a later leadsync's default does not move it); left
    # out, it follows the default. The export, and what is stored, keep the difference.
    pinned = load_config(
        "destination: {kind: hubspot, api_version: '2026-03', owners_refresh_minutes: 15}\n"
        "monitoring: {flapping_changes: 3}\n"
        "integrations:\n"
        "  d:\n"
        "    kind: generic\n"
        "    unknown_counterpart: {policy: hold}\n"
        "    rollout: {percent: 10, settings: {ownership: {default: fill_if_empty}}}\n"
    )
    data = config_to_dict(pinned)
    assert data["destination"] == {
        "kind": "hubspot",
        "token_env": "HUBSPOT_TOKEN",
        "api_version": "2026-03",
        "owners_refresh_minutes": 15,
    }
    assert data["monitoring"] == {"flapping_changes": 3}
    assert data["integrations"]["d"] == {
        "kind": "generic",
        "unknown_counterpart": {"policy": "hold"},
        "rollout": {"percent": 10, "settings": {"ownership": {"default": "fill_if_empty"}}},
    }
    text = dump_config(pinned)
    assert config_to_dict(load_config(text)) == data and dump_config(load_config(text)) == text
    # A null where null is the default says nothing: left out like an absent key.
    nulls = load_config("integrations: {d: {kind: generic, region: null, rollout: null}}\n")
    assert config_to_dict(nulls) == {"integrations": {"d": {"kind": "generic"}}}


def test_integration_dict_round_trip() -> None:
    settings = load_config(EXAMPLE).integrations["dialer"]
    assert integration_from_dict(integration_to_dict(settings)) == settings


# ----------------------------------------------------------------------- bad inputs

# (what, text, line, key path, fragment of the message)
BAD: list[tuple[str, str, int, str, str]] = [
    (
        "bad enum value",
        edit("default: fill_if_empty", "default: fill_if_emty"),
        18,
        "integrations.dialer.ownership.default",
        "'fill_if_emty' is not allowed; allowed: integration_wins, fill_if_empty, "
        "never_overwrite, bidirectional",
    ),
    (
        "unknown nested key",
        edit("map: {", "mapp: {"),
        12,
        "integrations.dialer.users.mapp",
        "unknown key; allowed: auto_match, map, directory, unmapped",
    ),
    (
        "unknown ownership record type",
        edit("deal: never_overwrite", "deals: never_overwrite"),
        19,
        "integrations.dialer.ownership.deals",
        "allowed: default, contact, company, deal, ticket, lead",
    ),
    (
        "missing owner id",
        edit('{id: "103", email: cy', "{email: cy"),
        4,
        "owners[2].id",
        "required",
    ),
    (
        "map to an unknown owner",
        edit('{"u-9": "102"}', '{"u-9": "999"}'),
        12,
        "integrations.dialer.users.map.u-9",
        "unknown owner '999'; known owners: 101, 102, 103",
    ),
    (
        "fallback without an owner",
        edit("{policy: round_robin, team: sdr}", "{policy: fallback}"),
        16,
        "integrations.dialer.users.unmapped.owner",
        "required when policy is fallback; allowed: an active owner's id",
    ),
    (
        "fallback with a team",
        edit("{policy: round_robin, team: sdr}", "{policy: fallback, owner: '101', team: sdr}"),
        16,
        "integrations.dialer.users.unmapped.team",
        "not allowed when policy is fallback; allowed: owner",
    ),
    (
        "round robin with an unknown team",
        edit("team: sdr}", "team: sales}"),
        16,
        "integrations.dialer.users.unmapped.team",
        "unknown team 'sales'; known teams: sdr",
    ),
    (
        "team with an unknown member",
        edit('sdr: ["101", "102"]', 'sdr: ["101", "999"]'),
        6,
        "teams.sdr[1]",
        "unknown owner '999'; known owners: 101, 102, 103",
    ),
    (
        "duplicate owner id",
        edit('id: "103"', 'id: "102"'),
        4,
        "owners[2].id",
        "duplicate owner id '102' (also owners[1]); allowed: each id once",
    ),
    (
        "a member twice in a team",
        edit('sdr: ["101", "102"]', 'sdr: ["102", "101", "102"]'),
        6,
        "teams.sdr[2]",
        "duplicate member 102 (also teams.sdr[0]); allowed: each owner once in a team",
    ),
    (
        "directory email without @",
        edit("email: ANA@acme.test", "email: bad"),
        14,
        "integrations.dialer.users.directory[0].email",
        "expected an email address with one '@'; got 'bad'",
    ),
    (
        "directory email with a space",
        edit("email: cy@acme.test}", 'email: "a b@x.test"}'),
        15,
        "integrations.dialer.users.directory[1].email",
        "expected an email address with no spaces; got 'a b@x.test'",
    ),
    (
        "YAML 1.1 reads NO as false",
        edit("    kind: generic\n", "    kind: generic\n    region: NO\n"),
        10,
        "integrations.dialer.region",
        'expected a string; got false (YAML reads NO as false; quote it: "NO")',
    ),
    (
        "YAML 1.1 reads 0x1F as a number where text is wanted",
        edit("first_name: Bo,", "first_name: 0x1F,"),
        3,
        "owners[1].first_name",
        'expected a string; got 31 (YAML reads 0x1F as the number 31; quote it: "0x1F")',
    ),
    (
        "a null key in the map",
        edit('map: {"u-9": "102"}', 'map: {"u-9": "102", ~: "101"}'),
        12,
        "integrations.dialer.users.map.null",
        'expected an id (text or a whole number); got null (YAML reads ~ as null; quote it: "~")',
    ),
    (
        "a float bound shown as people write it",
        edit("protect_manual_days: 14", "protect_manual_days: -1"),
        20,
        "integrations.dialer.ownership.protect_manual_days",
        "must be at least 0; got -1",
    ),
    (
        "a dedupe rule over one integration",
        EXAMPLE + "dedupe:\n  - {activity: call, integrations: [dialer]}\n",
        EXAMPLE.count("\n") + 2,
        "dedupe[0].integrations",
        "has 1 item; allowed: at least 2",
    ),
    (
        "a required key whose values can be listed",
        EXAMPLE + "destination: {token_env: HUBSPOT_TOKEN}\n",
        EXAMPLE.count("\n") + 1,
        "destination.kind",
        "required; allowed: hubspot",
    ),
    (
        "owner email without @",
        edit("email: bo@acme.test", "email: bo.acme.test"),
        3,
        "owners[1].email",
        "expected an email address with one '@'",
    ),
    (
        "bad kind",
        edit("kind: generic", "kind: zoho"),
        9,
        "integrations.dialer.kind",
        "'zoho' is not a known kind; allowed: aircall, calendly, generic, hubspot",
    ),
    (
        "min_duration_s on email",
        edit("email: {enabled: false}", "email: {enabled: false, min_duration_s: 5}"),
        24,
        "integrations.dialer.activities.email.min_duration_s",
        "not allowed for email activities; allowed: call",
    ),
    (
        "skip_outcomes value not allowed",
        edit("[no_answer, busy]", "[no_answer, busy, ringing]"),
        23,
        "integrations.dialer.activities.call.skip_outcomes[2]",
        "'ringing' is not allowed; allowed: connected, no_answer, busy",
    ),
    (
        "skip_outcomes on a note",
        edit("note: true", "note: {skip_outcomes: [busy]}"),
        26,
        "integrations.dialer.activities.note.skip_outcomes",
        "not allowed for note activities; allowed: call, email, meeting",
    ),
    (
        "activity neither bool nor mapping",
        edit("meeting: true", "meeting: yes please"),
        25,
        "integrations.dialer.activities.meeting",
        "expected true, false or a mapping; got 'yes please'",
    ),
    (
        "primary must be a person",
        edit("primary: contact", "primary: company"),
        30,
        "integrations.dialer.associations.primary",
        "'company' is not allowed; allowed: contact, lead",
    ),
    (
        "max_deals out of range",
        edit("max_deals: 5", "max_deals: 0"),
        33,
        "integrations.dialer.associations.max_deals",
        "must be at least 1; got 0",
    ),
    (
        "bad integration name",
        edit("  dialer:", "  Dialer:"),
        8,
        "integrations.Dialer",
        "allowed: lowercase letters, digits, '_' and '-'",
    ),
    (
        "wrong type: a number",
        edit("protect_manual_days: 14", 'protect_manual_days: "two weeks"'),
        20,
        "integrations.dialer.ownership.protect_manual_days",
        "expected a number; got 'two weeks'",
    ),
    (
        "wrong type: a bool",
        edit("assign_on_activity: false", "assign_on_activity: maybe"),
        21,
        "integrations.dialer.ownership.assign_on_activity",
        "expected true or false; got 'maybe'",
    ),
    (
        "a quoted yes for a bool",
        edit("assign_on_activity: false", "assign_on_activity: 'yes'"),
        21,
        "integrations.dialer.ownership.assign_on_activity",
        "expected true or false; got 'yes' (write true)",
    ),
    (
        "a list for a mapping",
        edit('map: {"u-9": "102"}', 'map: ["u-9", "102"]'),
        12,
        "integrations.dialer.users.map",
        "expected a mapping; got a list (write `key: value` lines under it)",
    ),
    (
        "float id",
        edit('id: "101"', "id: 101.5"),
        2,
        "owners[0].id",
        "expected an id (text or a whole number); got 101.5",
    ),
    (
        "duplicate directory id",
        edit('{id: "u-3"', '{id: "u-1"'),
        15,
        "integrations.dialer.users.directory[1].id",
        "duplicate directory id 'u-1' (also directory[0])",
    ),
    (
        "duplicate YAML key",
        edit("      note: true\n", "      note: true\n      note: false\n"),
        27,
        "integrations.dialer.activities.note",
        "duplicate key (also line 26); allowed: each key once",
    ),
]


@pytest.mark.parametrize(("what", "text", "line", "key", "fragment"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_pinned(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    what: str,
    text: str,
    line: int,
    key: str,
    fragment: str,
) -> None:
    problems = problems_of(tmp_path, monkeypatch, text)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"team.yaml:{line}: {key}: "), problems[0]
    assert fragment in problems[0]
    assert "pydantic" not in problems[0] and "http" not in problems[0]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (edit('sdr: ["101", "102"]', 'sdr: ["101", "102"'), 7, "invalid YAML: while parsing"),
        ("owners:\n  - {id: 1\n", 3, "invalid YAML: "),
        ("a: 1\n---\nb: 2\n", 2, "expected a single document"),
        ("x: 2024-02-30\n", 1, "invalid YAML: cannot read '2024-02-30'"),
        (
            "- owners\n- teams\n",
            1,
            "the top level must be a mapping; allowed keys: owners, teams, integrations, "
            "monitoring, destination, dedupe, free_mail; got a list",
        ),
        ("just text\n", 1, "the top level must be a mapping"),
        (
            "owners: []\nintegrations:\n\td: {kind: generic}\n",
            3,
            "found character '\\t' that cannot start any token; allowed: spaces, never tabs",
        ),
        (
            "integrations:\n  d:\n    ownership:\n    default: fill_if_empty\n"
            "      contact: integration_wins\n",
            5,
            "invalid YAML: the ': ' at column 14 makes a key where none can start (the line is "
            "indented more than the key above it, which has its value already; or a text "
            "holding ': ' is not quoted); allowed: the keys of one mapping indented alike, a "
            "key's own keys indented more",
        ),
        (
            "integrations:\n  d:\n    kind: generic\n    ownership:\n"
            "      default: fill_if_empty\n     contact: integration_wins\n",
            6,
            "invalid YAML: this line is indented 5 spaces, and the mapping it follows (from "
            "line 3) indents its keys 4; allowed: the keys of one mapping indented alike, a "
            "key's own keys indented more",
        ),
    ],
    ids=[
        "unclosed flow list",
        "unclosed flow mapping",
        "two documents",
        "bad date",
        "list",
        "str",
        "tab",
        "a key under a key with a value",
        "a key between two indentations",
    ],
)
def test_unreadable_documents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, line: int, fragment: str
) -> None:
    problems = problems_of(tmp_path, monkeypatch, text)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"team.yaml:{line}: "), problems[0]
    assert fragment in problems[0]


def test_yaml_1_1_numbers_where_an_id_is_wanted_are_kept_as_written() -> None:
    # YAML 1.1 reads 0101 as 65, 0x1F as 31, 1_000 as 1000 and 1:20 as 80; ids (owners,
    # team members, map keys and values) are the text as written.
    config = load_config(
        "owners:\n"
        "  - {id: 0101, email: oct@acme.test}\n"
        "  - {id: 1_000, email: under@acme.test}\n"
        "  - {id: 0x1F, email: hex@acme.test}\n"
        "  - {id: 1:20, email: sexa@acme.test}\n"
        "  - {id: 102, email: plain@acme.test}\n"
        "teams: {sdr: [0101, 1_000, 0x1F, 1:20]}\n"
        "integrations:\n"
        "  d:\n"
        "    kind: generic\n"
        "    users: {map: {0123: 0101, 7: 102}}\n"
        "    associations: {max_deals: 0x0A}\n"
    )
    assert [o.id for o in config.owners] == ["0101", "1_000", "0x1F", "1:20", "102"]
    assert config.teams == {"sdr": ("0101", "1_000", "0x1F", "1:20")}
    assert config.integrations["d"].users.map == {"0123": "0101", "7": "102"}
    assert config.integrations["d"].associations.max_deals == 10  # a number where one is wanted
    # ... and they are written back quoted, so they read back the same.
    assert load_config(dump_config(config)) == config


def test_a_secret_in_place_of_a_variable_name_is_not_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = edit("    kind: generic\n", '    kind: generic\n    secret_env: "whsec_9f8e-REAL"\n')
    text += "destination: {kind: hubspot, token_env: pat-na1-1111-REALTOKEN}\n"
    problems = problems_of(tmp_path, monkeypatch, text)
    assert [p.split(": ")[0:2] for p in problems] == [
        ["team.yaml:10", "integrations.dialer.secret_env"],
        [f"team.yaml:{text.count(chr(10))}", "destination.token_env"],
    ]
    assert all("REAL" not in p for p in problems), problems
    assert (
        "a value of 15 characters (not shown) is not an environment variable name" in (problems[0])
    )


def test_a_password_in_the_destination_url_is_refused_and_not_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = EXAMPLE + "destination: {kind: hubspot, base_url: 'https://me:hunter2@hs.test'}\n"
    assert problems_of(tmp_path, monkeypatch, text) == [
        f"team.yaml:{text.count(chr(10))}: destination.base_url: a URL with a user or "
        "password before '@' (not shown) is not a base URL; allowed: http(s)://host[:port], "
        "no path; the token is read from the variable token_env names"
    ]
    # As stored (by an older version), it is read: every command keeps working.
    stored = destination_from_dict({"kind": "hubspot", "base_url": "https://me:pw@hs.test"})
    assert stored.base_url == "https://me:pw@hs.test"


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/?token=S3cretPassw0rd",
        "https://api.example.com/v3/S3cretPassw0rd",
        "https://api.example.com#S3cretPassw0rd",
    ],
)
def test_a_path_or_query_in_the_destination_url_is_refused_and_not_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """A URL pasted with ``?token=…`` is the mistake the check catches: it is not echoed."""
    text = EXAMPLE + f"destination: {{kind: hubspot, base_url: '{url}'}}\n"
    assert problems_of(tmp_path, monkeypatch, text) == [
        f"team.yaml:{text.count(chr(10))}: destination.base_url: 'https://api.example.com' "
        "followed by a path, query or fragment (not shown) is not a base URL; allowed: "
        "http(s)://host[:port], no path (e.g. https://api.hubapi.com)"
    ]
    plain = EXAMPLE + "destination: {kind: hubspot, base_url: 'ftp://hs.test'}\n"
    [problem] = problems_of(tmp_path, monkeypatch, plain)
    assert "'ftp://hs.test' is not a base URL" in problem


@pytest.mark.parametrize(
    "url",
    ["https://api.hubapi.com:abc", "https://api.hubapi.com:99999", "https://h.test:pat-na1-S3cret"],
)
def test_a_port_that_is_no_port_is_refused_and_not_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """Text after the host's ':' that is no port 1–65535 is refused where written (it made
    every push a traceback), not shown (a token pasted there); a host is required."""
    text = EXAMPLE + f"destination: {{kind: hubspot, base_url: '{url}'}}\n"
    host = url.rpartition(":")[0]
    assert problems_of(tmp_path, monkeypatch, text) == [
        f"team.yaml:{text.count(chr(10))}: destination.base_url: '{host}:'… has a port that "
        "is not a number from 1 to 65535 (not shown); allowed: http(s)://host[:port], no path"
    ]
    no_host = EXAMPLE + "destination: {kind: hubspot, base_url: 'https://:443'}\n"
    [problem] = problems_of(tmp_path, monkeypatch, no_host)
    assert "'https://:443' is not a base URL" in problem
    for good in ("http://127.0.0.1:8080", "http://[::1]:9000", "https://hs.test:443/"):
        fine = EXAMPLE + f"destination: {{kind: hubspot, base_url: '{good}'}}\n"
        loaded = load_config_file(write(tmp_path, monkeypatch, fine))
        assert loaded.destination is not None and loaded.destination.base_url == good.rstrip("/")
    # As stored (by an older version), it is read: every command keeps working.
    stored = destination_from_dict({"kind": "hubspot", "base_url": url})
    assert stored.base_url == url


def test_active_owners_sharing_an_email_are_taken_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As owners pulled from a CRM may, and as `leadsync export` writes them: the file applies.
    text = edit(
        "email: cy@acme.test, first_name: Cy, last_name: Oh, active: false", "email: x@acme.test"
    )
    text = edit(
        '  - {id: "102", email: bo@acme.test,', '  - {id: "102", email: ANA@acme.test,', text
    )
    text = text.replace("teams:", '  - {id: "104", email: x@acme.test, active: false}\nteams:')
    warnings: list[str] = []
    config = load_config_file(write(tmp_path, monkeypatch, text), warnings)
    assert [o.email for o in config.owner_specs] == [
        "ana@acme.test",
        "ANA@acme.test",
        "x@acme.test",
        "x@acme.test",
    ]
    # Said where both are active (a rep with that email is a person's question), with the line.
    assert warnings == [
        "team.yaml:3: owners[1].email: 'ANA@acme.test' is also the email of owners[0] (both "
        "active): a rep with that email is matched by email to neither (ambiguous.owner: "
        "queue asks a person which; an entry in users.map decides it)"
    ]


def test_a_team_with_no_members_is_warned_of_not_dropped_silently() -> None:
    """Kept by its members, an empty team is not stored (nor exported): apply says so."""
    text = (
        'owners:\n  - {id: "101", email: ana@acme.test}\n'
        'teams:\n  sdr: ["101"]\n  later: []\n'
        "integrations: {}\n"
    )
    warnings: list[str] = []
    load_config(text, "team.yaml", warnings)
    assert warnings == [
        "team.yaml:5: teams.later: has no members: it is not kept (export leaves it out, and "
        "no round robin may name it) until it lists an owner"
    ]


def test_a_mapping_to_inactive_owners_only_is_warned_of() -> None:
    """A rep mapped by hand to an inactive owner, and a round robin whose every member is
    inactive, leave reps with no owner; they applied without a word (a fallback owner who
    is inactive is refused)."""
    text = (
        'owners:\n  - {id: "101", email: ana@acme.test}\n'
        '  - {id: "105", email: old@acme.test, active: false}\n'
        'teams:\n  old: ["105"]\n  mixed: ["101", "105"]\n'
        "integrations:\n  seq:\n    kind: generic\n    users:\n"
        '      map: {"7": "105", "8": "101"}\n'
        "      unmapped: {policy: round_robin, team: old}\n"
        "  dialer:\n    kind: generic\n    users:\n"
        "      unmapped: {policy: round_robin, team: mixed}\n"
    )
    warnings: list[str] = []
    load_config(text, "team.yaml", warnings)
    assert warnings == [
        "team.yaml:11: integrations.seq.users.map.7: owner '105' is inactive (owners[1] has "
        "active: false): rep 7 maps to nobody, and the unmapped policy decides its owner",
        "team.yaml:12: integrations.seq.users.unmapped.team: team 'old' has no active member "
        "(105 inactive), so reps that map to nobody would get no owner",
    ]


def test_missing_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    assert caught.value.problems == [f"{path}: file not found"]


def test_all_schema_problems_are_reported_in_line_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = edit("default: fill_if_empty", "default: fill_if_emty")
    text = edit("map: {", "mapp: {", text)
    text = edit('{id: "103", email: cy', "{email: cy", text)
    text = edit("protect_manual_days: 14", "protect_manual_days: two weeks", text)
    text = edit("max_deals: 5", "max_deals: 500", text)
    problems = problems_of(tmp_path, monkeypatch, text)
    assert [p.split(": ")[0:2] for p in problems] == [
        ["team.yaml:4", "owners[2].id"],
        ["team.yaml:12", "integrations.dialer.users.mapp"],
        ["team.yaml:18", "integrations.dialer.ownership.default"],
        ["team.yaml:20", "integrations.dialer.ownership.protect_manual_days"],
        ["team.yaml:33", "integrations.dialer.associations.max_deals"],
    ]


def test_all_reference_problems_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = edit('{"u-9": "102"}', '{"u-9": "999", "u-8": "998"}')
    text = edit('sdr: ["101", "102"]', 'sdr: ["101", "997"]', text)
    text = edit('id: "103"', 'id: "101"', text)
    text = edit("team: sdr}", "team: sales}", text)
    problems = problems_of(tmp_path, monkeypatch, text)
    assert len(problems) == 5, problems
    assert problems[0].startswith("team.yaml:4: owners[2].id: duplicate owner id '101'")
    assert problems[1].startswith("team.yaml:6: teams.sdr[1]: unknown owner '997'")
    assert problems[2].startswith("team.yaml:12: integrations.dialer.users.map.u-9:")
    assert problems[3].startswith("team.yaml:12: integrations.dialer.users.map.u-8:")
    assert problems[4].startswith("team.yaml:16: integrations.dialer.users.unmapped.team:")


def test_per_model_checks_report_every_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = edit("{policy: round_robin, team: sdr}", "{policy: leave, owner: '101', team: sdr}")
    text = edit("[no_answer, busy]", "[ringing, busy, humming]", text)
    problems = problems_of(tmp_path, monkeypatch, text)
    assert [p.split(": ")[0:2] for p in problems] == [
        ["team.yaml:16", "integrations.dialer.users.unmapped.owner"],
        ["team.yaml:16", "integrations.dialer.users.unmapped.team"],
        ["team.yaml:23", "integrations.dialer.activities.call.skip_outcomes[0]"],
        ["team.yaml:23", "integrations.dialer.activities.call.skip_outcomes[2]"],
    ]


def test_known_owner_list_is_capped() -> None:
    owners = "".join(f"  - {{id: '{n}', email: o{n}@x.test}}\n" for n in range(30))
    text = f"owners:\n{owners}teams:\n  t: ['nobody']\n"
    with pytest.raises(ConfigError) as caught:
        load_config(text, "big.yaml")
    (problem,) = caught.value.problems
    assert problem.startswith("big.yaml:33: teams.t[0]: unknown owner 'nobody'; known owners: 0, 1")
    assert problem.endswith("18, 19, ... (10 more)")


def test_integration_from_dict_uses_the_same_format() -> None:
    data: dict[str, Any] = {
        "kind": "generic",
        "users": {"mapp": {}, "unmapped": {"policy": "fallback"}},
        "ownership": {"default": "sometimes"},
    }
    with pytest.raises(ConfigError) as caught:
        integration_from_dict(data, "db:integration 7", "integrations.dialer")
    assert caught.value.problems == [
        "db:integration 7: integrations.dialer.users.unmapped.owner: "
        "required when policy is fallback; allowed: an active owner's id",
        "db:integration 7: integrations.dialer.users.mapp: "
        "unknown key; allowed: auto_match, map, directory, unmapped",
        "db:integration 7: integrations.dialer.ownership.default: 'sometimes' is not allowed; "
        "allowed: integration_wins, fill_if_empty, never_overwrite, bidirectional",
    ]


def test_known_kinds() -> None:
    assert "generic" in KNOWN_KINDS


# ------------------------------------------------------------- round trip property

_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),  # refused: no store keeps it
    max_size=12,
)
_WORD = st.text(alphabet="abcXYZ019_-. :#'\"", min_size=1, max_size=8).filter(str.strip)
_EMAIL = st.builds(
    "{}@{}".format,
    _WORD.filter(lambda w: "@" not in w and " " not in w),
    _WORD.filter(lambda w: "@" not in w and " " not in w),
)
_NUMBER = st.floats(min_value=0, max_value=36_500, allow_nan=False, allow_infinity=False)
_SECONDS = st.floats(min_value=0, max_value=86_400, allow_nan=False, allow_infinity=False)


@st.composite
def workspace_configs(draw: st.DrawFn) -> WorkspaceConfig:
    owner_ids = draw(st.lists(_WORD, max_size=4, unique_by=str.strip))
    owners = [
        {
            "id": owner_id,
            "email": f"{index}.{draw(_WORD.filter(lambda w: '@' not in w and ' ' not in w))}@x.test",
            "first_name": draw(_TEXT),
            "last_name": draw(_TEXT),
            "active": draw(st.booleans()),
        }
        for index, owner_id in enumerate(owner_ids)
    ]
    known = [o.strip() for o in owner_ids]
    # A fallback owner is an active one (an inactive one is refused where it is written).
    active = [o["id"].strip() for o in owners if o["active"]]
    members = st.lists(st.sampled_from(known), max_size=3, unique=True) if known else st.just([])
    teams = draw(st.dictionaries(_WORD, members, max_size=2))
    teams = {name.strip(): value for name, value in teams.items()}
    staffed = [name for name, value in teams.items() if value]

    integrations: dict[str, Any] = {}
    for name in draw(
        st.lists(st.from_regex(r"[a-z0-9][a-z0-9_-]{0,6}", fullmatch=True), max_size=2)
    ):
        policies = (
            ["leave"] + (["fallback"] if active else []) + (["round_robin"] if staffed else [])
        )
        policy = draw(st.sampled_from(policies))
        unmapped: dict[str, Any] = {"policy": policy}
        if policy == "fallback":
            unmapped["owner"] = draw(st.sampled_from(active))
        elif policy == "round_robin":
            unmapped["team"] = draw(st.sampled_from(staffed))
        directory_ids = draw(st.lists(_WORD, max_size=3, unique_by=str.strip))
        strategies = st.sampled_from([s.value for s in Strategy])

        def activity(outcomes: tuple[str, ...], duration: bool) -> Any:
            options: list[Any] = [st.booleans()]
            options.append(
                st.fixed_dictionaries(
                    {"enabled": st.booleans()},
                    optional={
                        **({"min_duration_s": _SECONDS} if duration else {}),
                        **(
                            {"skip_outcomes": st.lists(st.sampled_from(outcomes))}
                            if outcomes
                            else {}
                        ),
                    },
                )
            )
            return draw(st.one_of(options))

        integrations[name] = {
            "kind": draw(st.sampled_from(KNOWN_KINDS)),
            "users": {
                "auto_match": draw(st.sampled_from([a.value for a in AutoMatch])),
                # Keys naming one rep once: read without surrounding spaces, any case.
                "map": {
                    key: draw(st.sampled_from(known))
                    for key in draw(
                        st.lists(_WORD, max_size=3, unique_by=lambda k: k.strip().lower())
                    )
                }
                if known
                else {},
                "directory": [
                    {
                        "id": directory_id,
                        "email": draw(st.none() | _EMAIL),
                        "name": draw(st.none() | _TEXT),
                    }
                    for directory_id in directory_ids
                ],
                "unmapped": unmapped,
            },
            "ownership": {
                "default": draw(strategies),
                **{t.value: draw(strategies) for t in RecordType if draw(st.booleans())},
                "protect_manual_days": draw(_NUMBER),
                "assign_on_activity": draw(st.booleans()),
            },
            "activities": {
                "call": activity(CALL_OUTCOMES, True),
                "email": activity((), False),
                "meeting": activity(MEETING_OUTCOMES, False),
                "note": activity((), False),
                "task": activity((), False),
            },
            "associations": {
                "mode": draw(st.sampled_from([m.value for m in AssociationMode])),
                "primary": draw(st.sampled_from(["contact", "lead"])),
                "company": draw(st.sampled_from([c.value for c in CompanyAssociation])),
                "deal": draw(st.sampled_from([d.value for d in DealAssociation])),
                "max_deals": draw(st.integers(min_value=1, max_value=100)),
            },
        }
    return WorkspaceConfig.model_validate(
        {"owners": owners, "teams": teams, "integrations": integrations}
    )


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workspace_configs())
def test_round_trip_property(config: WorkspaceConfig) -> None:
    text = dump_config(config)
    again = load_config(text, "dumped.yaml")
    assert again == config
    assert dump_config(again) == text
    for settings_ in config.integrations.values():
        assert integration_from_dict(integration_to_dict(settings_)) == settings_


def test_unicode_line_breaks_survive_the_round_trip() -> None:
    # PyYAML folds a raw U+0085 it wrote itself; the dumper must escape it.
    config = WorkspaceConfig.model_validate(
        {"owners": [{"id": "1", "email": "a@b", "first_name": "Jo\x85sé", "last_name": "a\u2028b"}]}
    )
    assert load_config(dump_config(config)) == config
    assert "José" not in dump_config(config)  # escaped, but other text stays readable:
    assert "Renée" in dump_config(
        WorkspaceConfig.model_validate(
            {"owners": [{"id": "1", "email": "a@b", "last_name": "Renée"}]}
        )
    )


# ------------------------------------------------------- every problem in one pass (issue 10)

# (what, edits of the example, the problems expected: "LINE key.path")
ONE_PASS: list[tuple[str, list[tuple[str, str]], list[str]]] = [
    (
        "a typo hides no unknown owner",
        [
            ("deal: never_overwrite", "deals: never_overwrite"),
            ('{"u-9": "102"}', '{"u-9": "999"}'),
        ],
        ["12 integrations.dialer.users.map.u-9", "19 integrations.dialer.ownership.deals"],
    ),
    (
        "a bad owner email hides no unknown team member",
        [
            ("email: bo@acme.test", "email: bo.acme.test"),
            ('sdr: ["101", "102"]', 'sdr: ["101", "999"]'),
        ],
        ["3 owners[1].email", "6 teams.sdr[1]"],
    ),
    (
        "a typo hides no option of another kind",
        [
            ("deal: never_overwrite", "deals: never_overwrite"),
            ("    kind: generic\n", "    kind: generic\n    vendor: {app_id: '1'}\n"),
        ],
        ["10 integrations.dialer.vendor.app_id", "20 integrations.dialer.ownership.deals"],
    ),
    (
        "one activity type's mistake hides no other's",
        [
            ("min_duration_s: 10", "min_duration_s: -1"),
            ("email: {enabled: false}", "email: {enabled: false, min_duration_s: 5}"),
        ],
        [
            "23 integrations.dialer.activities.call.min_duration_s",
            "24 integrations.dialer.activities.email.min_duration_s",
        ],
    ),
    (
        "a bad map value hides no duplicate directory id",
        [('{id: "u-3"', '{id: "u-1"'), ('{"u-9": "102"}', '{"u-9": [1]}')],
        [
            "12 integrations.dialer.users.map.u-9",
            "15 integrations.dialer.users.directory[1].id",
        ],
    ),
    (
        "a bad dedupe window hides no unknown integration",
        [
            (
                "      max_deals: 5\n",
                "      max_deals: 5\ndedupe:\n  - {activity: call, "
                "integrations: [dialer, phone, dialer], window_s: 0}\n",
            )
        ],
        [
            "35 dedupe[0].window_s",
            "35 dedupe[0].integrations",
            "35 dedupe[0].integrations[1]",
        ],
    ),
]


@pytest.mark.parametrize(("what", "edits", "expected"), ONE_PASS, ids=[c[0] for c in ONE_PASS])
def test_one_mistake_hides_no_other(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    what: str,
    edits: list[tuple[str, str]],
    expected: list[str],
) -> None:
    text = EXAMPLE
    for old, new in edits:
        text = edit(old, new, text)
    problems = problems_of(tmp_path, monkeypatch, text)
    assert [" ".join(p.split(": ")[0:2]).removeprefix("team.yaml:") for p in problems] == expected


def test_a_bad_owner_is_still_known_to_references() -> None:
    # owners[2] is malformed, but its id is readable: a team naming it is not "unknown".
    text = edit("email: cy@acme.test, first", "email: cy.acme.test, first")
    text = edit('sdr: ["101", "102"]', 'sdr: ["101", "103"]', text)
    with pytest.raises(ConfigError) as caught:
        load_config(text, "team.yaml")
    assert caught.value.problems == [
        "team.yaml:4: owners[2].email: expected an email address with one '@'; got 'cy.acme.test'"
    ]


def test_an_unreadable_owner_id_is_no_reason_to_call_references_unknown() -> None:
    text = edit('id: "102"', "id: [102]")
    with pytest.raises(ConfigError) as caught:
        load_config(text, "team.yaml")
    assert [p.split(": ")[1] for p in caught.value.problems] == ["owners[1].id"]


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), _WORD
)
# Keys of the schema at every level, so random documents reach the checks across keys.
_SCHEMA_KEYS = sorted(
    {"id", "email", "policy", "owner", "team", "source", "d", "sdr", "u-1", "window_s"}
    | {"call", "email", "note", "min_duration_s", "skip_outcomes", "settings", "percent"}
    | {"map", "directory", "unmapped", "users", "kind", "vendor", "app_id", "activity"}
    | {"integrations", "prefer", "owners", "teams", "dedupe", "destination"}
)
_VALUES = st.recursive(
    _SCALARS | st.sampled_from(["generic", "hubspot", "fallback", "round_robin", "leave"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(_SCHEMA_KEYS) | st.integers(0, 3), inner, max_size=4)
    ),
    max_leaves=16,
)
_KEYS = ["owners", "teams", "integrations", "dedupe", "monitoring", "destination"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=4),
    st.dictionaries(
        st.sampled_from(["kind", "users", "vendor", "activities", "rollout", "ownership"]),
        _VALUES,
        max_size=4,
    ),
)
def test_any_document_is_read_or_refused_with_problems(
    top: dict[str, Any], integration: dict[str, Any]
) -> None:
    # The checks across keys read data before it is validated: no shape may break them.
    for doc in (top, {**top, "integrations": {"d": integration}}):
        try:
            config_from_dict(doc)
        except ConfigError as exc:
            assert exc.problems and all(p.startswith("<settings>") for p in exc.problems)


# ------------------------------------------------------------- vendor options and export


def test_each_kind_reads_its_vendor_options_with_its_adapter_s_model() -> None:
    from leadsync.sources import adapter_class, adapter_for
    from leadsync.sources.options import HubSpotOptions, NoOptions, PipedriveOptions

    crm = integration_from_dict({"kind": "hubspot", "vendor": {"app_id": 777}})
    assert crm.vendor == HubSpotOptions(app_id="777")
    spaced = integration_from_dict({"kind": "hubspot", "vendor": {"app_id": " 777 "}})
    assert spaced.vendor == HubSpotOptions(app_id="777")
    assert integration_from_dict({"kind": "aircall"}).vendor == NoOptions()
    deals = integration_from_dict(
        {"kind": "pipedrive", "vendor": {"activity_types": {"lunch": "meeting"}}}
    )
    assert deals.vendor == PipedriveOptions(activity_types={"lunch": ActivityType.MEETING})
    adapter = adapter_for(deals.kind, "deals", deals.vendor_options())
    assert adapter.options is deals.vendor
    assert isinstance(adapter.options, adapter_class("pipedrive").options_model)


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        (
            {"kind": "hubspot", "vendor": {"organization_id": "bad", "app_id": True}},
            [
                "vendor.organization_id: not allowed for kind hubspot; only for salesforce",
                "vendor.app_id: expected an id (text or a whole number); got true",
            ],
        ),
        (
            {"kind": "hubspot", "vendor": {"app_id": "app:777 "}},  # never matches a sourceId
            ["vendor.app_id: 'app:777' is not a HubSpot app id; allowed: the app's number"],
        ),
        ({"kind": "hubspot", "vendor": {"app_id": "-5"}}, ["vendor.app_id: '-5' is not a Hub"]),
        ({"kind": "generic", "vendor": {"app": "1"}}, ["vendor.app: unknown key; allowed: "]),
        (
            {"kind": "aircall", "vendor": {"app": "1"}},
            ["vendor.app: unknown key; kind aircall takes no vendor options"],
        ),
        ({"kind": "aircall", "vendor": [1]}, ["vendor: expected a mapping; got a list"]),
        (
            {"kind": "pipedrive", "vendor": {"other_activity_types": "lunch"}},
            ["vendor.other_activity_types: 'lunch' is not allowed; allowed: call, email"],
        ),
    ],
)
def test_vendor_option_problems_name_the_option_and_what_the_kind_takes(
    settings: dict[str, Any], problem: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        integration_from_dict(settings, "api")
    problems = caught.value.problems
    assert len(problems) == len(problem), problems
    for found, expected in zip(sorted(problems), sorted(problem), strict=True):
        assert found.startswith(f"api: {expected}"), found
    if settings["vendor"] == {"app": "1"} and settings["kind"] == "generic":
        assert problems[0].endswith("timestamp_tolerance_s, require_timestamp")


def test_an_adapter_built_in_code_checks_its_options_like_the_file() -> None:
    from pydantic import ValidationError

    from leadsync.sources import adapter_for
    from leadsync.sources.options import HubSpotOptions

    with pytest.raises(ValidationError):
        adapter_for("salesforce", "sf", {"organization_id": "not-an-org"})
    with pytest.raises(TypeError, match="expected SalesforceOptions"):
        adapter_for("salesforce", "sf", HubSpotOptions(app_id="1"))


def test_the_export_shows_what_a_reader_needs_and_reads_back_equal() -> None:
    text = (
        "owners: {source: hubspot}\n"
        "integrations:\n"
        "  sf: {kind: salesforce, vendor: {timestamp_tolerance_s: 60.0}}\n"
        "  g: {kind: generic, rollout: {percent: 10.0, settings: {users: {}}}}\n"
        "destination: {kind: hubspot}\n"
        "dedupe: [{activity: call, integrations: [g, sf]}]\n"
    )
    config = load_config(text)
    data = config_to_dict(config)
    assert data["integrations"] == {
        "sf": {"kind": "salesforce", "vendor": {"timestamp_tolerance_s": 60}},
        "g": {"kind": "generic", "rollout": {"percent": 10, "settings": {"users": {}}}},
    }
    assert data["destination"] == {"kind": "hubspot", "token_env": "HUBSPOT_TOKEN"}
    assert data["dedupe"] == [
        {"activity": "call", "integrations": ["g", "sf"], "window_s": 120, "prefer": "g"}
    ]
    assert load_config(dump_config(config)) == config


_VENDOR = {
    "generic": st.fixed_dictionaries(
        {},
        optional={
            "timestamp_tolerance_s": st.floats(min_value=0.5, max_value=86_400),
            "require_timestamp": st.booleans(),
        },
    ),
    "hubspot": st.fixed_dictionaries(
        {}, optional={"app_id": st.from_regex(r"[0-9]{1,12}", fullmatch=True)}
    ),
    "pipedrive": st.fixed_dictionaries(
        {},
        optional={
            "activity_types": st.dictionaries(_WORD, st.sampled_from(list(ActivityType))),
            "other_activity_types": st.sampled_from(list(ActivityType)),
        },
    ),
    "salesforce": st.fixed_dictionaries(
        {}, optional={"organization_id": st.from_regex(r"00D[a-zA-Z0-9]{12}", fullmatch=True)}
    ),
}


@st.composite
def whole_workspaces(draw: st.DrawFn) -> WorkspaceConfig:
    """A workspace with every part the export writes: vendor options of each kind, a
    rollout, monitoring, a destination, dedupe rules, owners from HubSpot."""
    names = draw(st.lists(st.sampled_from(sorted(_VENDOR)), min_size=2, max_size=4, unique=True))
    integrations: dict[str, Any] = {}
    for name in names:
        entry: dict[str, Any] = {"kind": name, "vendor": draw(_VENDOR[name])}
        if draw(st.booleans()):
            proposed = draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "users": st.just({}),
                        "ownership": st.fixed_dictionaries(
                            {"default": st.sampled_from([s.value for s in Strategy])}
                        ),
                        "activities": st.fixed_dictionaries({"call": st.booleans()}),
                    },
                )
            )
            percent = draw(st.floats(min_value=0.5, max_value=100))
            entry["rollout"] = {"percent": percent, "settings": proposed}
        integrations[name] = entry
    monitoring = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "flapping_changes": st.integers(2, 9),
                "drop_percent": st.floats(min_value=1, max_value=100),
                "max_push_lag_minutes": _NUMBER,
            },
        )
    )
    destination = draw(
        st.fixed_dictionaries(
            {"kind": st.just("hubspot")},
            optional={
                "token_env": st.sampled_from(["HUBSPOT_TOKEN", "HS_TOKEN"]),
                "limits": st.fixed_dictionaries({}, optional={"per_10s": st.integers(1, 500)}),
                "owners_refresh_minutes": st.floats(min_value=0.5, max_value=1440),
            },
        )
    )
    dedupe = [
        {
            "activity": "call",
            "integrations": names[:2],
            "window_s": draw(st.floats(min_value=0.5, max_value=86_400)),
            **({"prefer": names[1]} if draw(st.booleans()) else {}),
        }
    ]
    return WorkspaceConfig.model_validate(
        {
            "owners": {"source": "hubspot"},
            "integrations": integrations,
            "monitoring": monitoring,
            "destination": destination,
            "dedupe": dedupe,
        }
    )


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(whole_workspaces())
def test_round_trip_of_every_part_of_the_file(config: WorkspaceConfig) -> None:
    text = dump_config(config)
    assert load_config(text, "dumped.yaml") == config
    assert config_from_dict(config_to_dict(config)) == config
    # Whole numbers are written as people write them (a string may end in ".0": not a number).
    assert not re.search(r"^\s*[\w-]+: -?\d+\.0$", text, re.MULTILINE), text


def test_the_destinations_app_id_is_the_apps_number() -> None:
    """The destination's ``app_id`` (HubSpot webhooks from it are leadsync's own) is checked
    as the HubSpot integration's is: anything but the app's number never matches."""
    text = "owners: []\ndestination:\n  kind: hubspot\n  app_id: my-app\n"
    with pytest.raises(ConfigError) as caught:
        load_config(text, "ws.yaml")
    assert caught.value.problems == [
        "ws.yaml:4: destination.app_id: 'my-app' is not a HubSpot app id; allowed: the app's "
        "number (the app's settings, Auth tab: App ID), e.g. 1234567"
    ]
    good = load_config(text.replace("my-app", "'1234567'"), "ws.yaml")
    assert good.destination is not None and good.destination.app_id == "1234567"


def test_an_integration_named_by_a_number_is_told_to_quote_it() -> None:
    """``123:`` is a number to YAML: the name it spells may be a good one (``'123'`` is), so
    the refusal says what YAML made of it, not that the name breaks rules it keeps."""
    text = "owners: [{id: '101', email: a@b.test}]\nintegrations:\n  123: {kind: generic}\n"
    with pytest.raises(ConfigError) as refused:
        load_config(text, "ws.yaml")
    assert refused.value.problems == [
        "ws.yaml:3: integrations.123: 123 is a number, not a name; allowed: a name as text "
        "(in YAML, quoted) of lowercase letters, digits, '_' and '-'"
    ]
    quoted = load_config(text.replace("123:", "'123':"), "ws.yaml")
    assert list(quoted.integrations) == ["123"]


def test_a_key_yaml_reads_as_a_date_is_named_as_written_at_its_line() -> None:
    """An unquoted date as a key is a date to YAML: the problem names the key as it reads,
    at its own line (it showed Python's ``datetime.date(2024, 1, 1)``, at the mapping's)."""
    text = "owners: [{id: '101', email: a@b.test}]\nteams:\n  2024-01-01: ['101']\n"
    with pytest.raises(ConfigError) as refused:
        load_config(text, "ws.yaml")
    [problem] = refused.value.problems
    assert problem.startswith("ws.yaml:3: teams.2024-01-01: ")
    assert "datetime" not in problem


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!!binary c2tfbGl2ZV9zZWNyZXQ=", "!!binary"),
        ("!!set {a, b}", "!!set"),
        ("!!omap [{a: 1}]", "!!omap"),
    ],
)
def test_a_yaml_tag_no_setting_takes_is_refused_at_its_line(value: str, tag: str) -> None:
    """``!!binary`` slipped past the checks (a secret as ``secret_env``, an email that was no
    address) and came back decoded in the export; such tags are refused, the value unshown."""
    text = f'owners:\n  - {{id: "101", email: ana@acme.test}}\nintegrations:\n  d:\n    kind: generic\n    secret_env: {value}\n'
    with pytest.raises(ConfigError) as refused:
        load_config(text, "ws.yaml")
    [problem] = refused.value.problems
    assert problem.startswith(f"ws.yaml:6: invalid YAML: the tag {tag} is not read; allowed:")
    assert "c2tf" not in problem and "sk_live" not in problem


def test_a_settings_file_not_in_utf8_is_refused_at_its_line_with_how_to_convert(
    tmp_path: Path,
) -> None:
    from leadsync.settings import load_config_file

    latin = tmp_path / "latin1.yaml"
    latin.write_bytes(b'owners:\n  - {id: "101", email: a@acme.test, first_name: Jos\xe9}\n')
    with pytest.raises(ConfigError) as refused:
        load_config_file(latin)
    [problem] = refused.value.problems
    assert problem.startswith(f"{latin}:2: not UTF-8 text (byte 0xE9: ")
    assert "allowed: UTF-8" in problem and "iconv -f WINDOWS-1252 -t UTF-8" in problem
    wide = tmp_path / "u16.yaml"
    wide.write_bytes("owners: []\n".encode("utf-16"))
    with pytest.raises(ConfigError, match=r"u16.yaml:1: not UTF-8 text: the file is UTF-16"):
        load_config_file(wide)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            "integrations: {d: {kind: generic, activities: {call: {min_duration_s: -5}}}}",
            "activities.call.min_duration_s: must be at least 0; got -5; allowed: a number "
            "from 0 to 86400",
        ),
        (
            "integrations: {d: {kind: generic, rollout: {percent: 150, settings: {}}}}",
            "rollout.percent: must be at most 100; got 150; allowed: a number more than 0, "
            "at most 100",
        ),
        (
            "integrations: {d: {kind: generic, associations: {max_deals: 0}}}",
            "associations.max_deals: must be at least 1; got 0; allowed: a whole number from "
            "1 to 100",
        ),
    ],
)
def test_a_number_out_of_its_bounds_says_what_is_allowed(doc: str, message: str) -> None:
    """Every problem ends with what is allowed; a number out of bounds said only the bound
    it broke ("must be at most 100; got 150")."""
    with pytest.raises(ConfigError) as refused:
        load_config(doc, "x.yaml")
    [problem] = refused.value.problems
    assert problem == f"x.yaml:1: integrations.d.{message}"


def test_a_key_twice_in_one_flow_mapping_names_the_column_of_the_first() -> None:
    """Both copies on one line ({a: 1, a: 2}): "also line 1" of line 1 told nothing."""
    with pytest.raises(ConfigError) as refused:
        load_config("integrations: {d: {kind: generic, kind: hubspot}}", "x.yaml")
    assert refused.value.problems[0] == (
        "x.yaml:1: integrations.d.kind: duplicate key (also column 20 of this line); "
        "allowed: each key once"
    )


def test_a_bound_in_words_is_written_as_people_write_it() -> None:
    # The console's help reads a field's bounds from its model: a million is no "1e+06".
    from leadsync.settings.base import Bounds
    from leadsync.settings.workspace import MonitoringSettings

    assert Bounds.of(MonitoringSettings, "timeline_max_per_day").words() == ("From 1 to 1,000,000.")
    assert Bounds.of(MonitoringSettings, "drop_percent").words() == "More than 0, up to 100."


def test_top_level_x_keys_hold_what_anchors_share_and_are_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``x-calls: &calls …`` at the top, as in a Compose file: read for its aliases, not a
    setting (it was refused as an unknown key, so shared blocks lived in an integration)."""
    text = EXAMPLE.replace(
        "integrations:\n", "x-notes: &notes\n  note: false\nintegrations:\n", 1
    ).replace("      note: true\n", "      <<: *notes\n", 1)
    assert "<<: *notes" in text
    loaded = load_config_file(write(tmp_path, monkeypatch, text))
    assert "x-notes" not in config_to_dict(loaded)
    assert [i.activities.note.enabled for i in loaded.integrations.values()] == [False]
    unknown = EXAMPLE.replace("integrations:\n", "y-calls: 1\nintegrations:\n", 1)
    [problem] = problems_of(tmp_path, monkeypatch, unknown)
    assert "y-calls" in problem

"""Numbers and true/false in the workspace file are written as such: a quoted ``'3'`` (text)
where a number is expected, or ``true`` where a number is, is refused at its file:line and
key path, saying what was given and what is allowed — for every number and boolean setting.
Real YAML numbers (a whole float for a whole number too) and booleans keep working, and the
console's form, whose fields are text, still sends numbers: it converts them itself."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from leadsync.errors import ConfigError
from leadsync.ops.settings_form import change_from_form
from leadsync.settings import dump_config, load_config
from leadsync.workspace import Workspace
from tests.helpers import settings, workspace_config

BASE: dict[str, Any] = {
    "owners": [{"id": "101", "email": "ana@acme.test"}],
    "teams": {"sdr": ["101"]},
    "integrations": {
        "dialer": {"kind": "generic", "secret_env": "DIALER_SECRET"},
        "crm": {"kind": "salesforce", "secret_env": "CRM_SECRET"},
    },
    "destination": {"kind": "hubspot"},
    "dedupe": [{"activity": "call", "integrations": ["dialer", "crm"]}],
}

# Every number and boolean setting: its key path, a value that is right, and what a wrong
# one is told is allowed.
WHOLE = "a whole number"
NUMBER = "a number"
NUMBERS: list[tuple[tuple[Any, ...], Any, str]] = [
    (("monitoring", "flapping_changes"), 3, f"{WHOLE} from 2 to 10000"),
    (("monitoring", "unowned_after_minutes"), 60, f"{NUMBER} from 0 to 527040"),
    (("monitoring", "timeline_max_per_day"), 25, f"{WHOLE} from 1 to 1000000"),
    (("monitoring", "drop_percent"), 50, f"{NUMBER} more than 0, at most 100"),
    (("monitoring", "baseline_days"), 7, f"{WHOLE} from 1 to 90"),
    (("monitoring", "min_baseline_per_day"), 5, f"{NUMBER} from 0 to 1000000"),
    (("monitoring", "max_inbox_lag_minutes"), 15, f"{NUMBER} from 0 to 527040"),
    (("monitoring", "max_dead_letters"), 0, f"{WHOLE} from 0 to 1000000000"),
    (("monitoring", "max_push_lag_minutes"), 15, f"{NUMBER} from 0 to 527040"),
    (("monitoring", "max_push_failures"), 0, f"{WHOLE} from 0 to 1000000000"),
    (("monitoring", "max_review_age_hours"), 24, f"{NUMBER} more than 0, at most 8784"),
    (("destination", "limits", "per_10s"), 190, f"{WHOLE} from 1 to 10000"),
    (("destination", "limits", "daily"), 625000, f"{WHOLE} from 1 to 1000000000"),
    (("destination", "owners_refresh_minutes"), 15, f"{NUMBER} more than 0, at most 1440"),
    (("dedupe", 0, "window_s"), 120, f"{NUMBER} more than 0, at most 86400"),
    (
        ("integrations", "dialer", "ownership", "protect_manual_days"),
        14,
        f"{NUMBER} from 0 to 36500",
    ),
    (
        ("integrations", "dialer", "activities", "call", "min_duration_s"),
        10,
        f"{NUMBER} from 0 to 86400",
    ),
    (("integrations", "dialer", "associations", "max_deals"), 5, f"{WHOLE} from 1 to 100"),
    (
        ("integrations", "dialer", "unknown_counterpart", "hold_days"),
        7,
        f"{NUMBER} more than 0, at most 365",
    ),
    (
        ("integrations", "dialer", "vendor", "timestamp_tolerance_s"),
        300,
        f"{NUMBER} more than 0, at most 86400",
    ),
    (
        ("integrations", "crm", "vendor", "timestamp_tolerance_s"),
        300,
        f"{NUMBER} more than 0, at most 86400",
    ),
    (("integrations", "dialer", "rollout", "percent"), 10, f"{NUMBER} more than 0, at most 100"),
]
BOOLEANS: list[tuple[Any, ...]] = [
    ("owners", 0, "active"),
    ("integrations", "dialer", "ownership", "assign_on_activity"),
    ("integrations", "dialer", "activities", "call", "enabled"),
    ("integrations", "dialer", "vendor", "require_timestamp"),
    ("integrations", "crm", "vendor", "require_timestamp"),
]


def _key_path(path: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


NUMBER_IDS = [_key_path(path) for path, _, _ in NUMBERS]


def _document(path: tuple[Any, ...], value: Any) -> str:
    """The base file with ``value`` at ``path`` (a rollout gets the settings it needs)."""
    data = yaml.safe_load(yaml.safe_dump(BASE))
    if path[:3] == ("integrations", "dialer", "rollout"):
        data["integrations"]["dialer"]["rollout"] = {"settings": {"ownership": {}}}
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
    node[path[-1]] = value
    return yaml.safe_dump(data, sort_keys=False)


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        load_config(text, "ws.yaml")
    return list(refused.value.problems)


def _refusal(text: str) -> str:
    [problem] = _problems(text)
    return problem


def _line_of(text: str, key: Any) -> int:
    lines = text.splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.lstrip(" -").startswith(f"{key}:"))


@pytest.mark.parametrize(("path", "good", "allowed"), NUMBERS, ids=NUMBER_IDS)
def test_a_number_quoted_is_text_and_refused_at_its_line(
    path: tuple[Any, ...], good: Any, allowed: str
) -> None:
    load_config(_document(path, good), "ws.yaml")  # the number as a number: taken
    text = _document(path, str(good))
    assert f"'{good}'" in text  # written quoted: YAML reads text
    line = _line_of(text, path[-1])
    expected = WHOLE if allowed.startswith(WHOLE) else NUMBER
    assert _refusal(text) == (
        f"ws.yaml:{line}: {_key_path(path)}: expected {expected}; got '{good}' "
        f"(text: write {good} without quotes); allowed: {allowed}"
    )


@pytest.mark.parametrize(("path", "good", "allowed"), NUMBERS, ids=NUMBER_IDS)
def test_true_is_not_a_number(path: tuple[Any, ...], good: Any, allowed: str) -> None:
    problem = _refusal(_document(path, True))
    assert f"{_key_path(path)}: expected " in problem
    assert problem.endswith(f"; got true; allowed: {allowed}"), problem


@pytest.mark.parametrize("path", BOOLEANS, ids=_key_path)
def test_a_boolean_quoted_is_text_and_refused_at_its_line(path: tuple[Any, ...]) -> None:
    load_config(_document(path, False), "ws.yaml")  # false as false: taken
    text = _document(path, "false")
    line = _line_of(text, path[-1])
    assert _refusal(text) == (
        f"ws.yaml:{line}: {_key_path(path)}: expected true or false; got 'false' "
        "(text: write false without quotes)"
    )
    assert _refusal(_document(path, 1)).endswith(": expected true or false; got 1")


def test_real_numbers_keep_working_a_whole_float_for_a_whole_number_too() -> None:
    text = yaml.safe_dump(
        {
            **BASE,
            "monitoring": {"flapping_changes": 4.0, "drop_percent": 12.5, "baseline_days": 14},
            "dedupe": [{"activity": "call", "integrations": ["dialer", "crm"], "window_s": 90}],
        }
    )
    config = load_config(text, "ws.yaml")
    assert (config.monitoring.flapping_changes, config.monitoring.drop_percent) == (4, 12.5)
    assert config.monitoring.baseline_days == 14 and config.dedupe[0].window_s == 90
    problem = _refusal(text.replace("flapping_changes: 4.0", "flapping_changes: 4.5"))
    assert problem.endswith("got 4.5; allowed: a whole number from 2 to 10000"), problem
    # Text that is no number at all is said as it is.
    problem = _refusal(text.replace("drop_percent: 12.5", "drop_percent: half"))
    assert problem.endswith("got 'half'; allowed: a number more than 0, at most 100"), problem


def test_the_console_form_sends_numbers_an_api_body_of_text_is_refused(
    workspace: Workspace,
) -> None:
    """The form's fields are text; the form converts its number fields itself, so the
    settings' check is as strict for the console as for the file and the admin API."""
    workspace.apply_config(workspace_config({"dialer": settings(secret_env="DIALER_SECRET")}))
    form = {
        "sections": ["associations", "phones", "rollout"],
        "associations.max_deals": ["3"],
        "unknown_counterpart.hold_days": ["2.5"],
        "rollout.percent": ["10"],
    }
    data = change_from_form(form).data
    assert (data["associations"]["max_deals"], data["unknown_counterpart"]["hold_days"]) == (3, 2.5)
    assert data.pop("rollout") == {"percent": 10}
    proposed = workspace.proposed_settings_from_data("dialer", data, "<console>").settings
    assert (proposed.associations.max_deals, proposed.unknown_counterpart.hold_days) == (3, 2.5)
    as_text = {"associations": {"max_deals": "3"}}
    with pytest.raises(ConfigError) as refused:
        workspace.proposed_settings_from_data("dialer", as_text, "<api>")
    assert str(refused.value) == (
        "<api>: integrations.dialer.associations.max_deals: expected a whole number; got '3' "
        "(text: write 3 without quotes); allowed: a whole number from 1 to 100"
    )


WHOLE_NUMBERS = [(path, good, allowed) for path, good, allowed in NUMBERS if WHOLE in allowed]


@pytest.mark.parametrize(
    ("path", "good", "allowed"), WHOLE_NUMBERS, ids=[_key_path(p) for p, _, _ in WHOLE_NUMBERS]
)
def test_every_whole_number_takes_a_whole_float_and_refuses_a_fraction(
    path: tuple[Any, ...], good: int, allowed: str
) -> None:
    """As the README says (``4.0`` for 4) — for every whole number; ``max_deals`` refused it."""
    load_config(_document(path, float(good)), "ws.yaml")
    problem = _refusal(_document(path, good + 0.5))
    assert problem.endswith(f"got {good + 0.5}; allowed: {allowed}"), problem


@pytest.mark.parametrize("text_id", ["1e3", "+1E-3", "0o17", "0x1F", ".5", "101", "1_000"])
def test_an_id_that_yaml_1_2_reads_as_a_number_is_exported_quoted(text_id: str) -> None:
    """PyYAML reads YAML 1.1, where ``1e3`` is text; yq, ruamel and Go's yaml.v3 read YAML
    1.2, where it is the number 1000: the export quotes it, so the file says text to both."""
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["owners"][0]["id"] = text_id
    data["teams"]["sdr"] = [text_id]
    exported = dump_config(load_config(yaml.safe_dump(data), "ws.yaml"))
    assert f"id: '{text_id}'" in exported or f'id: "{text_id}"' in exported, exported
    assert load_config(exported, "ws.yaml").owners[0].id == text_id


def test_a_wrong_item_of_a_list_is_one_problem_not_also_the_lists_length() -> None:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["dedupe"][0]["integrations"] = ["dialer", "Crm"]
    problems = _problems(yaml.safe_dump(data))
    assert problems and all("dedupe[0].integrations[1]: " in p for p in problems), problems
    assert not [p for p in problems if "has 1 item" in p]


def test_a_list_written_as_one_value_says_how_to_write_the_list() -> None:
    """Not "write 102 without quotes": unquoted, it is still no list."""
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["teams"]["sdr"] = "101"
    [problem] = _problems(yaml.safe_dump(data))
    assert problem.endswith("teams.sdr: expected a list; got '101' (write it as ['101'])")

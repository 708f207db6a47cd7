"""``secret_env:`` and ``token_env:`` name an environment variable; a secret pasted in place
of the name is refused at its key path, and no message ever shows it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.errors import ConfigError
from leadsync.settings import integration_from_dict, load_config_file
from leadsync.workspace import Workspace
from tests.helpers import EXAMPLE_YAML

NAMED = "    kind: generic\n"

# Secrets as people paste them: each is letters, digits and _ (a valid name in form) but
# for the first, which was refused before too.
SECRETS: list[Any] = [
    "pat-na1-1234abcd-5678-90ef-abcd-1234567890ab",  # HubSpot private app token
    "sk_live_51H8xYzAbCdEfGhIjKlMnOpQrStUv",  # Stripe
    "whsec_9f8eREALsecretvalue",  # a webhook signing secret
    "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",  # 40 hex digits, starting with a letter
    "deadbeefcafebabe0123456789abcdef",  # hex whose letters and digits group (switch once)
    "WEBHOOK_DEADBEEFCAFEBABE0123456789ABCDEF",  # the same, upper case, after a name
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",  # GitHub
    "AKIAIOSFODNN7EXAMPLE",  # an AWS access key id
    "TOKEN_Ab3dE6gH9jK2mN5pQ8sT",  # a random part after a name
    "DIALER_TOKEN\n",  # a name, with a line break after it
    98765432109876,  # a numeric token, read by YAML as a number
]
NAMES = [
    "AIRCALL_WEBHOOK_TOKEN",
    "AIRCALL2024_WEBHOOK_TOKEN",
    "dialer_secret",
    "_X",
    "HS_TOKEN_2",
    "FACADE_DECADE_2026_BED",  # hex letters, but words of under 16
]


def load(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "team.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config_file(path)


def with_secret_env(value: Any) -> str:
    assert EXAMPLE_YAML.count(NAMED) == 1
    return EXAMPLE_YAML.replace(NAMED, f"{NAMED}    secret_env: {json.dumps(value)}\n")


def shown_anywhere(value: Any, problems: list[str]) -> bool:
    text = "\n".join(problems)
    return str(value).strip() in text or json.dumps(value) in text


@pytest.mark.parametrize("value", SECRETS, ids=range(len(SECRETS)))
def test_a_secret_in_place_of_the_name_is_refused_at_its_key_and_never_shown(
    tmp_path: Path, value: Any
) -> None:
    text = with_secret_env(value)
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    [problem] = caught.value.problems
    line = text.splitlines().index(f"    secret_env: {json.dumps(value)}") + 1
    assert problem.startswith(f"{tmp_path / 'team.yaml'}:{line}: integrations.dialer.secret_env: ")
    assert "environment variable" in problem and "(not shown)" in problem
    assert "e.g. GENERIC_WEBHOOK_SECRET" in problem  # its kind's (it said Aircall's for all)
    assert not shown_anywhere(value, caught.value.problems), problem


@pytest.mark.parametrize("value", NAMES)
def test_names_are_accepted(tmp_path: Path, value: str) -> None:
    config = load(tmp_path, with_secret_env(value))
    assert config.integrations["dialer"].secret_env == value


def test_a_token_in_token_env_is_refused_the_same_way(tmp_path: Path) -> None:
    token = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
    text = EXAMPLE_YAML + f"destination: {{kind: hubspot, token_env: {token}}}\n"
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    [problem] = caught.value.problems
    assert f"team.yaml:{text.count(chr(10))}: destination.token_env: must be the name of an " in (
        problem
    )
    assert "e.g. HUBSPOT_TOKEN" in problem and token not in problem


def test_a_value_stored_earlier_stays_readable() -> None:
    """What the workspace stored before the check is read back as it is (only what a person
    writes now is refused), so every command keeps working."""
    stored = integration_from_dict({"kind": "generic", "secret_env": SECRETS[1]})
    assert stored.secret_env == SECRETS[1]


def test_the_api_and_the_cli_refuse_it_without_showing_it(
    workspace: Workspace, db_url: str, tmp_path: Path
) -> None:
    secret = SECRETS[3]
    with pytest.raises(ConfigError) as caught:
        workspace.add_integration("chat", {"kind": "aircall", "secret_env": secret})
    assert "integrations.chat.secret_env: must be the name of an environment variable" in (
        str(caught.value)
    )
    assert secret not in str(caught.value)
    path = tmp_path / "team.yaml"
    path.write_text(with_secret_env(secret), encoding="utf-8")
    for args in ((), ("--json",)):
        result = CliRunner().invoke(app, ["--db", db_url, "apply", str(path), *args])
        assert result.exit_code == 2
        assert "must be the name of an environment variable" in result.stderr
        assert secret not in result.stdout + result.stderr

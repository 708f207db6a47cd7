"""The HubSpot token read from its variable: a token an HTTP header cannot carry is refused in
words, never shown (it ended in httpx's UnicodeEncodeError traceback, exit 1)."""

from __future__ import annotations

import pytest

from leadsync.destinations.hubspot.client import read_token
from leadsync.errors import UserError
from leadsync.settings import destination_from_dict

DESTINATION = destination_from_dict({"kind": "hubspot", "token_env": "HS_TOKEN_CHECKED"})


@pytest.mark.parametrize("token", ["pat-na1-abcé", "pat-na1 abc", "pat-na1-\x07abc"])
def test_a_token_with_a_character_no_token_has_is_refused_unshown(
    monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    monkeypatch.setenv("HS_TOKEN_CHECKED", token)
    with pytest.raises(UserError) as refused:
        read_token(DESTINATION)
    said = str(refused.value)
    assert said.startswith("the HubSpot token in HS_TOKEN_CHECKED has a character no token has")
    assert "abc" not in said and refused.value.exit_code == 2


def test_a_token_is_taken_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HS_TOKEN_CHECKED", " pat-na1-0123-abcd\n")
    assert read_token(DESTINATION) == "pat-na1-0123-abcd"
    monkeypatch.setenv("HS_TOKEN_CHECKED", "")
    with pytest.raises(UserError, match="the HubSpot token is missing"):
        read_token(DESTINATION)

"""The HubSpot token read from its variable, and HubSpot's refusals said in words: a token an
HTTP header cannot carry is refused in words, never shown (it ended in httpx's
UnicodeEncodeError traceback, exit 1)."""

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


def test_a_refused_value_is_said_in_words_with_what_to_do_about_an_owner() -> None:
    """HubSpot's VALIDATION_ERROR carries its values as a JSON list in the message: said one
    by one, and an owner the portal lacks says what to do (it was the raw JSON, no advice)."""
    from leadsync.destinations.hubspot.cycle.results import refused_in_words  # noqa: PLC0415

    message = (
        'Property values were not valid: [{"isValid":false,"message":"999 was not a valid '
        'owner id","error":"INVALID_OWNER_ID","name":"hubspot_owner_id"}]'
    )
    error = {"category": "VALIDATION_ERROR", "message": message}
    assert refused_in_words(error, message) == (
        "HubSpot refused the values: hubspot_owner_id: INVALID_OWNER_ID: 999 was not a valid "
        "owner id — the owner is none of the portal's: map the rep to an owner HubSpot has, or "
        "run leadsync owners pull (owners: {source: hubspot}), then leadsync push failures "
        "retry --all"
    )
    other = {"category": "RATE_LIMITS", "message": "You have reached your secondly limit."}
    assert refused_in_words(other, other["message"]) == other["message"]

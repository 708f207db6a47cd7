"""A company switchboard several contacts share, each with their extension: a call to one
extension is that contact's (their direct line), and where no extension decides, the review
question names each candidate's extension — it said "contact N has +14155550200 as phone"
for all of them, so a person could not tell which was which."""

from __future__ import annotations

from typing import Any

import pytest

from leadsync.values import extension_of
from leadsync.workspace import Workspace
from tests.helpers import ev, run, setup

SWITCHBOARD = "+1 415 555 0200"


def _contact(ext: str, extension: str) -> dict[str, Any]:
    props = {"email": f"{ext}@initech.test", "phone": f"{SWITCHBOARD} ext. {extension}"}
    return ev("record", object="contact", external_id=ext, properties=props)


def _call(ext: str, to: str) -> dict[str, Any]:
    return ev("activity", "2026-11-02T10:00:00Z", activity="call", external_id=ext, owner="u-1",
              properties={"direction": "outbound", "to_number": to, "duration_s": 60})  # fmt: skip


@pytest.mark.parametrize(
    ("given", "extension"),
    [
        ("+1 415 555 0200 ext. 12", "12"),
        ("+1 415 555 0200;ext=12", "12"),
        ("+14155550200 x12", "12"),
        ("+1 415 555 0200 extension 9", "9"),
        ("+1 415 555 0200", None),
        ("Extension 7", None),
    ],
)
def test_extensions_as_people_write_them(given: str, extension: str | None) -> None:
    assert extension_of(given) == extension


def test_a_call_to_an_extension_is_that_contacts(workspace: Workspace) -> None:
    setup(workspace)
    run(workspace, _contact("p-12", "12"), _contact("p-34", "34"))
    run(workspace, _call("c-1", f"{SWITCHBOARD};ext=34"))
    [kim] = workspace.find(external="dialer:p-34")
    assert [a["external_id"] for a in workspace.record("contact", kim["id"])["timeline"]] == ["c-1"]
    # The switchboard itself: which of them? A question naming each one's extension.
    run(workspace, _call("c-2", SWITCHBOARD))
    [question] = workspace.review_items().items
    reasons = sorted(c.why for c in question.candidates)
    assert [r.split(" has ")[1] for r in reasons] == [
        "+14155550200 ext. 12 as phone",
        "+14155550200 ext. 34 as phone",
    ]

"""A rep's email and name are the newest its tool gave, by the tool's clock: an older event
delivered late replaces neither, so the rep's later events keep mapping to the owner its
newest email names (the late event's email moved them to another owner, and ``users list``
showed the old name). In one batch or across batches, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from leadsync.workspace import Workspace
from tests.helpers import ev, settings, workspace_config


def record(ext: str, at: str, owner: Any) -> str:
    return json.dumps(
        ev(
            "record",
            at,
            object="contact",
            external_id=ext,
            owner=owner,
            properties={"email": f"{ext}@globex.test"},
        )
    )


@pytest.mark.parametrize("batches", [True, False], ids=["one batch each", "one batch"])
def test_a_late_older_event_does_not_move_the_rep_to_another_owner(
    workspace: Workspace, batches: bool
) -> None:
    users = {"auto_match": "email", "unmapped": {"policy": "leave"}}
    workspace.apply_config(workspace_config({"dialer": settings(users=users)}))
    lines = [
        record(
            "p-1", "2026-11-01T10:00:00Z", {"id": "u-7", "email": "bo@acme.test", "name": "New"}
        ),
        record(
            "p-0", "2026-11-01T09:00:00Z", {"id": "u-7", "email": "ana@acme.test", "name": "Old"}
        ),
        record("p-2", "2026-11-01T11:00:00Z", "u-7"),
    ]
    if batches:
        for line in lines:
            workspace.ingest("dialer", [line])
    else:
        workspace.ingest("dialer", lines)
    owners = {
        e: workspace.find(external=f"dialer:{e}")[0]["owner_id"] for e in ("p-0", "p-1", "p-2")
    }
    # p-0's own event named ana@ (101): its record is 101's; the rep is bo@ (102) since 10:00.
    assert owners == {"p-0": "101", "p-1": "102", "p-2": "102"}
    [rep] = [u for u in workspace.external_users("dialer") if u["id"] == "u-7"]
    assert (rep["email"], rep["name"], rep["events"]) == ("bo@acme.test", "New", 3)

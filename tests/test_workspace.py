"""The Python API's own promises, for the methods the face tests reach only indirectly:
configuration round trips, integrations added and replaced, the listings and their checked
filters, dead letters retried and dismissed (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from leadsync.errors import NotFoundError, UserError, WorkspaceError
from leadsync.pipeline.inbox import InboxItem, write_items
from leadsync.workspace import Workspace
from tests.helpers import call_line, contact_line, settings, setup, workspace_config


def test_applying_the_same_configuration_again_changes_nothing(workspace: Workspace) -> None:
    config = workspace_config()
    first = workspace.apply_config(config)
    again = workspace.apply_config(config)
    assert first.changed and not again.changed
    exported = workspace.export_config()
    assert exported == config
    assert not workspace.apply_config(exported).changed


def test_an_integration_is_added_once_and_replaced_only_when_it_exists(
    workspace: Workspace,
) -> None:
    setup(workspace)
    added = workspace.add_integration("meet", {"kind": "generic", "activities": {"call": False}})
    assert added.kind == "generic"
    assert set(workspace.rules().integrations) == {"dialer", "meet"}
    with pytest.raises(WorkspaceError, match="exists already"):
        workspace.add_integration("meet", {"kind": "generic"})
    with pytest.raises(NotFoundError, match="unknown integration 'nope'; configured"):
        workspace.replace_integration("nope", {"kind": "generic"})
    replaced = workspace.replace_integration(
        "meet", settings(ownership={"default": "never_overwrite"})
    )
    assert workspace.integration("meet") == replaced
    assert workspace.export_config().integrations["meet"] == replaced


def test_unknown_integrations_are_named_with_the_configured_ones(workspace: Workspace) -> None:
    with pytest.raises(NotFoundError, match=r"configured integrations: none \(run leadsync"):
        workspace.integration("dialer")
    setup(workspace)
    with pytest.raises(NotFoundError, match="configured integrations: dialer"):
        workspace.integration("dailer")


def test_owners_list_their_teams_and_names_fall_back_to_the_email(workspace: Workspace) -> None:
    config = workspace_config()
    workspace.apply_config(config)
    owners = {o["id"]: o for o in workspace.owners()}
    assert owners["101"]["teams"] == ["sdr"] and owners["104"]["teams"] == []
    names = workspace.owner_names()
    assert names["101"] == "Ana Ng"
    nameless = config.model_copy(
        update={
            "owners": tuple(
                o.model_copy(update={"first_name": "", "last_name": ""}) if o.id == "104" else o
                for o in config.owner_specs
            )
        }
    )
    workspace.apply_config(nameless)
    assert workspace.owner_names()["104"] == "di@acme.test"


def test_listing_filters_refuse_values_that_can_match_nothing(workspace: Workspace) -> None:
    setup(workspace)
    with pytest.raises(UserError, match="status 'done' is not allowed; allowed: pending"):
        workspace.inbox_rows(status="done")
    with pytest.raises(UserError, match="outcome 'won' is not allowed; allowed: set"):
        workspace.decisions(outcome="won")
    with pytest.raises(UserError, match="activity type 'fax' is not allowed; allowed: call"):
        workspace.activities(activity_type="fax")
    with pytest.raises(UserError, match="exactly one of"):
        workspace.find(email="a@b.test", domain="b.test")
    with pytest.raises(UserError, match="expected INTEGRATION:EXTERNAL_ID"):
        workspace.find(external="dialer")


def test_activities_say_why_each_record_is_associated(workspace: Workspace) -> None:
    setup(workspace)
    summary = workspace.ingest(
        "dialer", [contact_line("p-1", "u-1"), call_line("c-1", "p-1", 60)], source="x"
    )
    assert summary.ok
    (call,) = workspace.activities(activity_type=" CALL ")
    links = {link["type"]: link for link in call["records"]}
    assert links["contact"]["source"] == "event" and links["contact"]["why"]
    assert workspace.activities(activity_type="meeting") == []


def test_dead_letters_are_dismissed_all_or_nothing_and_never_twice(workspace: Workspace) -> None:
    setup(workspace)
    workspace.ingest("dialer", ["not json", "{also not json"], source="bad.jsonl")
    assert workspace.dead_letter_count() == 2
    first, second = sorted(letter["id"] for letter in workspace.dead_letters())
    with pytest.raises(UserError, match="needs a reason"):
        workspace.dismiss_dead_letters([first], "  ")
    with pytest.raises(NotFoundError, match="no dead letter with id 999"):
        workspace.dismiss_dead_letters([first, 999], "cannot be fixed")
    assert workspace.dead_letter_count() == 2  # nothing dismissed
    assert workspace.dismiss_dead_letters([first], "garbage", by="ops") == [first]
    letter = workspace.dead_letter(first)
    assert (letter["state"], letter["resolved_by"], letter["dismissed_reason"]) == (
        "dismissed",
        "ops",
        "garbage",
    )
    assert workspace.dead_letter_count() == 1
    with pytest.raises(WorkspaceError, match=f"dead letter {first} was dismissed"):
        workspace.dismiss_dead_letters([first], "again")
    assert workspace.dismiss_dead_letters(None, "the rest", integration="dialer") == [second]
    assert workspace.dead_letter_count() == 0


def test_a_dead_letter_that_still_cannot_be_read_is_not_retried(workspace: Workspace) -> None:
    setup(workspace)
    workspace.ingest("dialer", ["not json"], source="bad.jsonl")
    (letter,) = workspace.dead_letters()
    with pytest.raises(UserError, match=r"cannot be retried: .*bad\.jsonl:1.*dismiss it with"):
        workspace.retry_dead_letter(letter["id"])
    assert workspace.dead_letter(letter["id"])["state"] == "open"
    with pytest.raises(NotFoundError, match="no dead letter with id 999"):
        workspace.retry_dead_letter(999)


def test_a_retried_dead_letter_is_applied_at_once_only_when_asked(workspace: Workspace) -> None:
    """The CLI's retry applies the inbox at once (``applied``); the API's leaves it to the
    worker (``applied`` null). Both get the same result type, serialized once."""
    setup(workspace)
    items = [
        InboxItem(f"g{n}", None, contact_line(f"p-{n}", "u-1", event_id=f"g{n}")) for n in (1, 2)
    ]
    with workspace.engine.begin() as connection:  # events of an integration not configured
        write_items(connection, "gone", items, "2026-11-01T09:00:01.000Z", "test", "pending")
    assert workspace.process_inbox().failed.total == 2
    first, second = sorted(letter["id"] for letter in workspace.dead_letters())
    workspace.apply_config(workspace_config({"dialer": settings(), "gone": settings()}))

    later = workspace.retry_dead_letter(first)
    assert later.applied is None
    assert [r["status"] for r in workspace.inbox_rows(integration="gone")].count("pending") == 1

    now = workspace.retry_dead_letter(second, by="ops", apply=True)
    assert now.applied == 2  # whatever the inbox held pending: both letters' events
    assert workspace.inbox_rows(status="pending") == []
    assert now.model_dump(mode="json") == {
        "id": second,
        "integration": "gone",
        "resolution": now.resolution,
        "applied": 2,
        "failed_again": [],
    }
    assert "pending again" in now.resolution

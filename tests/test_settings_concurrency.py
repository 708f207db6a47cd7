"""Two settings changes at once (two admins, two processes, a review answer beside a save)
apply one after the other: the later reads what the earlier wrote, in the transaction that
writes (store.config.lock_config), so it never undoes it from an older copy; a save made from
a preview refuses once another change landed. On both backends."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from leadsync import workspace_config
from leadsync.errors import WorkspaceError
from leadsync.ops import rollout as rollout_ops
from leadsync.ops import settings_change
from leadsync.ops.settings_change import Actor
from leadsync.settings import integration_to_dict
from leadsync.workspace import Workspace
from tests.helpers import settings
from tests.helpers import workspace_config as config_of

ADMIN = Actor(role="admin", who="ana")
OTHER = Actor(role="admin", who="bo")


@pytest.fixture
def two(db_url: str) -> Iterator[tuple[Workspace, Workspace]]:
    """Two workspaces on one database: two processes."""
    first, second = Workspace(db_url), Workspace(db_url)
    first.apply_config(config_of({"dialer": settings()}))
    yield first, second
    first.close()
    second.close()


def _race(
    monkeypatch: pytest.MonkeyPatch, first: Callable[[], Any], second: Callable[[], Any]
) -> tuple[Any, Any]:
    """``first`` runs until it is inside its settings write (after its reads, its transaction
    open), paused there; ``second`` starts then and must wait for it; then ``first`` goes on.
    What each returned, or raised."""
    inside, go = threading.Event(), threading.Event()
    write = workspace_config.set_integration_on

    def paused(*args: Any, **kwargs: Any) -> Any:
        if not inside.is_set():
            inside.set()
            assert go.wait(30)
        return write(*args, **kwargs)

    monkeypatch.setattr(workspace_config, "set_integration_on", paused)
    thread_a, outcome_a = _in_thread(first)
    assert inside.wait(30)
    thread_b, outcome_b = _in_thread(second)
    thread_b.join(0.5)
    assert outcome_b == []  # still waiting for the first
    go.set()
    thread_a.join(30)
    thread_b.join(30)
    assert not isinstance(outcome_a[0], Exception), outcome_a
    return outcome_a[0], outcome_b[0]


def _in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(fn())
        except Exception as exc:  # the test reads it
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _with_call_settings(min_duration_s: int) -> dict[str, Any]:
    data = settings()
    data["activities"]["call"]["min_duration_s"] = min_duration_s
    return data


def test_a_save_from_a_preview_another_save_overtook_is_refused(
    two: tuple[Workspace, Workspace], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = two
    since = "2026-11-01T00:00:00Z"
    a, b = _with_call_settings(30), _with_call_settings(45)
    previewed_a = first.preview_settings_change("dialer", a, since).preview.fingerprint
    previewed_b = second.preview_settings_change("dialer", b, since).preview.fingerprint
    # B, from a preview of the same settings, starts while A is between its check and its
    # write: it waits for A's transaction, then finds the settings changed.
    _, refused = _race(
        monkeypatch,
        lambda: first.replace_integration("dialer", a, ADMIN, previewed_a),
        lambda: second.replace_integration("dialer", b, OTHER, previewed_b),
    )
    assert isinstance(refused, WorkspaceError)
    assert "changed since the preview was made" in str(refused)
    assert second.integration("dialer").activities.call.min_duration_s == 30
    entries = second.audit_log(integration="dialer").entries
    assert [e.who for e in entries] == ["ana"]


def test_an_edit_beside_a_save_keeps_both(
    two: tuple[Workspace, Workspace], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A review answer adds a users.map entry to the settings as they are when it writes:
    a save that landed meanwhile stays (it used to be overwritten from the answer's older
    copy)."""
    first, second = two

    def map_rep(current: Any) -> Any:
        data = integration_to_dict(current)
        data["users"]["map"]["u-7"] = "101"
        return data

    _, edited = _race(
        monkeypatch,
        lambda: first.replace_integration("dialer", _with_call_settings(30), ADMIN),
        lambda: settings_change.edit_integration(second.engine, "dialer", map_rep, False, OTHER),
    )
    assert not isinstance(edited, Exception), edited
    saved = second.integration("dialer")
    assert saved.activities.call.min_duration_s == 30  # A's change kept
    assert saved.users.target_of("u-7") == "101"  # B's entry added to it


def test_a_promote_confirmed_from_what_a_save_then_changed_is_refused(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console's promote carries the fingerprint of what it showed; a save landing
    between that check and the write makes it refuse, not promote over the save."""
    first, second = Workspace(db_url), Workspace(db_url)
    try:
        staged = {
            **settings(),
            "rollout": {"percent": 10, "settings": {"ownership": {"default": "fill_if_empty"}}},
        }
        first.apply_config(config_of({"dialer": staged}))
        shown = rollout_ops.plan(second.engine, "dialer", "promote").fingerprint
        edited = {**staged, "activities": _with_call_settings(30)["activities"]}
        _, refused = _race(
            monkeypatch,
            lambda: first.replace_integration("dialer", edited),
            lambda: second.rollout_promote("dialer", OTHER, seen=shown),
        )
        assert isinstance(refused, WorkspaceError)
        assert "look at it again, then confirm" in str(refused)
        kept = second.integration("dialer")
        assert kept.rollout is not None  # not promoted
        assert kept.activities.call.min_duration_s == 30  # the save stays
    finally:
        first.close()
        second.close()

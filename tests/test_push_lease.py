"""The push lease: a push loop that stops cleanly (SIGTERM, the end of serve or worker) gives
it up, so another process pushes at once rather than a minute later; ``push status`` names
its holder as every other surface names a process (``LEADSYNC_PROCESS_NAME``, with its host
and pid), with since when it holds it and until when, and tells a holder that gave it up
from one that died (its lease lapsed)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.destinations.hubspot.fake import HubSpotDouble, serving
from leadsync.destinations.hubspot.pusher import LEASE, Pusher, holder_label, pusher_name
from leadsync.observability import process_name
from leadsync.store import push_lease as push_store
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN as TOKEN
from tests.helpers import run
from tests.test_hubspot_push import company_contact_call, config
from tests.test_observability import LEADSYNC

HERE = f"{socket.gethostname()}:{os.getpid()}"


@pytest.fixture
def ws(db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    monkeypatch.setenv("LEADSYNC_PROCESS_NAME", "worker-2")
    workspace = Workspace(db_url, hubspot_transport=hub.transport())
    workspace.apply_config(config())
    workspace.hubspot_setup()
    yield workspace
    workspace.close()


def status_text(db_url: str) -> str:
    result = CliRunner().invoke(app, ["--db", db_url, "push", "status"])
    assert result.exit_code == 0, result.output
    return " ".join(result.stdout.split())


def test_a_push_loop_that_stops_gives_the_lease_up_at_once(ws: Workspace, db_url: str) -> None:
    run(ws, *company_contact_call())
    loop = ws.push_loop(poll_s=0.01)
    assert loop is not None
    loop.start()
    deadline = time.monotonic() + 20
    while ws.push_status()["queued_total"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ws.push_status()["pusher"] == f"worker-2 ({HERE})"  # it holds the lease
    loop.stop()
    status = ws.push_status()
    assert status["pusher"] is None
    assert status["lease"]["state"] == "given up" and not status["lease"]["held"]
    # Another process takes it at once (before: busy until the lease lapsed, 60 s later).
    other = ws.pusher(holder="worker-3 (elsewhere:1) #000001")
    try:
        assert not other.run_once().busy
        assert ws.push_status()["pusher"] == "worker-3 (elsewhere:1)"
    finally:
        other.release()
    assert "none running (last worker-3 (elsewhere:1), since " in status_text(db_url)


def test_a_loop_stopped_after_a_failed_cycle_still_gives_the_lease_up(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = ws.push_loop(poll_s=0.01)
    assert loop is not None
    loop.step()  # takes the lease (nothing queued)

    def fails(self: Pusher) -> None:
        raise RuntimeError("a cycle failed")

    monkeypatch.setattr(Pusher, "run_once", fails)
    loop.step()  # the loop drops its pusher (a fresh one next time); the lease stays held
    assert loop.errors == 1 and ws.push_status()["lease"]["held"]
    loop.stop()
    assert ws.push_status()["lease"]["state"] == "given up"


def test_push_status_names_the_holder_as_every_surface_names_the_process(
    ws: Workspace, db_url: str
) -> None:
    assert process_name() == "worker-2"  # /healthz, /readyz, logs, leadsync_process_info
    assert holder_label(pusher_name()) == f"worker-2 ({HERE})"
    loop = ws.push_loop(poll_s=0.01)
    assert loop is not None
    loop.step()
    first = ws.push_status()["lease"]
    assert first["holder"] == f"worker-2 ({HERE})" and first["held"]
    assert first["state"] == "held"
    assert first["since"].endswith("Z") and first["until"] > first["since"]
    assert first["since"] <= first["renewed"] < first["until"]
    time.sleep(0.02)
    loop.step()  # renewing keeps since when it holds it
    assert ws.push_status()["lease"]["since"] == first["since"]
    text = status_text(db_url)
    assert f"pusher: worker-2 ({HERE}), holding the push lease since " in text
    assert ", at least every 15 s; until " in text and " unless renewed)" in text
    out = CliRunner().invoke(app, ["--db", db_url, "push", "status", "--json"]).stdout
    assert json.loads(out)["pusher"] == f"worker-2 ({HERE})"
    loop.stop()


def test_push_beside_a_holder_says_who_holds_the_lease_and_until_when(
    ws: Workspace, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A holder that was SIGKILLed a moment ago holds the lease until it lapses: a push then
    says whose lease, since and until when (it only said "another pusher holds the lease")."""
    run(ws, *company_contact_call())
    with ws.engine.begin() as connection:
        push_store.take_lease(connection, LEASE, "worker-1 (vm:21413) #326324", time.time(), 60)
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    result = CliRunner().invoke(app, ["--db", db_url, "push"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    assert (
        "another pusher holds the lease: worker-1 (vm:21413), holding the push lease since" in said
    )
    assert "unless renewed); it pushes the " in said
    assert "(if it stopped, push again once its lease lapses)" in said


def test_a_holder_that_died_is_told_from_one_that_stopped(ws: Workspace, db_url: str) -> None:
    # A process SIGKILLed two minutes ago: its lease lapsed a minute ago, never given up.
    with ws.engine.begin() as connection:
        taken = time.time() - 120
        push_store.take_lease(connection, LEASE, "worker-1 (vm:21413) #326324", taken, 60)
    status = ws.push_status()
    assert status["pusher"] is None
    lease = status["lease"]
    assert (lease["holder"], lease["state"], lease["held"]) == (
        "worker-1 (vm:21413)",
        "lapsed",
        False,
    )
    assert lease["since"] < lease["until"]
    assert "none running (last worker-1 (vm:21413), since " in status_text(db_url)
    assert "stopped renewing it: lapsed at " in status_text(db_url)
    # The next pusher takes the lapsed lease over, from its own time.
    loop = ws.push_loop(poll_s=0.01)
    assert loop is not None
    loop.step()
    assert ws.push_status()["lease"]["since"] > lease["until"]
    loop.stop()


def test_a_one_shot_push_stopped_by_sigterm_gives_the_lease_up(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``kill`` (a deploy, a container stop) ends `leadsync push` through its cleanup, as
    Ctrl-C does: the lease is given up, not left to lapse a minute later."""
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    monkeypatch.setenv("LEADSYNC_PROCESS_NAME", "pusher-1")
    with serving(hub) as base_url, Workspace(db_url) as ws:
        ws.apply_config(config(base_url=base_url))
        ws.hubspot_setup()
        run(ws, *company_contact_call())
        hub.set_faults(latency_ms=300)  # every request slow: the push is under way for seconds
        before = hub.stats()["requests"]
        command = [str(LEADSYNC), "--db", db_url, "push"]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while hub.stats()["requests"] == before:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the push sent nothing in 60 s"
                time.sleep(0.01)
            assert ws.push_status()["lease"]["held"]
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 143, err
        assert "Traceback" not in err.decode()
        lease = ws.push_status()["lease"]
        assert lease["state"] == "given up" and not lease["held"]
        assert lease["holder"].startswith("pusher-1 (")


def test_a_running_loop_takes_a_destination_added_or_removed_without_a_restart(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    with_destination = config()
    without = with_destination.model_copy(update={"destination": None})

    def lease(ws: Workspace) -> dict[str, object] | None:
        with ws.engine.connect() as connection:
            return push_store.read_lease(connection, LEASE)

    with Workspace(db_url, hubspot_transport=hub.transport()) as ws:
        ws.apply_config(without)
        loop = ws.push_loop(poll_s=0.01)  # as serve and worker start it: no destination yet
        assert loop.step() == 0.01 and lease(ws) is None
        assert hub.stats()["requests"] == 0
        # Added while the process runs (apply from elsewhere): pushed from the next turn.
        ws.apply_config(with_destination)
        ws.hubspot_setup()
        run(ws, *company_contact_call())
        loop.step()
        assert len(hub.objects("contacts")) == 1 and len(hub.objects("calls")) == 1
        assert ws.push_status()["lease"]["held"]
        # Removed: the push stops and its lease is given up at once.
        ws.apply_config(without)
        before = hub.stats()["requests"]
        loop.step()
        given_up = lease(ws)
        assert given_up is not None and given_up["released_at"] is not None
        assert hub.stats()["requests"] == before
        loop.stop()


def test_push_status_with_nothing_queued_says_so(ws: Workspace, db_url: str) -> None:
    """A list with nothing to show says so (README): it printed the table's headers alone."""
    text = status_text(db_url)
    assert text.startswith("push queue: nothing queued, nothing pushed in the last hour")
    assert "object type" not in text


def test_a_test_lead_beside_another_processs_pusher_waits_for_it(ws: Workspace) -> None:
    """``serve``'s push loop holds the lease: the test lead's own push is busy, so its
    HubSpot checks read what was not pushed yet and failed, every time, in the console (which
    runs inside serve). It now waits for that pusher to push the test lead."""
    loop = ws.push_loop(poll_s=0.05)
    assert loop is not None
    loop.step()  # serve's pusher takes the lease
    loop.start()
    try:
        result = ws.test_lead("dialer", "u-1")
    finally:
        loop.stop()
    checks = {c["check"]: c for c in result.checks}
    assert checks["hubspot_owner"]["passed"], checks
    assert checks["hubspot_call"]["passed"], checks
    assert result.passed

"""The workspace's HubSpot destination: its settings, a client drawing on the shared request
budget, the portal's setup, owners pulled, the push (drained, dry, or as a loop), the backfill,
and a test lead read back.

Each function takes the workspace's engine and, where it talks to HubSpot, the HTTP
transport (None: the network; tests and the demo pass the stand-in's), so that
:class:`~leadsync.workspace.Workspace` stays a few lines per method over them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
from sqlalchemy.engine import Connection, Engine

from leadsync.destinations.hubspot import portal
from leadsync.destinations.hubspot.budget import RateBudget
from leadsync.destinations.hubspot.client import HubSpotClient, read_token
from leadsync.destinations.hubspot.loop import PushLoop
from leadsync.destinations.hubspot.objects import RECORD_TYPES, Paths
from leadsync.destinations.hubspot.portal import SetupReport
from leadsync.destinations.hubspot.pusher import (
    Pusher,
    PushResult,
    make_push_key,
    pusher_name,
    release_lease,
)
from leadsync.errors import WorkspaceError
from leadsync.model import now_ts
from leadsync.ops.settings_change import MANAGED_SETTING
from leadsync.ops.testlead import TestLeadResult, hubspot_checks, pushed_ids
from leadsync.settings import DestinationSettings, destination_from_dict
from leadsync.sources.options import HubSpotOptions
from leadsync.store import config as config_store
from leadsync.store import push as push_store
from leadsync.store import records as records_store
from leadsync.store import testlead as testlead_store
from leadsync.store.database import begin_writing
from leadsync.workspace_config import (
    DESTINATION_SETTING,
    HUBSPOT_PORTAL_SETTING,
    OWNERS_SOURCE_SETTING,
    PUSH_BACKFILL_SETTING,
    PUSHED_TO_SETTING,
    load_rules,
    owners_named_on,
)

Transport = httpx.BaseTransport | None
SentRequest = tuple[str, str, Any]
"""A request a dry run would send: (method, path, JSON body or None)."""


def destination(engine: Engine) -> DestinationSettings:
    """The configured destination; a WorkspaceError naming the missing block if none."""
    with engine.connect() as connection:
        data = config_store.read_setting(connection, DESTINATION_SETTING)
    if not data:
        raise WorkspaceError(
            "no destination is configured; add a block like "
            "`destination: {kind: hubspot, token_env: HUBSPOT_TOKEN}` to the workspace "
            "file and run `leadsync apply`"
        )
    return destination_from_dict(data)


def hubspot_client(engine: Engine, transport: Transport, **options: Any) -> HubSpotClient:
    """A client on the workspace's destination, drawing on its shared request budget."""
    settings = destination(engine)
    budget = RateBudget(engine, settings.app_id or "default", settings.limits.per_10s)
    return HubSpotClient(settings, budget, transport=transport, **options)


def setup(engine: Engine, transport: Transport, new_portal: bool = False) -> SetupReport:
    """Check the token's scopes; create the unique ``leadsync_id`` properties if missing; keep
    what the portal offers (the leads object) for the pusher, and make the workspace key the
    ``leadsync_id`` values begin with (so that a dry run, which makes nothing, shows them).
    The portal must be the one the stored HubSpot ids belong to (:func:`_confirm_portal`);
    ``new_portal`` moves the workspace to this one."""
    settings = destination(engine)
    with hubspot_client(engine, transport) as client:
        report = portal.setup(client, Paths(settings.api_version), read_token(settings))
    report.warnings = _other_apps(engine, settings, report.app_id)
    with begin_writing(engine) as connection:
        _confirm_portal(connection, report, settings.base_url, new_portal)
        config_store.write_setting(connection, HUBSPOT_PORTAL_SETTING, report.to_dict())
        make_push_key(connection)
    return report


def _other_apps(engine: Engine, settings: DestinationSettings, app: str | None) -> list[str]:
    """The app ids the settings give that are not the token's app: the HubSpot
    integrations' (their webhooks from that app are read as leadsync's own writes coming
    back: with another id, every owner the push writes comes back as a person's change)
    and the destination's."""
    if app is None:
        return []
    given = [("destination.app_id", settings.app_id)]
    for name, integration in load_rules(engine).integrations.items():
        vendor = integration.vendor_options()
        if integration.is_crm and isinstance(vendor, HubSpotOptions):
            given.append((f"integrations.{name}.vendor.app_id", vendor.app_id))
    return [
        f"{where} is {value!r}, but the token is app {app}'s: HubSpot webhooks of leadsync's own "
        f'writes carry app {app}; set {where}: "{app}"'
        for where, value in given
        if value is not None and value != app
    ]


def _confirm_portal(
    connection: Connection, report: SetupReport, base_url: str, new_portal: bool
) -> None:
    """The stored HubSpot ids belong to the portal they were made in: a token of another
    portal is refused (the ids sent there would update that portal's own objects — every
    contact update sends its email), unless ``new_portal``, which forgets them and queues
    every record and activity for this portal (those it has already are found by
    ``leadsync_id``, email and domain)."""
    pushed_to = config_store.read_setting(connection, PUSHED_TO_SETTING) or {}
    known, now = pushed_to.get("hub_id"), report.hub_id
    other = known is not None and now is not None and known != now
    if new_portal and not other:
        raise WorkspaceError(
            f"portal {now or '?'} is the one leadsync pushed to (or none was pushed to): "
            "there is no other portal's ids to forget; run `leadsync hubspot setup`"
        )
    n = push_store.count_pushed(connection) if other else 0
    if n:
        if not new_portal:
            raise WorkspaceError(
                f"this token is HubSpot portal {now}, but leadsync pushed {n} objects to "
                f"portal {known} ({pushed_to.get('base_url')}): their HubSpot ids are that "
                "portal's, and updates sent here would change other objects. To push this "
                f"workspace to portal {now}, run `leadsync hubspot setup --new-portal`: it "
                f"forgets portal {known}'s ids and queues every record and activity again "
                "(objects this portal has already are found by leadsync_id, email and "
                "domain). Nothing was changed"
            )
        push_store.forget_portal(connection)
        push_store.queue_backfill(connection, now_ts(), RECORD_TYPES)
    config_store.write_setting(
        connection, PUSHED_TO_SETTING, {"hub_id": now or known, "base_url": base_url}
    )


def _check_pushed_to(connection: Connection, base_url: str) -> None:
    """Pushing with a ``base_url`` the portal was not confirmed at is refused while HubSpot
    ids are stored: they may be another portal's (``hubspot setup`` checks)."""
    pushed_to = config_store.read_setting(connection, PUSHED_TO_SETTING)
    if pushed_to and pushed_to.get("base_url") != base_url and push_store.count_pushed(connection):
        raise WorkspaceError(
            f"the destination is now {base_url}, but leadsync's HubSpot ids were made at "
            f"{pushed_to.get('base_url')} (portal {pushed_to.get('hub_id') or '?'}): run "
            "`leadsync hubspot setup` to check it is the same portal before pushing; "
            "nothing was pushed"
        )


def pull_owners(engine: Engine, transport: Transport) -> config_store.ConfigChanges:
    """Owners and teams from HubSpot: added, updated, and the ones gone archived. Refused
    (WorkspaceError, nothing asked of HubSpot) in a workspace managed by a file that lists
    its owners: the file's next apply would archive what the pull added."""
    settings = destination(engine)
    with engine.connect() as connection:
        managed = config_store.read_setting(connection, MANAGED_SETTING)
        from_crm = config_store.read_setting(connection, OWNERS_SOURCE_SETTING) == "hubspot"
    if managed and not from_crm:
        file = managed["file"]
        raise WorkspaceError(
            f"the workspace is managed by file ({file}), which lists the owners: its next "
            "apply would archive the owners a pull adds; to take owners and teams from "
            f"HubSpot, write `owners: {{source: hubspot}}` in {file} in place of the list, "
            f"then run `leadsync apply {file}` and pull again"
        )
    with hubspot_client(engine, transport) as client:
        pulled = portal.pull_owners(client, Paths(settings.api_version))
    changes = config_store.ConfigChanges()
    with begin_writing(engine) as connection:
        config_store.lock_config(connection)
        _refuse_stranding(connection, pulled.owners)
        config_store.replace_owners(connection, pulled.owners, changes)
        config_store.replace_teams(connection, pulled.teams, changes, only_named=True)
    return changes


def _refuse_stranding(connection: Connection, pulled: list[dict[str, Any]]) -> None:
    """A pull archives the owners HubSpot does not have: refused (nothing written) when the
    settings still name some of them — a team of archived members, a map to nobody —, as
    ``owners: {source: hubspot}`` refuses a file naming owners HubSpot does not have. The
    refusal names, for each owner typed by hand, HubSpot's owner of the same email."""
    owners = config_store.owners_by_id(connection)
    hubspots = {str(owner["id"]) for owner in pulled}
    stranded = {
        owner: places
        for owner, places in owners_named_on(connection).items()
        if owner in owners and owners[owner].active and owner not in hubspots
    }
    if not stranded:
        return
    by_email = {str(o.get("email") or "").lower(): str(o["id"]) for o in pulled if o.get("email")}
    named = "; ".join(
        f"{owner} ({', '.join(places)})" for owner, places in sorted(stranded.items())
    )
    same = [
        f"{owner} ({owners[owner].email}) is HubSpot's {by_email[owners[owner].email.lower()]}"
        for owner in sorted(stranded)
        if owners[owner].email.lower() in by_email
    ]
    hint = f" By email, {', '.join(same)}." if same else ""
    ids = ", ".join(sorted(stranded))
    raise WorkspaceError(
        f"HubSpot has no owner {ids}, which the settings name: {named}; a pull would archive "
        f"them, so nothing was pulled.{hint} Name HubSpot's owners there instead: with owners "
        "listed in the workspace file, list HubSpot's too (by their ids) and name those; with "
        f"owners: {{source: hubspot}}, take {ids} out of those settings, pull, then name "
        "HubSpot's ids"
    )


def pusher(
    engine: Engine,
    transport: Transport,
    *,
    dry_run: bool = False,
    holder: str | None = None,
    connection: Connection | None = None,
    **options: Any,
) -> Pusher:
    """A pusher on the destination (``options`` go to its client); it reads the rules afresh
    each cycle, and skips leads when the portal has no leads object. A dry run's
    ``connection``: see :class:`~leadsync.destinations.hubspot.pusher.Pusher`."""
    settings = destination(engine)
    with engine.connect() as reading:
        portal_info = config_store.read_setting(reading, HUBSPOT_PORTAL_SETTING) or {}
        if not dry_run:
            _check_pushed_to(reading, settings.base_url)
    return Pusher(
        engine,
        hubspot_client(engine, transport, **options),
        partial(load_rules, engine),
        version=settings.api_version,
        dry_run=dry_run,
        holder=holder,
        skip_types=() if portal_info.get("leads", True) else ("lead",),
        connection=connection,
        options=partial(portal_options, engine),
    )


def portal_options(engine: Engine) -> dict[str, Any]:
    """The portal's dropdowns as ``hubspot setup`` last read them (:mod:`.options`)."""
    with engine.connect() as connection:
        return dict(
            (config_store.read_setting(connection, HUBSPOT_PORTAL_SETTING) or {}).get("options")
            or {}
        )


def push(
    engine: Engine,
    transport: Transport,
    *,
    dry_run: bool = False,
    max_cycles: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> PushResult:
    """Drain the push queue and stop; the lease is given up after (not held by a dry run)."""
    sender = pusher(engine, transport, dry_run=dry_run)
    try:
        return sender.drain(max_cycles, on_progress)
    finally:
        if not dry_run:
            sender.release()
        sender.client.close()


def push_dry_run(
    engine: Engine, transport: Transport, backfill: bool = False
) -> tuple[int, list[SentRequest]]:
    """(the objects ``backfill`` queues first, 0 without it; the requests one push cycle would
    then send), built from the queue and sent nowhere. Nothing is written and no lease is
    taken: the backfill is queued by the same code as :func:`backfill` (a WorkspaceError, as
    there, when it was queued already) in a transaction rolled back once the requests are
    listed. The token is a placeholder: a dry run needs none set."""
    destination(engine)
    with engine.connect() as connection:
        transaction = begin_writing(connection)
        try:
            queued = _queue_backfill(connection) if backfill else 0
            sender = pusher(engine, transport, dry_run=True, connection=connection, token="dry-run")
            try:
                sender.drain()
            finally:
                sender.client.close()
        finally:
            transaction.rollback()
    return queued, list(sender.sent)


def push_loop(engine: Engine, transport: Transport, poll_s: float) -> PushLoop:
    """The push as a background loop. Each turn reads the destination (one small query), so
    a process running when it changes needs no restart: one added is pushed to from the next
    turn, one removed stops the push (the lease given up), one changed (its URL, version or
    token variable) gets a new client. With owners from HubSpot, it pulls them again every
    ``owners_refresh_minutes``, as set at the time."""
    pushers: list[Pusher] = []
    holder = pusher_name()  # one name for the process: it keeps its lease across errors
    state: dict[str, Any] = {"destination": None, "next_pull": 0.0}

    def give_up() -> None:
        """The lease given up (held or not: one statement) and the client closed; nothing
        to do while no destination was ever read (the loop never pushed)."""
        if state["destination"] is None and not pushers:
            return
        try:
            if pushers:
                pushers[0].release()
            else:
                release_lease(engine, holder)
        finally:
            while pushers:
                pushers.pop().client.close()

    def push_once() -> int:
        with engine.connect() as connection:
            data = config_store.read_setting(connection, DESTINATION_SETTING)
            from_crm = config_store.read_setting(connection, OWNERS_SOURCE_SETTING) == "hubspot"
        if data != state["destination"]:  # added, removed or changed since the last turn
            if state["destination"] is not None:
                give_up()
            state.update(destination=data, next_pull=0.0)
        if not data:
            return 0
        if from_crm and time.time() >= state["next_pull"]:
            pull_owners(engine, transport)
            minutes = destination_from_dict(data).owners_refresh_minutes
            state["next_pull"] = time.time() + minutes * 60
        if not pushers:
            pushers.append(pusher(engine, transport, holder=holder))
        try:
            return pushers[0].run_once().changes
        except BaseException:
            pushers.pop().client.close()  # a fresh client (and token) next time
            raise

    return PushLoop(push_once, poll_s=poll_s, on_stop=give_up)


def backfill(engine: Engine) -> int:
    """Queue, once, everything the workspace held before the destination was added; a
    WorkspaceError the second time (later changes are queued as they happen)."""
    destination(engine)
    with begin_writing(engine) as connection:
        return _queue_backfill(connection)


def _queue_backfill(connection: Connection) -> int:
    if config_store.read_setting(connection, PUSH_BACKFILL_SETTING):
        raise WorkspaceError(
            "the backfill was queued already (it runs once); later changes are queued "
            "as they happen"
        )
    at = now_ts()
    queued = push_store.queue_backfill(connection, at, RECORD_TYPES)
    config_store.write_setting(connection, PUSH_BACKFILL_SETTING, {"at": at, "queued": queued})
    return queued


# How long a test lead waits for another process's pusher (serve's) to push it.
TEST_LEAD_WAIT_S = 30.0


def check_test_lead(
    engine: Engine, transport: Transport, result: TestLeadResult, wait_s: float = TEST_LEAD_WAIT_S
) -> None:
    """Push, then read the test lead back from HubSpot (its owner; the call's links) into
    ``result``'s checks. Where another process pushes (``serve``'s pusher holds the lease:
    the console's test lead always runs beside it), wait up to ``wait_s`` for it to push
    the test lead."""
    if push(engine, transport).busy:  # until it is pushed, or HubSpot refused it
        deadline = time.monotonic() + wait_s
        while not (_test_lead_pushed(engine, result) or _refusals(engine, result)):
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
    paths = Paths(destination(engine).api_version)
    ids = pushed_ids(engine, result)
    with hubspot_client(engine, transport) as client:
        hubspot_checks(
            result,
            ids,
            lambda contact: portal.read_owner(client, paths, "contact", contact),
            lambda call, to_type: portal.read_links(client, paths, "call", call, to_type),
            _refusals(engine, result),
        )


def _refusals(engine: Engine, result: TestLeadResult) -> dict[tuple[str, int], tuple[int, str]]:
    """The open push failures of the test lead and its call: (id, message) by object."""
    objects = [(push_store.RECORD, result.record_id)] if result.record_id is not None else []
    if result.activity_id is not None:
        objects.append((push_store.ACTIVITY, result.activity_id))
    with engine.connect() as connection:
        return testlead_store.open_refusals(connection, objects)


def _test_lead_pushed(engine: Engine, result: TestLeadResult) -> bool:
    """Whether the test lead, the records its call is on and the call are in HubSpot with
    nothing of theirs left to push."""
    ids = pushed_ids(engine, result)
    objects = [(push_store.RECORD, result.record_id)] if result.record_id is not None else []
    objects += [(push_store.RECORD, i) for _t, i in result.call_links]
    if result.activity_id is not None:
        objects.append((push_store.ACTIVITY, result.activity_id))
    with engine.connect() as connection:
        return all(
            key in ids and not records_store.push_state(connection, *key)["queued"]
            for key in objects
        )

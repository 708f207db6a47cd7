"""The Python API of a leadsync workspace: the one class the faces (the CLI, the admin API,
the demo) call, each command or endpoint a few lines over a method, and each method a few
lines over a function of :mod:`leadsync.ops`, :mod:`leadsync.workspace_config` or the
pipeline, returning the typed result the faces serialize once.

    >>> ws = Workspace("sqlite:///leadsync.db")
    >>> ws.apply_config(load_config_file("leadsync.yaml"))
    >>> ws.ingest("dialer", open("events.jsonl", "rb"), source="events.jsonl")
    >>> ws.record(RecordType.CONTACT, 1)["owner_history"]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx

from leadsync import workspace_config
from leadsync.destinations.hubspot.client import HubSpotClient, read_token
from leadsync.destinations.hubspot.loop import PushLoop
from leadsync.destinations.hubspot.portal import SetupReport
from leadsync.destinations.hubspot.pusher import Pusher, PushResult
from leadsync.engine import WorkspaceRules
from leadsync.errors import WorkspaceError
from leadsync.model import Outcome, RecordType, now_ts
from leadsync.ops import deadletters as dead_letter_ops
from leadsync.ops import destination as hubspot
from leadsync.ops import listings, settings_change
from leadsync.ops import records as record_ops
from leadsync.ops import replay as replay_ops
from leadsync.ops import review as review_ops
from leadsync.ops import settings_form as form_ops
from leadsync.ops.dashboard import Dashboard, dashboard
from leadsync.ops.deadletters import RetryResult
from leadsync.ops.health import Readiness, forget_warnings, readiness
from leadsync.ops.monitor import Report, report
from leadsync.ops.overview import Overview, overview
from leadsync.ops.owners import ManualOwnerChange, set_owner
from leadsync.ops.preview import PreviewResult, preview, read_events, with_settings
from leadsync.ops.push_status import push_status, resolve_failures
from leadsync.ops.replay import ReplayResult
from leadsync.ops.settings_change import PYTHON_API, Actor, AuditPage, ManagedBy
from leadsync.ops.snapshot import HealthSnapshot
from leadsync.ops.snapshot import take as take_snapshot
from leadsync.ops.testlead import TestLeadResult, run_test_lead
from leadsync.ops.testlead import cleanup as cleanup_test_leads
from leadsync.ops.undo import UndoResult, undo
from leadsync.ops.users import external_users
from leadsync.pipeline import inbox
from leadsync.pipeline.inbox import DEFAULT_BATCH
from leadsync.pipeline.worker import Worker
from leadsync.settings import (
    DestinationSettings,
    IntegrationSettings,
    ProposedIntegration,
    WorkspaceConfig,
    load_proposed_file,
    proposed_from_data,
)
from leadsync.store import batch as store
from leadsync.store import config as config_store
from leadsync.store import views
from leadsync.store.console_state import SharedConsole
from leadsync.store.database import (
    begin_writing,
    create_db_engine,
    has_workspace,
    migrate,
    redact,
    shown_url,
)
from leadsync.workspace_config import integration_settings, load_rules

__all__ = ["DEFAULT_BATCH", "Workspace", "load_rules"]

_T = TypeVar("_T")


class Workspace:
    """One workspace database. Opening it brings its schema up to date.

    ``url`` is a database URL or a plain path (a SQLite file); None reads ``LEADSYNC_DB``,
    else ``sqlite:///leadsync.db`` (:func:`~leadsync.store.database.resolve_url`). With
    ``create=False`` a database that holds no workspace is refused (WorkspaceError naming
    it as typed, password masked) and left as it was: a mistyped name never becomes an
    empty workspace. Only the commands that declare a workspace (``init``, ``apply``)
    create one."""

    def __init__(
        self,
        url: str | None = None,
        *,
        auto_migrate: bool = True,
        create: bool = True,
        hubspot_transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.engine = create_db_engine(url)
        shown = shown_url(url)
        try:
            if not create and not has_workspace(self.engine, shown):
                raise WorkspaceError(
                    f"no workspace at {shown}; run leadsync init to create it there, "
                    "or name another database with --db or LEADSYNC_DB"
                )
            self.upgraded_from: list[str] = []  # the schema it was upgraded from, if it was
            self.migrated = auto_migrate and migrate(self.engine, shown, self.upgraded_from)
        except BaseException:
            self.engine.dispose()
            raise
        # The HTTP transport to HubSpot: None for the network; tests pass the stand-in's.
        self.hubspot_transport = hubspot_transport
        self.shared_console = SharedConsole(self.engine)  # sign-outs, failed tries, kept forms
        self._settings_listeners: list[Callable[[], None]] = [lambda: forget_warnings(self.engine)]

    def on_settings_saved(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after each configuration change made through this object (the
        service's worker, intake and health snapshot re-read at once); returns the call that
        removes it. Other processes see a change within their own re-read (2 s)."""
        self._settings_listeners.append(listener)
        return lambda: self._settings_listeners.remove(listener)

    def _saved(self, saved: _T) -> _T:
        """``saved``, once every listener knows the settings changed."""
        for listener in list(self._settings_listeners):
            listener()
        return saved

    @property
    def url(self) -> str:
        """The database URL, with any password hidden."""
        return redact(str(self.engine.url))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------ HubSpot destination

    def destination(self) -> DestinationSettings:
        """The configured destination; a WorkspaceError naming the missing block if none."""
        return hubspot.destination(self.engine)

    def hubspot_client(self, **options: Any) -> HubSpotClient:
        """A client on the workspace's destination, drawing on its shared request budget."""
        return hubspot.hubspot_client(self.engine, self.hubspot_transport, **options)

    def hubspot_setup(self, new_portal: bool = False) -> SetupReport:
        """Check the token's scopes; create the unique ``leadsync_id`` properties if missing;
        ``new_portal``: push to the token's portal from now on (another portal's ids
        forgotten, everything queued again)."""
        return hubspot.setup(self.engine, self.hubspot_transport, new_portal)

    def pull_owners(self) -> config_store.ConfigChanges:
        """Owners and teams from HubSpot: added, updated, and the ones gone archived."""
        return hubspot.pull_owners(self.engine, self.hubspot_transport)

    def pusher(self, *, dry_run: bool = False, holder: str | None = None, **options: Any) -> Pusher:
        return hubspot.pusher(
            self.engine, self.hubspot_transport, dry_run=dry_run, holder=holder, **options
        )

    def push(
        self,
        *,
        dry_run: bool = False,
        max_cycles: int | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> PushResult:
        """Drain the push queue into HubSpot and stop (``dry_run``: only list the requests);
        ``on_progress`` gets the changes each cycle pushed (of ``push_status()``'s
        ``queued_total``)."""
        return hubspot.push(
            self.engine,
            self.hubspot_transport,
            dry_run=dry_run,
            max_cycles=max_cycles,
            on_progress=on_progress,
        )

    def push_dry_run(self, backfill: bool = False) -> tuple[int, list[hubspot.SentRequest]]:
        """(objects ``backfill`` would queue first; the requests a push would send) as (method,
        path, JSON body); none is sent, nothing is written, no token needs to be set."""
        return hubspot.push_dry_run(self.engine, self.hubspot_transport, backfill)

    def push_loop(self, poll_s: float = 1.0) -> PushLoop:
        """The push as a background loop (serve, worker). It drains the queue as it fills
        and, with owners from HubSpot, pulls them again every ``owners_refresh_minutes``; a
        destination added, changed or removed while it runs is taken from the next turn."""
        return hubspot.push_loop(self.engine, self.hubspot_transport, poll_s)

    def backfill_push(self) -> int:
        """Queue, once, everything the workspace held before the destination was added."""
        return hubspot.backfill(self.engine)

    def push_status(self) -> dict[str, Any]:
        """Queue depth per object type, oldest pending, pushed in the last hour, failures, the
        request budget (10 s and daily, from HubSpot's headers) and any pause."""
        return push_status(self.engine, self.destination())

    def push_failures(self, limit: int = 100, resolved: bool = False) -> list[dict[str, Any]]:
        return listings.push_failures(self.engine, limit, resolved)

    def resolve_push_failures(self, ids: Sequence[int], action: str, reason: str = "") -> int:
        """``retry``: queue the objects again; ``dismiss``: close them, saying why (``reason``)."""
        return resolve_failures(self.engine, ids, action, reason)

    # --------------------------------------------------------------- configuration

    def apply_config(
        self, config: WorkspaceConfig, by: Actor | None = None, managed: ManagedBy | None = None
    ) -> config_store.ConfigChanges:
        """Make the workspace's owners, teams and integrations those of ``config``, in one
        transaction (idempotent); with ``by``, audited (:func:`.ops.settings_change.apply_config`)."""
        return self._saved(settings_change.apply_config(self.engine, config, by, managed))

    def audit_log(self, before: int | None = None, integration: str | None = None) -> AuditPage:
        """Configuration changes, newest first, a page at a time (``before``: an entry id)."""
        return settings_change.audit_log(self.engine, before, integration)

    def settings_form(
        self, name: str, proposed: IntegrationSettings | None = None
    ) -> form_ops.SettingsForm:
        """What the console's settings page of integration ``name`` shows."""
        return form_ops.settings_form(self.engine, name, proposed)

    def preview_settings_change(self, name: str, data: Any, since: str) -> form_ops.Proposal:
        """Settings read from ``data`` as :meth:`proposed_settings_from_data` reads them, the
        replay since ``since`` under them and the YAML diff; nothing is written."""
        return form_ops.preview_change(self.engine, name, data, since)

    def export_config(self) -> WorkspaceConfig:
        return workspace_config.export_config(self.engine)

    def rules(self) -> WorkspaceRules:
        """The configuration as the rules need it."""
        return load_rules(self.engine)

    def integration(self, name: str, rules: WorkspaceRules | None = None) -> IntegrationSettings:
        return integration_settings(rules or self.rules(), name)

    def proposed_settings(self, integration: str, path: str | Path) -> ProposedIntegration:
        """Proposed settings for ``integration`` from a file (``--settings``): a whole
        workspace file replaces its settings, anything else is merged over them; the result
        says which (``describe()``). An unknown integration is the first error."""
        self.integration(integration)
        return load_proposed_file(path, integration, self.export_config())

    def proposed_settings_from_data(
        self, integration: str, data: Any, source: str = "<api>"
    ) -> ProposedIntegration:
        """:meth:`proposed_settings` of plain data (an API body) rather than a file."""
        self.integration(integration)
        return proposed_from_data(data, source, integration, self.export_config())

    # ---------------------------------------------------------------------- events

    def ingest(
        self,
        integration: str,
        lines: Iterable[str | bytes],
        source: str | None = None,
        batch_size: int = DEFAULT_BATCH,
        on_progress: Callable[[int], None] | None = None,
    ) -> inbox.IngestSummary:
        """Write events to the durable inbox, then apply them; see :mod:`leadsync.pipeline.inbox`."""
        rules = self.rules()
        self.integration(integration, rules)
        return inbox.ingest(self.engine, rules, integration, lines, source, batch_size, on_progress)

    def preview(
        self,
        integration: str,
        lines: Iterable[str | bytes],
        source: str = "<input>",
        sample: int | None = None,
        proposed: IntegrationSettings | None = None,
    ) -> PreviewResult:
        """What the events of ``lines`` would do (under ``proposed`` settings for the
        integration, when given), decided by the real engine and written nowhere."""
        rules = self.rules()
        self.integration(integration, rules)
        if proposed is not None:
            rules = with_settings(rules, integration, proposed)
        events, unreadable, more = read_events(rules, integration, lines, source, sample)
        return preview(self.engine, rules, integration, events, unreadable, bool(proposed), more)

    def report(self, since: str, now: str | None = None) -> Report:
        """The health report since ``since`` (a canonical time), with the workspace's
        ``monitoring`` thresholds."""
        return report(self.engine, self.rules(), self.export_config().monitoring, since, now)

    def replay(
        self,
        integration: str,
        proposed: IntegrationSettings,
        since: str | None = None,
        *,
        shown: int = replay_ops.SHOWN,
        on_progress: Callable[[int], None] | None = None,
        on_difference: Callable[[replay_ops.Difference], None] | None = None,
    ) -> ReplayResult:
        """The inbox (since ``since``, a canonical time) decided again under the current and
        the ``proposed`` settings of ``integration`` in scratch databases, and the difference;
        the workspace is not touched. See :func:`leadsync.ops.replay.replay`."""
        return replay_ops.replay(
            self.engine, integration, proposed, since, on_progress, shown, on_difference
        )

    def inbox_size(self, since: str | None = None) -> int:
        """How many inbox rows a replay since ``since`` reads (its progress total)."""
        return replay_ops.inbox_size(self.engine, since)

    def process_inbox(self, batch_size: int = DEFAULT_BATCH) -> inbox.IngestSummary:
        """Apply whatever the inbox still holds as pending (after a crash, or from intake);
        the summary has :meth:`ingest`'s shape (no lines read)."""
        return inbox.process(self.engine, self.rules(), batch_size)

    def worker(self, batch_size: int = DEFAULT_BATCH, poll_s: float = 1.0) -> Worker:
        """A worker that applies the inbox as rows arrive (``run``, ``start``; ``run_once``
        drains what is pending), re-reading the configuration as it changes."""
        return Worker(self.engine, batch_size=batch_size, poll_s=poll_s)

    def inbox_lag(self) -> views.InboxLag:
        """Pending inbox rows and the age of the oldest."""
        return views.inbox_lag(self.engine)

    def readiness(self, max_lag_s: float | None) -> Readiness:
        """Whether the database answers and the inbox is at most ``max_lag_s`` behind."""
        return readiness(self.engine, max_lag_s)

    # --------------------------------------------------------------------- records

    def record(
        self, record_type: RecordType | str, record_id: int, limit: int | None = None
    ) -> dict[str, Any]:
        """A record with its owner history and timeline (the JSON of ``records show``)."""
        return listings.record(self.engine, RecordType(record_type), record_id, limit)

    def find(
        self,
        email: str | None = None,
        domain: str | None = None,
        external: str | None = None,
    ) -> list[dict[str, Any]]:
        """Records by contact email, company domain, or ``INTEGRATION:EXTERNAL_ID``."""
        return listings.find(self.engine, self.rules, email, domain, external)

    def search_records(
        self, by: str, text: str, after: tuple[str, int] | None = None
    ) -> record_ops.RecordSearch:
        """A page of records whose email, domain, name or external id starts with ``text``."""
        return record_ops.search(self.engine, self.rules(), by, text, after)

    def record_hubspot(self, record_id: int) -> record_ops.HubSpotState:
        """What HubSpot has of a record: its id, last push, waiting changes, last refusal."""
        return record_ops.hubspot_state(self.engine, self.rules(), record_id)

    def set_owner(
        self,
        record_type: RecordType | str,
        record_id: int,
        owner_id: str | None,
        at: str | None = None,
    ) -> ManualOwnerChange:
        """A person changes the record's owner in the CRM (``None`` clears it).

        Decided and written by the engine's own path for a change made in the CRM
        (:meth:`~leadsync.engine.BatchDecider.change_in_crm`), exactly as a CRM webhook
        reporting a person's change: taken unless a more recent owner change is known
        (then ignored as stale), recorded with its reason, protecting the owner for each
        integration's ``protect_manual_days``, moving ``updated_at``, and queued in the
        outbox of every bidirectional integration that knows the record (and for the push).
        """
        rtype = RecordType(record_type)
        return set_owner(self.engine, self.rules(), rtype, record_id, owner_id, at or now_ts())

    def undo(
        self,
        event_id: str | None = None,
        integration: str | None = None,
        since: str | None = None,
        at: str | None = None,
        dry_run: bool = False,
    ) -> UndoResult:
        """Put back the owners changed by one event's decisions (``integration`` names it when
        several have that event id) or by an integration's since a time, unless a later change
        superseded them (:mod:`leadsync.ops.undo`); ``dry_run``: what would change, unwritten."""
        rules = self.rules()
        if dry_run:  # read only: rolled back, no lock taken
            with self.engine.connect() as connection:
                return undo(connection, rules, at or now_ts(), event_id, integration, since, True)
        with begin_writing(self.engine) as connection:
            store.lock_counters(connection, [store.RECORD_ID])
            return undo(connection, rules, at or now_ts(), event_id, integration, since)

    # ------------------------------------------------------------------ operations

    def owners(self) -> list[dict[str, Any]]:
        return listings.owners(self.engine)

    def dead_letters(
        self, integration: str | None = None, limit: int = 100, include_resolved: bool = False
    ) -> list[dict[str, Any]]:
        return listings.dead_letters(self.engine, integration, limit, include_resolved)

    def dead_letter_count(self, integration: str | None = None) -> int:
        return listings.dead_letter_count(self.engine, integration)

    def dead_letter(self, letter_id: int) -> dict[str, Any]:
        """One dead letter, with its ``state`` (open, retried or dismissed)."""
        return listings.dead_letter(self.engine, letter_id)

    def retry_dead_letter(
        self, letter_id: int, by: str | None = None, *, apply: bool = False
    ) -> RetryResult:
        """Put a dead letter back in the inbox under the current settings; with ``apply``,
        apply the inbox at once (``applied``: the events it applied), else a worker will.

        An event that failed in the inbox is read again and, when it reads now, set pending;
        a line or request that never got in is read again as ``ingest`` would (a request as
        the service reads one) and, when it reads now, added. The dead letter is kept, marked
        resolved (by ``by``). When it still cannot be read, EventError saying why in plain
        words and how to dismiss it, and nothing changes; an event that reads but fails again
        becomes a new dead letter, with the file and line of the first.
        """
        result = dead_letter_ops.retry(self.engine, self.rules(), letter_id, by)
        if apply:
            result.record_applied(self.process_inbox())
        return result

    def dismiss_dead_letters(
        self,
        ids: Sequence[int] | None,
        reason: str,
        by: str | None = None,
        integration: str | None = None,
    ) -> list[int]:
        """Mark dead letters dismissed — kept, listed as dismissed with the reason, who and
        when, and no longer counted by the report's dead-letter check. ``ids`` None: every
        open letter (of ``integration`` when given). All or nothing: an unknown id is
        NotFoundError, a letter already retried or dismissed WorkspaceError. Returns the ids
        dismissed."""
        return dead_letter_ops.dismiss(self.engine, ids, reason, by, integration)

    def inbox_rows(
        self, status: str | None = None, integration: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        return listings.inbox_rows(self.engine, status, integration, limit)

    def replace_integration(
        self, name: str, data: Any, by: Actor = PYTHON_API, previewed: str | None = None, **if_: Any
    ) -> IntegrationSettings:
        """Replace a configured integration's settings with data in the YAML's schema, checked
        like the file, audited as ``by``'s; see :func:`.ops.settings_change.save_integration`
        (``if_match``; NotFoundError: creating one is :meth:`add_integration`)."""
        return self._saved(
            settings_change.save_integration(self.engine, name, data, False, by, previewed, **if_)
        )

    def add_integration(self, name: str, data: Any, by: Actor = PYTHON_API) -> IntegrationSettings:
        """Create an integration from settings in the YAML's schema, checked like the file;
        WorkspaceError when the name is configured already."""
        return self._saved(settings_change.save_integration(self.engine, name, data, True, by))

    def managed_file(self) -> str | None:
        """The file a workspace managed by file is applied from (its changes are refused
        elsewhere), else None."""
        return settings_change.managed_file(self.engine)

    def test_lead(self, integration: str, rep: str, at: str | None = None) -> TestLeadResult:
        """Send a marked test lead and test call by ``rep`` through the engine and check the
        owner and timeline the settings promise; see :mod:`leadsync.ops.testlead`."""
        rules = self.rules()
        self.integration(integration, rules)
        if rules.push:  # a token not set is said before anything is written
            read_token(hubspot.destination(self.engine))
        result = run_test_lead(self.engine, rules, integration, rep, at)
        if rules.push and result.record_id is not None:
            hubspot.check_test_lead(self.engine, self.hubspot_transport, result)
        return result

    def cleanup_test_leads(self, integration: str | None = None) -> dict[str, int]:
        """Remove the test leads and calls (``integration``'s; with a destination: archived)."""
        return cleanup_test_leads(self.engine, self.rules().push, integration)

    def rollout_promote(
        self, name: str, by: Actor = PYTHON_API, seen: str | None = None
    ) -> IntegrationSettings:
        """Make an integration's rollout settings its current settings (for every record);
        ``seen``: the fingerprint of what was shown (refused when it changed since)."""
        return self._saved(settings_change.rollout_promote(self.engine, name, by, seen))

    def rollout_abort(
        self, name: str, by: Actor = PYTHON_API, seen: str | None = None
    ) -> IntegrationSettings:
        """Drop an integration's rollout: every record gets the current settings again."""
        return self._saved(settings_change.rollout_abort(self.engine, name, by, seen))

    def external_users(self, integration: str) -> list[dict[str, Any]]:
        """The integration's external users, learned from its events and its directory, with
        how each maps: ``mapped`` (the explicit map), ``auto-matched`` (by email) or
        ``unmapped`` (the unmapped policy applies), and how many events each sent."""
        rules = self.rules()
        self.integration(integration, rules)
        return external_users(self.engine, rules, integration)

    def inbox_counts(self) -> list[dict[str, Any]]:
        return listings.inbox_counts(self.engine)

    def outbox(self, integration: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return listings.outbox(self.engine, integration, limit)

    def decisions(
        self,
        integration: str | None = None,
        outcome: Outcome | str | None = None,
        flagged: bool = False,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """The newest decided owner decisions (reason, ``decided_at`` and event time ``at``)."""
        return listings.decisions(self.engine, integration, outcome, flagged, limit)

    def skipped_activities(
        self, integration: str | None = None, **filters: Any
    ) -> list[dict[str, Any]]:
        """The newest activities received but not created, each with why and the record it was
        for; ``filters``: ``limit``, ``since`` (a canonical time), ``activity_type``, and
        ``created_later`` (also those a later event created after all: which, and when)."""
        return listings.skipped_activities(self.engine, integration, **filters)

    def activities(
        self,
        integration: str | None = None,
        since: str | None = None,
        activity_type: str | None = None,
        limit: int = 100,
        now: str | None = None,
    ) -> list[dict[str, Any]]:
        """The newest activities created (that happened since ``since``, a canonical time),
        each with its ``records`` — how each came to be associated (``source``: ``event`` or
        ``auto``; ``why``, in words) —, its hold as of ``now`` and the activities merged in."""
        return listings.activities(self.engine, integration, since, activity_type, limit, now)

    def health_snapshot(self, now: str | None = None) -> HealthSnapshot:
        """The 7-day report and the per-day charts, taken now (seconds on a large workspace:
        the service keeps one, see :mod:`leadsync.ops.snapshot`)."""
        monitoring = self.export_config().monitoring
        return take_snapshot(self.engine, self.rules(), monitoring, now or now_ts())

    def overview(
        self,
        environ: Mapping[str, str],
        now: str | None = None,
        snapshot: HealthSnapshot | None = None,
    ) -> Overview:
        """Each integration at a glance (the console's front page), its health from
        ``snapshot`` (None: one taken now); see :mod:`leadsync.ops.overview`."""
        at = now or now_ts()
        health = (snapshot or self.health_snapshot(at)).report
        return overview(self.engine, self.rules(), health, environ, at)

    def dashboard(
        self, now: str | None = None, snapshot: HealthSnapshot | None = None
    ) -> Dashboard:
        """The report's checks as cards and per-day charts, from ``snapshot`` (None: one
        taken now); see :mod:`leadsync.ops.dashboard`."""
        at = now or now_ts()
        return dashboard(self.engine, self.rules(), snapshot or self.health_snapshot(at), at)

    def owner_names(self) -> dict[str, str]:
        """Each owner's name by id, archived owners too (records and history still name
        them); an owner with no name has its email."""
        return workspace_config.owner_names(self.engine)

    def review_items(self, status: str | None = "open", **filters: Any) -> review_ops.ReviewPage:
        """A page of the review queue, oldest first (``kind``, ``integration``, ``limit``,
        ``after``); held activities whose hold ended are queued first."""
        review_ops.expire_holds(self.engine, self.rules())
        return review_ops.page(self.engine, status, **filters)

    def review_item(self, item_id: int) -> review_ops.ReviewItem:
        return review_ops.show(self.engine, item_id)  # with its activity

    def resolve_review(
        self, item_id: int, choose: str | None = None, skip: bool = False, by: Actor = PYTHON_API
    ) -> review_ops.Resolution:
        """Answer a question of the queue; see :func:`leadsync.ops.review.resolve`."""
        resolution = review_ops.resolve(self.engine, self.rules(), item_id, choose, skip, by)
        return self._saved(resolution) if resolution.item.kind == "owner" else resolution

    def expire_holds(self, now: str | None = None) -> int:
        """Queue the held activities whose hold ended; returns how many."""
        return review_ops.expire_holds(self.engine, self.rules(), now)

"""The workspace's read-only lists: records by key, owners, inbox, outbox, dead letters,
push failures, decisions, activities created and skipped — what ``leadsync records``/``inbox``/``decisions``
… print and the admin API answers, through ``Workspace``.

Each is a query of :mod:`leadsync.store.views` in one connection, with its filters checked
first: an unknown status, outcome or activity type is a UserError naming the allowed values,
and an integration filter naming none the workspace knows an :class:`UnknownIntegration`
naming the configured ones (:func:`check_filter`: exit 2 on the command line, 400 over the
admin API, an error page in the console), never an empty list. (The inbox and dead-letter
lists are checked by their faces, before the page is read.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from leadsync.engine import ROLLOUT, WorkspaceRules
from leadsync.errors import NotFoundError, UserError
from leadsync.model import ActivityType, Outcome, RecordType, display_ts, now_ts
from leadsync.ops import phones
from leadsync.ops import records as record_ops
from leadsync.ops.deadletters import REVIEW_HINT
from leadsync.ops.records import check_integration
from leadsync.rules.associations import why_associated
from leadsync.rules.counterparts import subject_text
from leadsync.store import config as config_store
from leadsync.store import holds, own_lines, views
from leadsync.store import push as push_store
from leadsync.values import normalize_domain, normalize_email, valid_domain, valid_email
from leadsync.workspace_config import load_rules

INBOX_STATUSES = ("pending", "applied", "failed")


def _allowed(what: str, value: str, allowed: list[str] | tuple[str, ...]) -> str:
    if value not in allowed:
        raise UserError(f"{what} {value!r} is not allowed; allowed: {', '.join(allowed)}")
    return value


def _activity_type(value: str | None) -> str | None:
    """An activity type as a filter, checked (case and spaces forgiven)."""
    if value is None:
        return None
    try:
        return ActivityType(value.strip().lower()).value
    except ValueError:
        allowed = ", ".join(t.value for t in ActivityType)
        raise UserError(f"activity type {value!r} is not allowed; allowed: {allowed}") from None


def record(
    engine: Engine, record_type: RecordType, record_id: int, limit: int | None
) -> dict[str, Any]:
    """A record with its owner history and timeline (the JSON of ``records show``), and its
    phone numbers as shown (``phones``: :func:`leadsync.ops.phones.record_phones`; none for
    a company or deal)."""
    with engine.connect() as connection:
        row = views.record_row(connection, record_id)
        if row is None or row["type"] != record_type.value:
            raise NotFoundError(f"no {record_type.value} with id {record_id}")
        view = views.record_view(connection, row, limit)
        view["phones"] = phones.record_phones(connection, record_id, row["properties"])
        return view


def find(
    engine: Engine,
    rules: Callable[[], WorkspaceRules],
    email: str | None,
    domain: str | None,
    external: str | None,
) -> list[dict[str, Any]]:
    """Records by contact email, company domain, or ``INTEGRATION:EXTERNAL_ID`` (spelt as
    the integration's events spell it; ``rules`` is read only for that one)."""
    given = [x for x in (email, domain, external) if x is not None]
    if len(given) != 1:
        raise UserError("give exactly one of --email, --domain, --external")
    ext: tuple[str, str] | None = None
    if external is not None:
        name, sep, external_id = external.partition(":")
        if not sep or not name or not external_id:
            raise UserError(
                f"--external {external!r}: expected INTEGRATION:EXTERNAL_ID, e.g. dialer:p-1"
            )
        known = rules()  # read once, for the check and the spelling
        check_integration(engine, known, name)
        ext = (name, record_ops.vendor_external_id(known, name, external_id))
    norm_domain = normalize_domain(domain) if domain is not None else None
    with engine.connect() as connection:
        ids = views.find_ids(connection, email=email, domain=norm_domain, external=ext)
        return views.found_records(connection, ids)


def check_lookup(email: str | None, domain: str | None, email_as: str, domain_as: str) -> None:
    """An email that is not an address, or a domain that is not a domain, is a typo to be
    said (:class:`UserError`), never answered "nothing found". ``email_as`` and
    ``domain_as`` are how the face names the two inputs (``--email``, or the admin API's
    path)."""
    if email is not None and not valid_email(normalize_email(email)):
        raise UserError(
            f"{email_as} {email!r} is not an email address; allowed: one @ with text on both "
            f"sides, no spaces ({domain_as} finds a company)"
        )
    if domain is not None and not valid_domain(normalize_domain(domain)):
        raise UserError(f"{domain_as} {domain!r} is not a domain; allowed: a name like acme.com")


class UnknownIntegration(NotFoundError):
    """A list filtered by an integration the workspace does not know: a value the caller
    gave wrong, not a resource that is missing — 400 over the admin API (exit 2 as every
    UserError), and still a NotFoundError to Python callers."""

    http_status = 400
    title = "Unknown integration"


def check_filter(engine: Engine, rules: WorkspaceRules, name: str | None) -> None:
    """A list's integration filter (``--integration``, ``?integration=``) names an
    integration the workspace knows (:func:`check_integration`); else
    :class:`UnknownIntegration` naming the configured ones. The one check the command
    line, the admin API and the console make, so each refuses a typo the same way."""
    try:
        check_integration(engine, rules, name)
    except NotFoundError as exc:
        raise UnknownIntegration(str(exc)) from None


def _checked(engine: Engine, integration: str | None) -> None:
    """A list's integration filter, checked (:func:`check_filter`) against the
    configuration as it is now."""
    if integration is not None:
        check_filter(engine, load_rules(engine), integration)


def owners(engine: Engine) -> list[dict[str, Any]]:
    """Every owner with the teams it belongs to."""
    with engine.connect() as connection:
        teams = config_store.read_teams(connection)
        rows = config_store.read_owners(connection)
    member_of = config_store.teams_by_owner(teams)
    return [{**r, "teams": member_of.get(r["id"], [])} for r in rows]


def dead_letters(
    engine: Engine,
    integration: str | None,
    limit: int,
    include_resolved: bool,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """The newest dead letters (a page: older than id ``before``, when given)."""
    with engine.connect() as connection:
        return views.dead_letter_rows(connection, integration, limit, include_resolved, before)


def dead_letter_count(engine: Engine, integration: str | None) -> int:
    with engine.connect() as connection:
        return views.dead_letter_count(connection, integration)


def dead_letter(engine: Engine, letter_id: int) -> dict[str, Any]:
    """One dead letter, with its ``state`` (open, retried or dismissed)."""
    with engine.connect() as connection:
        letter = views.dead_letter(connection, letter_id)
    if letter is None:
        raise NotFoundError(f"no dead letter with id {letter_id}")
    return letter


def inbox_rows(
    engine: Engine,
    status: str | None,
    integration: str | None,
    limit: int,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """The newest inbox rows (a page: before sequence number ``before``, when given)."""
    if status is not None:
        _allowed("status", status, INBOX_STATUSES)
    with engine.connect() as connection:
        return views.inbox_rows(connection, status, integration, limit, before)


def inbox_counts(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return views.inbox_counts(connection)


def named_integrations(engine: Engine) -> dict[str, list[str]]:
    """The integrations the dead letters, the audit log and the review queue name, removed
    ones included (a list's filter offers them: :func:`.store.views.named_integrations`)."""
    with engine.connect() as connection:
        return views.named_integrations(connection)


def outbox(engine: Engine, integration: str | None, limit: int) -> list[dict[str, Any]]:
    _checked(engine, integration)
    with engine.connect() as connection:
        return views.outbox_rows(connection, integration, limit)


def push_failures(
    engine: Engine, limit: int, include_resolved: bool = False, before: int = 0
) -> list[dict[str, Any]]:
    """The push's unresolved failures, newest first (older than id ``before``: the next
    page); with ``include_resolved`` those retried, dismissed or pushed since too (who
    resolved each, and a dismissal's reason)."""
    with engine.connect() as connection:
        return push_store.open_failures(connection, limit, include_resolved, before)


def open_push_failures(engine: Engine) -> int:
    """How many push failures are open."""
    with engine.connect() as connection:
        return push_store.count_open_failures(connection)


def decisions(
    engine: Engine,
    integration: str | None,
    outcome: Outcome | str | None,
    flagged: bool,
    limit: int,
    rollout: bool = False,
) -> list[dict[str, Any]]:
    """The owner decisions across records, newest decided first (each with its reason,
    ``decided_at``: when leadsync made it, and ``at``: when its event happened), as every
    face shows them; ``rollout``: only those a staged rollout's proposed settings made
    (``settings: rollout``)."""
    _checked(engine, integration)
    wanted = None
    if outcome is not None:
        wanted = _allowed("outcome", str(outcome), [o.value for o in Outcome])
    label = ROLLOUT if rollout else None
    with engine.connect() as connection:
        return views.decision_rows(connection, integration, wanted, flagged, limit, label)


def skipped_activities(
    engine: Engine,
    integration: str | None,
    limit: int = 100,
    since: str | None = None,
    activity_type: str | None = None,
    created_later: bool = False,
) -> list[dict[str, Any]]:
    """The newest activities received but not created, each with why and its record; with
    ``created_later``, also the skips of activities a later event created after all."""
    _checked(engine, integration)
    wanted = _activity_type(activity_type)
    with engine.connect() as connection:
        return views.skipped_rows(connection, integration, limit, since, wanted, created_later)


def activities(
    engine: Engine,
    integration: str | None,
    since: str | None,
    activity_type: str | None,
    limit: int,
    now: str | None = None,
) -> list[dict[str, Any]]:
    """The newest activities created, each record link with ``why`` it is associated,
    ``held`` (None unless the activity waits for a contact or lead to get its number: the
    numbers, when it was held, ``expires_at``, ``ended`` — that time has come by ``now``,
    default the clock's now —, ``queued`` and ``why``), ``questions``: the review queue's
    open questions about it (``id``, ``kind``, ``subject``), and ``internal``: why it is an
    internal call (its other party one of the company's own lines; None otherwise),
    ``skipped``: the questions about it that were skipped, and ``unattached``: why one on no
    record that waits for nothing is (None otherwise)."""
    _checked(engine, integration)
    wanted = _activity_type(activity_type)
    with engine.connect() as connection:
        rows = views.activity_rows(connection, integration, since, wanted, limit)
        ids = [r["id"] for r in rows]
        held = holds.holds_of(connection, ids, now or now_ts())
        asked = holds.questions_of(connection, ids)
        internal = own_lines.internal_of(connection, ids)
        # On no record, and waiting for nothing: held, asked about or internal says why.
        alone = {r["id"] for r in rows if not r["records"]} - held.keys() - asked.keys()
        alone -= internal.keys()
        skipped = holds.questions_of(connection, [i for i in ids if i not in held], "skipped")
    for row in rows:
        for link in row["records"]:
            link["why"] = link.get("reason") or why_associated(link["type"], link["source"])
        hold = held.get(row["id"])
        row["held"] = {**hold, "why": _held_why(hold)} if hold is not None else None
        row["questions"] = asked.get(row["id"], [])
        row["internal"] = internal.get(row["id"])
        row["skipped"] = skipped.get(row["id"], [])
        row["unattached"] = _unattached(row["skipped"]) if row["id"] in alone else None
    return rows


def skipped_text(skipped: list[dict[str, Any]]) -> str:
    """The last question about an activity that was skipped (by a person, or by the
    ``ambiguous`` settings), in words."""
    last = skipped[-1]
    return (
        f"its question about {subject_text(last['subject'])} was {last['outcome']}; "
        f"`leadsync review show {last['id']}`"
    )


def _unattached(skipped: list[dict[str, Any]]) -> str:
    """Why an activity that waits for nothing is on no record: its last question skipped,
    or nothing its event named is one (nor a number a record could have)."""
    if not skipped:
        return (
            "on no record: nothing its event named is a record leadsync has (nor a number "
            "one could have)"
        )
    return f"on no record: {skipped_text(skipped)}"


def _held_why(hold: dict[str, Any]) -> str:
    """Why a held activity is on no person yet, and what happens next (the words of the
    engine's trace, :func:`leadsync.rules.counterparts.held_reason`, with the hold's end)."""
    numbers = " or ".join(hold["numbers"])
    until = display_ts(hold["expires_at"])
    if hold["queued"]:
        return (
            f"held: no contact or lead got {numbers} by {until}; in the review queue "
            f"{REVIEW_HINT}, still attached if one gets it"
        )
    if hold["ended"]:  # the worker's minute tick (pipeline/expiry.py) has not queued it yet
        return (
            f"held: no contact or lead got {numbers} by {until}; the hold expired then: the "
            f"worker's next pass (once a minute) puts it in the review queue {REVIEW_HINT}, "
            "still attached if one gets it"
        )
    return (
        f"held: no contact or lead has {numbers} yet; attached when one gets it, else in the "
        f"review queue after {until}"
    )

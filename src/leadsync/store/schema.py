"""The tables of a workspace (SQLAlchemy Core). Alembic migrations create them; a test checks
that the migrations and these definitions agree.

This module declares the workspace's state — owners and teams, settings, records and their
links, activities, owner decisions, skips, the review queue, the audit log; what passes
through (the inbox, dead letters, the router's parts, the outbox, the HubSpot push) is in
:mod:`leadsync.store.schema_flow`, with the one ``metadata`` and the column types. Every
table is importable from here (``DATA_TABLES`` lists them all).

Times are fixed-width UTC strings (see ``leadsync.model.format_ts``), so they sort and compare
the same way on SQLite and PostgreSQL. Record and activity ids are allocated by the engine
(from ``counters`` on SQLite, from sequences on PostgreSQL) before the batch is written, so a
whole batch can be written with one statement per table, associations included.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy import text as sa_text

from leadsync.store.schema_flow import (
    TS,
    AllocatedId,
    IdList,
    Json,
    SerialId,
    console_drafts,
    console_failed_tries,
    console_sign_outs,
    dead_letters,
    health_snapshot,
    inbox,
    metadata,
    outbox,
    push_budget,
    push_failures,
    push_lease,
    push_objects,
    push_queue,
    route_parts,
)

__all__ = [
    "ACTIVITY_COLUMNS",
    "DATA_TABLES",
    "TS",
    "AllocatedId",
    "IdList",
    "Json",
    "SerialId",
    "activities",
    "activity_associations",
    "activity_memory",
    "activity_skips",
    "activity_sources",
    "audit_integrations",
    "audit_log",
    "console_drafts",
    "console_failed_tries",
    "console_sign_outs",
    "counters",
    "dead_letters",
    "external_users",
    "health_snapshot",
    "held_activities",
    "inbox",
    "internal_activities",
    "integrations",
    "metadata",
    "outbox",
    "owner_decisions",
    "own_lines",
    "owners",
    "push_budget",
    "push_failures",
    "push_lease",
    "push_objects",
    "push_queue",
    "record_associations",
    "record_identities",
    "record_phones",
    "records",
    "review_items",
    "route_parts",
    "team_members",
    "workspace_settings",
]

counters = Table(
    "counters",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

owners = Table(
    "owners",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("first_name", String(200), nullable=False, default=""),
    Column("last_name", String(200), nullable=False, default=""),
    Column("active", Boolean, nullable=False, default=True),
    # Owners dropped from the configuration stay, archived, as HubSpot keeps them: records and
    # history still name them.
    Column("archived", Boolean, nullable=False, default=False),
    Column("position", Integer, nullable=False, default=0),
)

team_members = Table(
    "team_members",
    metadata,
    Column("team", String(200), primary_key=True),
    Column("owner_id", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
)

integrations = Table(
    "integrations",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("settings", JSON, nullable=False),  # not JSONB, which sorts keys (0018)
    Column("position", Integer, nullable=False, default=0),
)

workspace_settings = Table(
    "workspace_settings",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("value", Json, nullable=False),
)

external_users = Table(
    "external_users",
    metadata,
    Column("integration", String(63), primary_key=True),
    Column("external_id", String(200), primary_key=True),
    Column("email", String(320)),
    Column("first_seen_at", TS, nullable=False),
    Column("last_seen_at", TS, nullable=False),
    Column("events", BigInteger, nullable=False, default=0),
    Column("name", Text),
    # When (by the tool's clock) the email and the name kept were given (0035): an older
    # event's, delivered late, replaces neither.
    Column("email_at", TS),
    Column("name_at", TS),
)

records = Table(
    "records",
    metadata,
    Column("id", AllocatedId, primary_key=True, autoincrement=False),
    Column("type", String(16), nullable=False),
    Column("owner_id", String(64)),
    Column("email", String(320)),
    Column("domain", String(253)),
    Column("name", Text),
    Column("stage", Text),
    Column("is_closed", Boolean),
    Column("properties", Json, nullable=False),
    # Created only because an event named it as an association; filled in by its own event.
    Column("placeholder", Boolean, nullable=False, default=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("created_by", String(63)),
    Column("owner_changed_at", TS),
    Column("owner_source", String(63)),
    Column("manual_owner_at", TS),
    # How the record came to be when no tool sent it: "unknown_number" (a contact created
    # for a call's number that no contact had: unknown_counterpart policy create).
    Column("origin", String(16)),
    # When (by its own clock) the owner source last gave the owner the record has: an older
    # event of the same source arriving later is stale against it. owner_changed_at is
    # later where the owner was taken over a newer change of another source (the integration
    # wins over a person's change): that does not make the source's next events stale.
    # Null (rows from before migration 0022): owner_changed_at stands for it.
    Column("owner_source_at", TS),
    # The record a tool's merge joined this one into (engine/record_joins.py), and when by
    # the tool's clock (0032): its identities, links, numbers and timeline are that record's
    # now; lookups that find this one lead there, and it is never pushed again.
    Column("merged_into", BigInteger),
    Column("merged_at", TS),
    # When (by the vendor's clock) and from which integration each property got the value
    # it shows: {property: [time, integration]} (rules/records.py, newer_properties); an
    # event older than that changes nothing there. Phone properties keep theirs in
    # ``leadsync_phone_sources``. Null (rows from before migration 0031): none known.
    Column("property_times", Json),
    # When (by the vendor's clock) the contact's (or lead's) own event that made its primary
    # company happened: an older one naming companies only links them (engine/links.py).
    Column("primary_company_at", TS),
    Index("ix_records_type_email", "type", "email"),
    Index("ix_records_type_domain", "type", "domain"),
    Index("ix_records_owner", "owner_id"),
    Index("ix_records_created", "created_at"),
    Index("ix_records_merged_into", "merged_into"),
)
#: The characters of a name the name search reads (``ix_records_name_lower``): an index entry
#: has a size limit (PostgreSQL's btree, about 2.7 kB), a record's name none.
NAME_KEY_LENGTH = 200
# The console's name search: a case-insensitive prefix walked as a range, in keyset order.
Index(
    "ix_records_name_lower",
    func.lower(func.substr(records.c.name, 1, NAME_KEY_LENGTH)),
    records.c.id,
)
# Placeholders until an event fills one in (store/push_waiting.py: WHERE records.placeholder).
Index(
    "ix_records_placeholder",
    records.c.type,
    records.c.id,
    sqlite_where=sa_text("placeholder = 1"),
    postgresql_where=sa_text("placeholder"),
)

record_identities = Table(
    "record_identities",
    metadata,
    Column("integration", String(63), primary_key=True),
    Column("type", String(16), primary_key=True),
    Column("external_id", String(200), primary_key=True),
    Column("record_id", BigInteger, nullable=False),
    # The rep (its id, else its email) this integration last gave as the record's owner, and
    # when by its clock: under bidirectional the same rep again is no owner change (0023).
    Column("owner_rep", String(320)),
    Column("owner_rep_at", TS),
    # The id the tool merged this one into (same integration and type), and when by its
    # clock (0026): it still names the record, but is never written to (push, outbox).
    Column("merged_into", String(200)),
    Column("merged_at", TS),
    # The record this identity named before a merge joined that record into this one (0032).
    Column("joined_from", BigInteger),
    Index("ix_record_identities_record", "record_id"),
)

# One row per associated pair, stored once: ``left`` is the record whose type comes first in
# ``ASSOCIATION_RANK``. ``is_primary`` marks a contact's (or lead's) primary company.
record_associations = Table(
    "record_associations",
    metadata,
    Column("left_id", BigInteger, primary_key=True),
    Column("right_id", BigInteger, primary_key=True),
    Column("left_type", String(16), nullable=False),
    Column("right_type", String(16), nullable=False),
    Column("is_primary", Boolean, nullable=False, default=False),
    Index("ix_record_associations_right", "right_id", "left_type"),
)

activities = Table(
    "activities",
    metadata,
    Column("id", AllocatedId, primary_key=True, autoincrement=False),
    Column("type", String(16), nullable=False),
    Column("integration", String(63), nullable=False),
    Column("external_id", String(200)),
    Column("event_id", String(200), nullable=False),
    Column("owner_id", String(64)),
    Column("occurred_at", TS, nullable=False),
    Column("direction", String(16)),
    Column("duration_s", Float),
    Column("outcome", String(32)),
    Column("status", String(32)),
    Column("priority", String(16)),
    Column("subject", Text),
    Column("title", Text),
    Column("body", Text),
    Column("recording_url", Text),
    Column("from_number", Text),
    Column("to_number", Text),
    Column("start_at", TS),
    Column("end_at", TS),
    Column("due_at", TS),
    Column("properties", Json, nullable=False),
    UniqueConstraint("integration", "type", "external_id", name="uq_activities_external"),
    Index("ix_activities_occurred", "occurred_at"),
)

# Typed activity fields: canonical property name -> activities column. Every other property
# of an activity lives in its ``properties`` JSON.
ACTIVITY_COLUMNS: dict[str, str] = {
    "direction": "direction",
    "duration_s": "duration_s",
    "outcome": "outcome",
    "status": "status",
    "priority": "priority",
    "subject": "subject",
    "title": "title",
    "body": "body",
    "recording_url": "recording_url",
    "from_number": "from_number",
    "to_number": "to_number",
    "start": "start_at",
    "end": "end_at",
    "due": "due_at",
}

activity_associations = Table(
    "activity_associations",
    metadata,
    Column("activity_id", BigInteger, primary_key=True),
    Column("record_id", BigInteger, primary_key=True),
    Column("record_type", String(16), nullable=False),
    # "event": the event named the record; "auto": chosen by the association rules;
    # "number": the record has the activity's counterpart number; "held": attached later,
    # when a record got that number; "person": chosen in the review queue.
    Column("source", String(8), nullable=False),
    # Why, in words, where the source alone does not say (number matches, late attaches).
    Column("reason", Text),
    Index("ix_activity_associations_record", "record_id"),
)

# The phone numbers of contacts and leads, one row per phone property, and one per number
# another integration gave a property that shows another (``mobilephone+1``: kept beside
# it, rules.records.beside_index): ``number`` is the E.164 form, or the text as given when
# it does not read as a number (``valid`` false: kept, flagged, never matched). Calls whose
# counterpart is only a number find their contact here.
record_phones = Table(
    "record_phones",
    metadata,
    Column("record_id", BigInteger, primary_key=True),
    Column("property", String(64), primary_key=True),
    Column("record_type", String(16), nullable=False),
    Column("number", Text, nullable=False),
    Column("valid", Boolean, nullable=False),
    Index("ix_record_phones_number", "number"),
)

# Activities kept unattached because their counterpart's number was on no contact
# (unknown_counterpart policy hold): attached when a contact or lead gets the number; past
# ``expires_at`` also in the review queue (``queued``), until attached or resolved.
held_activities = Table(
    "held_activities",
    metadata,
    Column("activity_id", BigInteger, primary_key=True),
    Column("number", Text, primary_key=True),
    Column("integration", String(63), nullable=False),
    Column("held_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("queued", Boolean, nullable=False, default=False),
    Index("ix_held_activities_number", "number"),
    Index("ix_held_activities_expiry", "queued", "expires_at"),
)

# The company's own phone lines an integration's tool named (Aircall's line of a call, its
# number events; the canonical line event): a call to one is an internal call
# (rules/own_lines.py). ``number`` is the E.164 form; the first event that named it is kept
# (its vendor time, id, and the line's name and id at the tool, when it gave them). The
# numbers an admin declares (``own_numbers``) are in the settings, not here.
own_lines = Table(
    "own_lines",
    metadata,
    Column("integration", String(63), primary_key=True),
    Column("number", Text, primary_key=True),
    Column("name", Text),
    Column("line_id", String(200)),
    Column("learned_at", TS, nullable=False),
    Column("event_id", String(200)),
    Index("ix_own_lines_number", "number"),
)

# Activities whose other party is one of the company's own lines (an internal call): on no
# contact or lead, held for nothing, asked about nowhere; ``reason`` says which line, in words.
internal_activities = Table(
    "internal_activities",
    metadata,
    Column("activity_id", BigInteger, primary_key=True),
    Column("integration", String(63), nullable=False),
    Column("number", Text, nullable=False),
    Column("reason", Text, nullable=False),
)

# Questions the rules could not answer, for a person: a number or an email several contacts
# have, several equally recent open deals, a rep matching several owners, a held activity
# that expired. ``key`` makes one open question of the same thing; ``candidates`` lists each
# possible answer with why it matched; closing records who answered, how and why.
review_items = Table(
    "review_items",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("key", String(400), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("integration", String(63), nullable=False),
    Column("activity_id", BigInteger),
    Column("event_id", String(200)),
    Column("subject", Text, nullable=False),
    Column("question", Text, nullable=False),
    Column("candidates", Json, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("status", String(16), nullable=False),  # open | resolved | skipped | attached
    Column("closed_at", TS),
    Column("closed_by", String(200)),
    Column("choice", String(200)),
    Column("outcome", Text),
    Index("ix_review_items_status", "status", "created_at"),
    Index("ix_review_items_activity", "activity_id"),
)

owner_decisions = Table(
    "owner_decisions",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("record_id", BigInteger, nullable=False),
    Column("record_type", String(16), nullable=False),
    Column("event_id", String(200)),
    Column("integration", String(63)),
    Column("strategy", String(32), nullable=False),
    # When the event happened (a decision without one: the time its change is dated).
    Column("at", TS, nullable=False),
    # When leadsync made the decision: the batch's clock (the time of writing passed to
    # decide), an undo's. Migration 0019 filled older rows from their event's inbox
    # received_at, else their ``at``; NULL only from a writer that does not know it.
    Column("decided_at", TS),
    Column("previous_owner_id", String(64)),
    Column("proposed_owner_id", String(64)),
    Column("owner_id", String(64)),
    Column("outcome", String(8), nullable=False),
    Column("reason", Text, nullable=False),
    Column("external_user", Text),
    Column("flagged", Boolean, nullable=False, default=False),
    # "rollout" when a staged rollout's proposed settings made the decision.
    Column("settings", String(16)),
    Index("ix_owner_decisions_record", "record_id", "id"),
    Index("ix_owner_decisions_integration_at", "integration", "at"),
    Index("ix_owner_decisions_at", "at"),
    # The decisions list, newest decided first; filtered by integration, and undo --since
    # (an integration's decisions made since then: the window only), the second. Without
    # the second, SQLite (no statistics) would read all the integration's decisions through
    # (integration, at) and sort them.
    Index("ix_owner_decisions_decided", "decided_at", "id"),
    Index("ix_owner_decisions_integration_decided", "integration", "decided_at", "id"),
)

# What every event of a source activity said, merged by the vendor's clock (see
# leadsync.rules.activity_memory), kept also for activities not created (yet): a drafted
# mailing's prospect and rep are remembered for the delivered update that names neither.
activity_memory = Table(
    "activity_memory",
    metadata,
    Column("integration", String(63), primary_key=True),
    Column("type", String(16), primary_key=True),
    Column("external_id", String(200), primary_key=True),
    Column("state", Json, nullable=False),
    Column("updated_at", TS, nullable=False),
)

# The other sources of an activity that several tools logged (dedupe rules): the second
# tool's call merged into the first's, with the reason. Its later events find the activity
# through here.
activity_sources = Table(
    "activity_sources",
    metadata,
    Column("integration", String(63), primary_key=True),
    Column("type", String(16), primary_key=True),
    Column("external_id", String(200), primary_key=True),
    Column("activity_id", BigInteger, nullable=False),
    Column("merged_at", TS, nullable=False),
    Column("reason", Text, nullable=False),
    Index("ix_activity_sources_activity", "activity_id"),
)

activity_skips = Table(
    "activity_skips",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("event_id", String(200), nullable=False),
    Column("integration", String(63), nullable=False),
    Column("type", String(16), nullable=False),
    Column("external_id", String(200)),
    Column("occurred_at", TS, nullable=False),
    Column("reason", Text, nullable=False),
    # The rule and its setting, without this activity's values: what the report counts by.
    Column("kind", Text, nullable=False),
    # The record the activity was for, as the event named it (external id, email or domain),
    # and its id when the workspace had it then.
    Column("record_type", String(16)),
    Column("record_named", String(320)),
    Column("record_id", BigInteger),
    Column("settings", String(16)),
    # The activity a later event of it created after all (or the one it was merged into),
    # and when, by the vendor's clock (null for those found by migration 0024): the skip
    # stays as history, and is no activity "not created" any more (store.reports).
    Column("activity_id", BigInteger),
    Column("created_later_at", TS),
    Index("ix_activity_skips_integration", "integration", "occurred_at"),
    Index("ix_activity_skips_external", "integration", "type", "external_id"),
)

# Who changed the configuration, what and when: one row per change saved from the console,
# the admin API or ``leadsync apply``. ``who`` labels the session or the command (never a
# token); ``yaml_diff`` is the unified diff of the exported workspace file, before → after.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("at", TS, nullable=False),
    Column("role", String(16), nullable=False),
    Column("who", String(200), nullable=False),
    Column("integration", String(63)),
    Column("summary", Text, nullable=False),
    Column("yaml_diff", Text, nullable=False),
    Index("ix_audit_log_integration", "integration", "id"),
)

# The integrations an entry that names none in ``audit_log.integration`` changed (an apply of
# the file changes any number at once): what the log filtered by an integration finds too.
audit_integrations = Table(
    "audit_integrations",
    metadata,
    Column("integration", String(63), primary_key=True),
    Column("entry_id", BigInteger, primary_key=True),
)

# Tables that hold a workspace's data, in an order safe for deleting and copying.
DATA_TABLES = (
    health_snapshot,
    console_sign_outs,
    console_failed_tries,
    console_drafts,
    audit_integrations,
    audit_log,
    push_lease,
    push_queue,
    push_objects,
    push_failures,
    push_budget,
    route_parts,
    inbox,
    dead_letters,
    outbox,
    owner_decisions,
    activity_skips,
    activity_sources,
    activity_memory,
    review_items,
    held_activities,
    internal_activities,
    own_lines,
    record_phones,
    activity_associations,
    activities,
    record_associations,
    record_identities,
    records,
    external_users,
    team_members,
    integrations,
    workspace_settings,
    owners,
    counters,
)

"""The tables of a workspace (SQLAlchemy Core). Alembic migrations create them; a test checks
that the migrations and these definitions agree.

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
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy import text as sa_text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData()

# An autoincrementing key: INTEGER (the rowid) on SQLite, BIGINT on PostgreSQL.
SerialId = BigInteger().with_variant(Integer(), "sqlite")
# A key the engine allocates itself: BIGINT on PostgreSQL; on SQLite INTEGER, so that it is
# the rowid (one B-tree for the table, no separate key index).
AllocatedId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")
TS = String(24)

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
    Index("ix_records_type_email", "type", "email"),
    Index("ix_records_type_domain", "type", "domain"),
    Index("ix_records_owner", "owner_id"),
    Index("ix_records_created", "created_at"),
)
# The console's name search: a case-insensitive prefix walked as a range, in keyset order.
Index("ix_records_name_lower", func.lower(records.c.name), records.c.id)
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

# The phone numbers of contacts and leads, one row per phone property: ``number`` is the
# E.164 form, or the text as given when it does not read as a number (``valid`` false:
# kept, flagged, never matched). Calls whose counterpart is only a number find their
# contact here.
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
    Column("at", TS, nullable=False),
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
    Index("ix_activity_skips_integration", "integration", "occurred_at"),
)

inbox = Table(
    "inbox",
    metadata,
    Column("seq", AllocatedId, primary_key=True, autoincrement=False),
    Column("integration", String(63), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("received_at", TS, nullable=False),
    Column("occurred_at", TS, nullable=False),
    Column("payload", Text, nullable=False),
    # pending -> applied | failed
    Column("status", String(8), nullable=False),
    Column("source", Text),
    Column("error", Text),
    # PostgreSQL: the id of the transaction that wrote the row (its default: the router
    # takes rows in commit order, store/routing.py); NULL on SQLite.
    Column("txid", BigInteger),
    UniqueConstraint("integration", "event_id", name="uq_inbox_event"),
    # The dashboard's events per day: a window of the inbox read from the index alone.
    Index("ix_inbox_received", "received_at", "integration"),
    # Only pending rows are indexed: the index stays as small as the backlog.
    Index(
        "ix_inbox_pending",
        "seq",
        sqlite_where=sa_text("status = 'pending'"),
        postgresql_where=sa_text("status = 'pending'"),
    ),
    # The router's window: pending rows in commit order (PostgreSQL).
    Index(
        "ix_inbox_routable",
        "txid",
        "seq",
        sqlite_where=sa_text("status = 'pending'"),
        postgresql_where=sa_text("status = 'pending'"),
    ),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("integration", String(63), nullable=False),
    Column("received_at", TS, nullable=False),
    Column("source", Text),
    Column("line_no", BigInteger),
    Column("event_id", String(200)),
    Column("raw", Text, nullable=False),
    Column("error", Text, nullable=False),
    # Set when a retry put the event back in the inbox, or when a person dismissed the
    # letter (it is kept either way, for the record): when, by whom, and what was done.
    Column("resolved_at", TS),
    Column("resolution", Text),
    Column("resolved_by", String(200)),
    # Only for a dismissed letter: the reason the person gave.
    Column("dismissed_reason", Text),
    Index("ix_dead_letters_integration", "integration", "id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("integration", String(63), nullable=False),
    Column("record_id", BigInteger, nullable=False),
    Column("record_type", String(16), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("owner_id", String(64)),
    Column("external_owner_id", String(200)),
    Column("previous_owner_id", String(64)),
    Column("changed_at", TS, nullable=False),
    Column("source", String(63), nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(8), nullable=False),
    Index("ix_outbox_integration_status", "integration", "status", "id"),
)

# ----------------------------------------------------------------- the HubSpot push
# Every change the engine makes to a record or an activity is queued here in the same
# transaction (a transactional outbox); the pusher drains it. A row names the object, not the
# change's content: the pusher sends the object's state at the time it sends, so several
# changes of one object coalesce into one write. ``change`` is created | changed | owner |
# associated (``other_id``: the record linked) | removed | backfill | retry.
push_queue = Table(
    "push_queue",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),  # record | activity
    Column("local_id", BigInteger, nullable=False),
    Column("object_type", String(16), nullable=False),
    Column("change", String(16), nullable=False),
    Column("other_id", BigInteger),
    Column("queued_at", TS, nullable=False),
    Index("ix_push_queue_object", "kind", "local_id"),
)

# One row per object the pusher has dealt with: its HubSpot id, the owner leadsync last wrote
# (the compare-and-set baseline, and how HubSpot's echo of our own write is recognized), and
# when it was last pushed. ``create_sent_at`` is set (and committed) before a
# create is sent: a pusher that finds it set without a HubSpot id reconciles by reading
# HubSpot by ``leadsync_id`` before it sends the create again.
push_objects = Table(
    "push_objects",
    metadata,
    Column("kind", String(8), primary_key=True),
    Column("local_id", BigInteger, primary_key=True, autoincrement=False),
    Column("object_type", String(16), nullable=False),
    Column("hubspot_id", String(32)),
    Column("create_sent_at", TS),
    Column("pushed_at", TS),
    Column("pushed_owner_id", String(64)),
    # An owner write sent but not yet confirmed (set and committed before the update goes):
    # HubSpot may hold either this or ``pushed_owner_id``; both count as leadsync's own.
    Column("owner_sent_id", String(64)),
    Column("owner_sent_at", TS),
    Index("ix_push_objects_hubspot", "object_type", "hubspot_id"),
    Index("ix_push_objects_pushed", "pushed_at"),
)

# Inputs HubSpot refused (a 4xx for that input): HubSpot's message and correlation id. The
# object leaves the queue; ``push failures retry`` queues it again.
push_failures = Table(
    "push_failures",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),
    Column("local_id", BigInteger, nullable=False),
    Column("object_type", String(16), nullable=False),
    Column("operation", String(16), nullable=False),
    Column("status", Integer),  # NULL: leadsync's own check did not send it (PRECONDITION)
    Column("category", String(64)),
    Column("message", Text, nullable=False),
    Column("correlation_id", String(64)),
    Column("at", TS, nullable=False),
    Column("resolved_at", TS),
    Column("resolution", String(16)),  # retried | dismissed | pushed
    # Who retried or dismissed it (none when the push itself went through), and the reason
    # a person gave for a dismissal, as for dead letters.
    Column("resolved_by", String(200)),
    Column("dismissed_reason", Text),
    Index("ix_push_failures_object", "kind", "local_id"),
    Index("ix_push_failures_open", "resolved_at", "id"),
)

# The request budget of one HubSpot app, shared by every process of the workspace: the send
# times of the last ``per_10s`` requests (a sliding log), what HubSpot's headers said last,
# a pause (the daily limit), and request/error counts.
push_budget = Table(
    "push_budget",
    metadata,
    Column("app", String(64), primary_key=True),
    Column("sent", Json, nullable=False),
    Column("paused_until", Float),
    Column("pause_reason", Text),
    Column("header_max", Integer),
    Column("header_remaining", Integer),
    Column("header_daily", Integer),
    Column("header_daily_remaining", Integer),
    Column("headers_at", Float),
    Column("requests", BigInteger, nullable=False, default=0),
    Column("errors", BigInteger, nullable=False, default=0),
    Column("rate_limited", BigInteger, nullable=False, default=0),
)

# Who pushes: one pusher per workspace at a time holds this lease (renewed every cycle; taken
# over when it lapses). The request budget, not CPU, bounds the push, so more pushers would
# only contend for it; the lease also keeps two processes from creating one object twice.
push_lease = Table(
    "push_lease",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("until", Float, nullable=False),
    Column("since", Float),  # taken (kept while renewed)
    Column("released_at", Float),  # given up (a clean stop; a lapsed lease's holder died)
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

# The parts a router cut the inbox's pending rows into (PostgreSQL's parallel workers): the
# rows of one part touch records no other open part touches; a worker holds a part's lock
# while it applies the part, and marks it done when no row of it is pending. A part lists
# its rows (inbox sequence numbers, in arrival order) and the first record and activity id
# the router reserved for each: the inbox's wide rows are not written to route them.
IdList = ARRAY(BigInteger).with_variant(JSON(), "sqlite")
route_parts = Table(
    "route_parts",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("created_at", TS, nullable=False),
    Column("events", Integer, nullable=False),
    Column("done", Boolean, nullable=False),
    # NULL in the parts of an older version (done when it was upgraded).
    Column("seqs", IdList),
    Column("record_ids_from", IdList),
    Column("activity_ids_from", IdList),
    # The parts that must be done before this one is taken (cut while they were open).
    Column("after", IdList),
    Index(
        "ix_route_parts_open",
        "id",
        sqlite_where=sa_text("NOT done"),
        postgresql_where=sa_text("NOT done"),
    ),
)

# Tables that hold a workspace's data, in an order safe for deleting and copying.
DATA_TABLES = (
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

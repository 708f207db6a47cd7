"""The tables of what passes through a workspace — the inbox and its dead letters, the
router's parts, the outbox of bidirectional integrations, the HubSpot push (its queue, the
objects it knows, what HubSpot refused, the shared request budget, the lease), what every
``serve`` process's console shares (sign-outs, failed tries of a secret, kept forms) — and the one
``metadata`` and the column types every table of the workspace is declared with.

:mod:`leadsync.store.schema` holds the workspace's state (owners, settings, records,
activities, owner decisions …) and re-exports every table here, so ``from
leadsync.store.schema import X`` names any table; Alembic reads the one ``metadata``.
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
# The same, where Python's None is SQL NULL (not the JSON value null).
JsonOrNull = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
TS = String(24)

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
    # SHA-256 of ``raw`` (hex): a line is known by its text, whatever file or name it came
    # under (``./x.jsonl``, its absolute path, a copy, stdin).
    Column("raw_hash", String(64)),
    # Set when a retry put the event back in the inbox, or when a person dismissed the
    # letter (it is kept either way, for the record): when, by whom, and what was done.
    Column("resolved_at", TS),
    Column("resolution", Text),
    Column("resolved_by", String(200)),
    # Only for a dismissed letter: the reason the person gave.
    Column("dismissed_reason", Text),
    Index("ix_dead_letters_integration", "integration", "id"),
    Index("ix_dead_letters_raw_hash", "integration", "raw_hash"),
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
    # What became of the owner written as the tool reports it back (rules/echoes.py):
    # "awaited", "echoed" or "passed"; null when none is awaited (no external owner, or
    # written before migration 0027). The report that echoed or passed it, and its time;
    # an awaited one is awaited only for reports up to ``awaited_until`` (the tool's clock).
    Column("echo", String(8)),
    Column("echo_event_id", String(200)),
    Column("echo_at", TS),
    Column("awaited_until", TS),
    Index("ix_outbox_integration_status", "integration", "status", "id"),
    # The writes a batch's identities await: only awaited rows are indexed.
    Index(
        "ix_outbox_awaited",
        "integration",
        "record_type",
        "external_id",
        sqlite_where=sa_text("echo = 'awaited'"),
        postgresql_where=sa_text("echo = 'awaited'"),
    ),
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
    # When the owner write HubSpot last applied was sent (0034): a HubSpot change of the
    # owner that happened before it was replaced there by it (a late webhook, not today's).
    Column("owner_written_at", TS),
    # The owner HubSpot holds that the push kept and leadsync did not write (a person's, seen
    # by the compare-and-set; "" for none) (0036): ``pushed_owner_id`` stays leadsync's last
    # write — HubSpot's webhook of that person's change is not its echo — but is not what
    # HubSpot has, so a later change back to it is sent, and a later change of leadsync's is
    # written over this known owner without deciding again. NULL: HubSpot has leadsync's
    # owner (its write, or what its webhook told).
    Column("followed_owner_id", String(64)),
    # A record's properties whose non-empty value leadsync's confirmed writes left in HubSpot
    # and did not clear since, name -> value: the only ones an update clears (NULL: nothing
    # known, the rows from before migration 0025). And the values (or "" clears) of writes
    # sent but not confirmed, name -> list, committed before they go: such a property is read
    # from HubSpot before it is cleared (destinations/hubspot/cycle/clears.py).
    Column("pushed_properties", JsonOrNull),
    Column("properties_sent", JsonOrNull),
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
    # HubSpot's refusal that stops every push (401 token, 403 scope) and when, until an
    # answer it accepts clears it (0038).
    Column("refused", Text),
    Column("refused_at", Float),
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


# What the console and the admin API of every ``serve`` process share (web/auth.py,
# web/drafts.py): a session signed out anywhere is refused everywhere until it would have
# expired (``until``, by the keys' clock: seconds since the epoch); a wrong secret counts
# against its client address in every process; a form kept through a sign-in is found by
# whichever process the sign-in reaches. Rows leave once past their time.
console_sign_outs = Table(
    "console_sign_outs",
    metadata,
    Column("sid", String(64), primary_key=True),
    Column("until", Float, nullable=False),
)
console_failed_tries = Table(
    "console_failed_tries",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("client", String(255), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_console_failed_tries_client", "client", "at"),
)
# A kept form, by the SHA-256 of the id its browser holds (the id itself is not stored).
console_drafts = Table(
    "console_drafts",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("path", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("fields", Json, nullable=False),
    Column("dropped", Json, nullable=False),
    Column("via", String(16)),
    Column("sid", String(64)),
    Column("kept_at", Float, nullable=False),
    Column("expires", Float, nullable=False),
)

# The newest health snapshot (ops/snapshot.py), one row: every ``serve`` process's console
# shows the same one, and one process at a time takes the next (``holder`` until ``until``,
# seconds since the epoch). ``taken_from``: when its taking began; ``asked_at``: when a
# refresh was last asked for (a refresh asked after the newest began is still to take).
health_snapshot = Table(
    "health_snapshot",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("body", JsonOrNull),
    Column("taken_from", Float),
    Column("taken_by", String(128)),
    Column("asked_at", Float),
    Column("holder", String(128)),
    Column("until", Float),
)

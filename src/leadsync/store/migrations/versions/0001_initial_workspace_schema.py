"""initial workspace schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "activities",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("integration", sa.String(length=63), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("occurred_at", sa.String(length=24), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("recording_url", sa.Text(), nullable=True),
        sa.Column("from_number", sa.Text(), nullable=True),
        sa.Column("to_number", sa.Text(), nullable=True),
        sa.Column("start_at", sa.String(length=24), nullable=True),
        sa.Column("end_at", sa.String(length=24), nullable=True),
        sa.Column("due_at", sa.String(length=24), nullable=True),
        sa.Column(
            "properties",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("integration", "type", "external_id", name="uq_activities_external"),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index("ix_activities_occurred", ["occurred_at"], unique=False)

    op.create_table(
        "activity_associations",
        sa.Column("activity_id", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("activity_id", "record_id"),
    )
    with op.batch_alter_table("activity_associations", schema=None) as batch_op:
        batch_op.create_index("ix_activity_associations_record", ["record_id"], unique=False)

    op.create_table(
        "activity_skips",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("integration", sa.String(length=63), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("occurred_at", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("activity_skips", schema=None) as batch_op:
        batch_op.create_index(
            "ix_activity_skips_integration", ["integration", "occurred_at"], unique=False
        )

    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "dead_letters",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("integration", sa.String(length=63), nullable=False),
        sa.Column("received_at", sa.String(length=24), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("line_no", sa.BigInteger(), nullable=True),
        sa.Column("event_id", sa.String(length=200), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index("ix_dead_letters_integration", ["integration", "id"], unique=False)

    op.create_table(
        "external_users",
        sa.Column("integration", sa.String(length=63), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("first_seen_at", sa.String(length=24), nullable=False),
        sa.Column("last_seen_at", sa.String(length=24), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("integration", "external_id"),
    )
    op.create_table(
        "inbox",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("integration", sa.String(length=63), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.String(length=24), nullable=False),
        sa.Column("occurred_at", sa.String(length=24), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("integration", "event_id", name="uq_inbox_event"),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbox_pending",
            ["seq"],
            unique=False,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    op.create_table(
        "integrations",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("integration", sa.String(length=63), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("external_owner_id", sa.String(length=200), nullable=True),
        sa.Column("previous_owner_id", sa.String(length=64), nullable=True),
        sa.Column("changed_at", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=63), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_integration_status", ["integration", "status", "id"], unique=False
        )

    op.create_table(
        "owner_decisions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=True),
        sa.Column("integration", sa.String(length=63), nullable=True),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("at", sa.String(length=24), nullable=False),
        sa.Column("previous_owner_id", sa.String(length=64), nullable=True),
        sa.Column("proposed_owner_id", sa.String(length=64), nullable=True),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("external_user", sa.Text(), nullable=True),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("owner_decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_owner_decisions_integration_at", ["integration", "at"], unique=False
        )
        batch_op.create_index("ix_owner_decisions_record", ["record_id", "id"], unique=False)

    op.create_table(
        "owners",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("first_name", sa.String(length=200), nullable=False),
        sa.Column("last_name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "record_associations",
        sa.Column("left_id", sa.BigInteger(), nullable=False),
        sa.Column("right_id", sa.BigInteger(), nullable=False),
        sa.Column("left_type", sa.String(length=16), nullable=False),
        sa.Column("right_type", sa.String(length=16), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("left_id", "right_id"),
    )
    with op.batch_alter_table("record_associations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_record_associations_right", ["right_id", "left_type"], unique=False
        )

    op.create_table(
        "record_identities",
        sa.Column("integration", sa.String(length=63), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("integration", "type", "external_id"),
    )
    with op.batch_alter_table("record_identities", schema=None) as batch_op:
        batch_op.create_index("ix_record_identities_record", ["record_id"], unique=False)

    op.create_table(
        "records",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("domain", sa.String(length=253), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("stage", sa.Text(), nullable=True),
        sa.Column("is_closed", sa.Boolean(), nullable=True),
        sa.Column(
            "properties",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("placeholder", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.String(length=24), nullable=False),
        sa.Column("updated_at", sa.String(length=24), nullable=False),
        sa.Column("created_by", sa.String(length=63), nullable=True),
        sa.Column("owner_changed_at", sa.String(length=24), nullable=True),
        sa.Column("owner_source", sa.String(length=63), nullable=True),
        sa.Column("manual_owner_at", sa.String(length=24), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.create_index("ix_records_owner", ["owner_id"], unique=False)
        batch_op.create_index("ix_records_type_domain", ["type", "domain"], unique=False)
        batch_op.create_index("ix_records_type_email", ["type", "email"], unique=False)

    op.create_table(
        "team_members",
        sa.Column("team", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("team", "owner_id"),
    )


def downgrade() -> None:

    op.drop_table("team_members")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index("ix_records_type_email")
        batch_op.drop_index("ix_records_type_domain")
        batch_op.drop_index("ix_records_owner")

    op.drop_table("records")
    with op.batch_alter_table("record_identities", schema=None) as batch_op:
        batch_op.drop_index("ix_record_identities_record")

    op.drop_table("record_identities")
    with op.batch_alter_table("record_associations", schema=None) as batch_op:
        batch_op.drop_index("ix_record_associations_right")

    op.drop_table("record_associations")
    op.drop_table("owners")
    with op.batch_alter_table("owner_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_owner_decisions_record")
        batch_op.drop_index("ix_owner_decisions_integration_at")

    op.drop_table("owner_decisions")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_integration_status")

    op.drop_table("outbox")
    op.drop_table("integrations")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_pending")

    op.drop_table("inbox")
    op.drop_table("external_users")
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index("ix_dead_letters_integration")

    op.drop_table("dead_letters")
    op.drop_table("counters")
    with op.batch_alter_table("activity_skips", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_skips_integration")

    op.drop_table("activity_skips")
    with op.batch_alter_table("activity_associations", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_associations_record")

    op.drop_table("activity_associations")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_occurred")

    op.drop_table("activities")

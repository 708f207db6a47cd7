"""calls find their people: the phone numbers of contacts and leads (filled from their
properties), activities held for an unknown number, the review queue, why an activity is on
a record, and records created for an unknown number

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
_TS = sa.String(length=24)
_CHUNK = 5_000


def upgrade() -> None:
    op.add_column("records", sa.Column("origin", sa.String(length=16), nullable=True))
    op.add_column("activity_associations", sa.Column("reason", sa.Text(), nullable=True))
    op.create_table(
        "record_phones",
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("property", sa.String(length=64), nullable=False),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", "property"),
    )
    op.create_index("ix_record_phones_number", "record_phones", ["number"])
    op.create_table(
        "held_activities",
        sa.Column("activity_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("integration", sa.String(length=63), nullable=False),
        sa.Column("held_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("queued", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("activity_id", "number"),
    )
    op.create_index("ix_held_activities_number", "held_activities", ["number"])
    op.create_index("ix_held_activities_expiry", "held_activities", ["queued", "expires_at"])
    op.create_table(
        "review_items",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("integration", sa.String(length=63), nullable=False),
        sa.Column("activity_id", sa.BigInteger(), nullable=True),
        sa.Column("event_id", sa.String(length=200), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("candidates", _JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("closed_at", _TS, nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("choice", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_review_items_status", "review_items", ["status", "created_at"])
    op.create_index("ix_review_items_activity", "review_items", ["activity_id"])
    _index_existing_phones()


def _index_existing_phones() -> None:
    """The phone numbers of the contacts and leads already stored, read as the engine reads
    them from now on (each integration's ``region:`` does not exist yet: international
    forms are read, national ones are kept as given and flagged)."""
    from leadsync.rules.records import phone_rows  # the engine's own reading

    connection = op.get_bind()
    records = sa.table(
        "records",
        sa.column("id", sa.BigInteger),
        sa.column("type", sa.String),
        sa.column("properties", _JSON),
    )
    phones = sa.table(
        "record_phones",
        sa.column("record_id", sa.BigInteger),
        sa.column("property", sa.String),
        sa.column("record_type", sa.String),
        sa.column("number", sa.Text),
        sa.column("valid", sa.Boolean),
    )
    last = 0
    while True:
        chunk = connection.execute(
            sa.select(records.c.id, records.c.type, records.c.properties)
            .where(records.c.id > last, records.c.type.in_(("contact", "lead")))
            .order_by(records.c.id)
            .limit(_CHUNK)
        ).all()
        if not chunk:
            return
        rows: list[dict[str, Any]] = []
        for record_id, record_type, properties in chunk:
            if isinstance(properties, str):
                properties = json.loads(properties)
            rows.extend(phone_rows(record_id, record_type, properties or {}, None))
        if rows:
            connection.execute(phones.insert(), rows)
        last = chunk[-1][0]


def downgrade() -> None:
    op.drop_index("ix_review_items_activity", table_name="review_items")
    op.drop_index("ix_review_items_status", table_name="review_items")
    op.drop_table("review_items")
    op.drop_index("ix_held_activities_expiry", table_name="held_activities")
    op.drop_index("ix_held_activities_number", table_name="held_activities")
    op.drop_table("held_activities")
    op.drop_index("ix_record_phones_number", table_name="record_phones")
    op.drop_table("record_phones")
    with op.batch_alter_table("activity_associations") as batch:
        batch.drop_column("reason")
    with op.batch_alter_table("records") as batch:
        batch.drop_column("origin")

"""the push says what waits and who pushes: records nothing names yet (placeholders the push
cannot create) found through a partial index; a push failure of leadsync's own check has no
HTTP status; the push lease keeps since when its holder holds it and when it gave it up

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

PRECONDITION = "LEADSYNC_PRECONDITION"


def upgrade() -> None:
    op.create_index(
        "ix_records_placeholder",
        "records",
        ["type", "id"],
        postgresql_where=sa.text("placeholder"),
        sqlite_where=sa.text("placeholder = 1"),
    )
    with op.batch_alter_table("push_failures") as batch:
        batch.alter_column("status", existing_type=sa.Integer(), nullable=True)
    # leadsync's own check before sending was stored as a 400 HubSpot never answered.
    op.execute(f"UPDATE push_failures SET status = NULL WHERE category = '{PRECONDITION}'")
    with op.batch_alter_table("push_lease") as batch:
        batch.add_column(sa.Column("since", sa.Float(), nullable=True))
        batch.add_column(sa.Column("released_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("push_lease") as batch:
        batch.drop_column("released_at")
        batch.drop_column("since")
    op.execute(f"UPDATE push_failures SET status = 400 WHERE category = '{PRECONDITION}'")
    with op.batch_alter_table("push_failures") as batch:
        batch.alter_column("status", existing_type=sa.Integer(), nullable=False)
    op.drop_index("ix_records_placeholder", table_name="records")

"""record identities remember a merge at their tool: ``merged_into`` (the external id, of the
same integration and type, that the tool merged this id into) and ``merged_at`` (when, by the
tool's clock). A merged id still names the record (later events of it land there), but it is
no id to write to: the HubSpot push and the outbox leave it out.

Existing identities get null in both: no merge was kept before.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("record_identities", sa.Column("merged_into", sa.String(200), nullable=True))
    op.add_column("record_identities", sa.Column("merged_at", sa.String(24), nullable=True))


def downgrade() -> None:
    # SQLite drops a column itself (3.35 and later), as 0022 does.
    op.execute("ALTER TABLE record_identities DROP COLUMN merged_at")
    op.execute("ALTER TABLE record_identities DROP COLUMN merged_into")

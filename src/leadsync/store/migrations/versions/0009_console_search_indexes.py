"""the console's indexes: records by lowercased name (the name search) and the inbox by time
received, with the integration (events per day on the health page, from the index alone)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_records_name_lower", "records", [sa.text("lower(name)"), "id"])
    op.create_index("ix_inbox_received", "inbox", ["received_at", "integration"])


def downgrade() -> None:
    op.drop_index("ix_inbox_received", table_name="inbox")
    op.drop_index("ix_records_name_lower", table_name="records")

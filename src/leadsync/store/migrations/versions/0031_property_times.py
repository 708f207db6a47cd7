"""records keep, per property, when (by the vendor's clock) and from which integration the
value it shows came (``property_times``: ``{property: [time, integration]}``), and when the
contact's (or lead's) own event that made its primary company happened
(``primary_company_at``): an event older than either, arriving later (a vendor's retry, a
reordered delivery), changes nothing there

Both start null: nothing says when the values stored before the upgrade were given, so the
next event giving a property takes it (as every event did before), and from then on the
vendor's clock decides (README, "Order").

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    json_type = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    op.add_column("records", sa.Column("property_times", json_type, nullable=True))
    op.add_column("records", sa.Column("primary_company_at", sa.String(length=24), nullable=True))


def downgrade() -> None:
    # SQLite drops a column itself (3.35 and later); batch mode would rebuild the table and
    # cannot reflect its expression index.
    op.execute("ALTER TABLE records DROP COLUMN primary_company_at")
    op.execute("ALTER TABLE records DROP COLUMN property_times")

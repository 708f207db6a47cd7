"""the integrations an audit entry of ``leadsync apply`` changed (``audit_integrations``): a
file changes any number at once, so its entry names none in ``audit_log.integration``, and
the log filtered by an integration (the console's "Changes made so far") left those out.

Entries written before name nothing here: the filter finds the console's and the admin
API's changes of an integration, as before, and an apply's from now on.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_integrations",
        sa.Column("integration", sa.String(63), primary_key=True),
        sa.Column("entry_id", sa.BigInteger, primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("audit_integrations")

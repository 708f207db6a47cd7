"""the audit log: who changed the configuration (console, admin API, leadsync apply), what
(the YAML diff and a summary) and when

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.String(length=24)


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("who", sa.String(length=200), nullable=False),
        sa.Column("integration", sa.String(length=63), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("yaml_diff", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_integration", "audit_log", ["integration", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_integration", table_name="audit_log")
    op.drop_table("audit_log")

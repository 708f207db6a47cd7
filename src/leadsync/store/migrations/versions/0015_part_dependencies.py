"""part dependencies: a part cut while the parts before it were still applied lists the open
parts it must wait for (``route_parts.after``); a worker takes it only once they are done

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_ID_LIST = postgresql.ARRAY(sa.BigInteger()).with_variant(sa.JSON(), "sqlite")


def upgrade() -> None:
    op.add_column("route_parts", sa.Column("after", _ID_LIST, nullable=True))


def downgrade() -> None:
    op.execute("UPDATE route_parts SET done = true WHERE NOT done")
    with op.batch_alter_table("route_parts") as batch:
        batch.drop_column("after")

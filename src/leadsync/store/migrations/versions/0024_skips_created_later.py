"""activity skips keep the activity a later event of it created after all, and when
(``activity_id``, ``created_later_at``, by the vendor's clock): the skip stays as history, and
the listings and the report no longer count it as an activity not created; indexed on
(integration, type, external_id), which the engine resolves them by

Existing skips whose activity exists now (by its key, or as a source merged into another
tool's activity) get its id; when it came is not known, so ``created_later_at`` stays null.
An activity that exists was created after every skip of it: a skip of a live activity
removes it.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_SAME_KEY = (
    "{t}.integration = activity_skips.integration AND {t}.type = activity_skips.type "
    "AND {t}.external_id = activity_skips.external_id"
)
_FILL = f"""
UPDATE activity_skips SET activity_id = COALESCE(
    (SELECT a.id FROM activities AS a WHERE {_SAME_KEY.format(t="a")}),
    (SELECT s.activity_id FROM activity_sources AS s WHERE {_SAME_KEY.format(t="s")}))
WHERE external_id IS NOT NULL
"""


def upgrade() -> None:
    op.add_column("activity_skips", sa.Column("activity_id", sa.BigInteger(), nullable=True))
    op.add_column(
        "activity_skips", sa.Column("created_later_at", sa.String(length=24), nullable=True)
    )
    op.create_index(
        "ix_activity_skips_external", "activity_skips", ["integration", "type", "external_id"]
    )
    op.execute(_FILL)


def downgrade() -> None:
    op.drop_index("ix_activity_skips_external", table_name="activity_skips")
    # SQLite drops a column itself (3.35 and later), as migration 0022 does.
    op.execute("ALTER TABLE activity_skips DROP COLUMN created_later_at")
    op.execute("ALTER TABLE activity_skips DROP COLUMN activity_id")

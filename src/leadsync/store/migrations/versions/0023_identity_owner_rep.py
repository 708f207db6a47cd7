"""record identities keep the rep their integration last gave as the record's owner, and when
by its clock (``owner_rep``, ``owner_rep_at``): under ``bidirectional`` the same rep again is
no owner change, so a tool that sends the current owner with every edit (Salesloft's
``person_updated``, Salesforce's Outbound Messages) no longer undoes a change made elsewhere

Existing identities are filled from the decisions: the rep of the latest decision that
integration's events made on the record (an activity's ``assign_on_activity`` is not the
record's owner as the tool has it), read from ``external_user`` (``ID (EMAIL)``, ``ID`` or
``EMAIL``: the id, else the email); without one they stay null, and the integration's next
owner for the record is a change, as before.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_LATEST = """(
    SELECT {value} FROM owner_decisions AS d
    WHERE d.record_id = record_identities.record_id
      AND d.integration = record_identities.integration
      AND d.external_user IS NOT NULL AND d.strategy <> 'assign_on_activity'
    ORDER BY d.at DESC, d.id DESC LIMIT 1)"""


def upgrade() -> None:
    op.add_column("record_identities", sa.Column("owner_rep", sa.String(320), nullable=True))
    op.add_column("record_identities", sa.Column("owner_rep_at", sa.String(24), nullable=True))
    find = "instr" if op.get_bind().dialect.name == "sqlite" else "strpos"
    user = "d.external_user"
    at = f"{find}({user}, ' (')"
    rep = (
        f"CASE WHEN {at} > 0 AND {user} LIKE '%)' THEN substr({user}, 1, {at} - 1) ELSE {user} END"
    )
    op.execute(
        f"UPDATE record_identities SET owner_rep = {_LATEST.format(value=rep)}, "
        f"owner_rep_at = {_LATEST.format(value='d.at')}"
    )


def downgrade() -> None:
    # SQLite drops a column itself (3.35 and later), as 0022 does.
    op.execute("ALTER TABLE record_identities DROP COLUMN owner_rep_at")
    op.execute("ALTER TABLE record_identities DROP COLUMN owner_rep")

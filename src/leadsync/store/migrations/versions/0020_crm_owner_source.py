"""a record's owner set in the CRM is recorded under the owner source ``(crm)``, which no
integration's name can be, instead of ``crm``, which one could: a HubSpot integration named
``crm`` took a person's change (``records set-owner``) for HubSpot's own and never pushed it,
and its own events for the same source as the person's

Rows written ``crm`` are rewritten, unless an integration is named ``crm``: then only those
a person's change wrote (``manual_owner_at`` set with them), the others being that
integration's as often as the CRM's, and left as they are.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE records SET owner_source = '(crm)' WHERE owner_source = 'crm' AND ("
        "manual_owner_at IS NOT NULL "
        "OR NOT EXISTS (SELECT 1 FROM integrations WHERE name = 'crm'))"
    )


def downgrade() -> None:
    op.execute("UPDATE records SET owner_source = 'crm' WHERE owner_source = '(crm)'")

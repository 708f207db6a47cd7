"""Migration 0020: a record's owner set in the CRM is recorded under ``(crm)``, which no
integration's name can be, instead of ``crm``, which one could (a HubSpot integration named
``crm`` took a person's change for HubSpot's own and never pushed it). With no integration
named ``crm`` every ``crm`` row is rewritten; with one, only those a person's change wrote
(``manual_owner_at``). On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from leadsync.store.database import create_db_engine
from tests.test_decided_at_migration import _database, _migrate

T0 = "2026-11-01T09:00:00.000Z"

# (id, owner_source, manual_owner_at)
OLD_ROWS = [
    (1, "crm", T0),  # a person's change
    (2, "crm", None),  # HubSpot's owner the push took, or the integration crm's
    (3, "dialer", None),
    (4, None, None),
]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@pytest.mark.parametrize("named_crm", [False, True])
def test_crm_owner_sources_are_rewritten(backend: str, named_crm: bool, tmp_path: Path) -> None:
    with _database(backend, tmp_path) as url:
        engine = create_db_engine(url)
        try:
            _migrate(engine, "head")  # a scratch PostgreSQL database starts there
            _migrate(engine, "0019", down=True)
            with engine.begin() as connection:
                if named_crm:
                    connection.execute(
                        sa.text(
                            "INSERT INTO integrations (name, kind, settings, position) "
                            "VALUES ('crm', 'hubspot', '{}', 0)"
                        )
                    )
                for record_id, source, manual in OLD_ROWS:
                    connection.execute(
                        sa.text(
                            "INSERT INTO records (id, type, properties, placeholder, "
                            "created_at, updated_at, owner_source, manual_owner_at) VALUES "
                            "(:id, 'contact', '{}', false, :t, :t, :source, :manual)"
                        ),
                        {"id": record_id, "t": T0, "source": source, "manual": manual},
                    )
            _migrate(engine, "0020")
            with engine.connect() as connection:
                found = dict(
                    connection.execute(sa.text("SELECT id, owner_source FROM records")).all()
                )
            assert found == {
                1: "(crm)",
                2: "crm" if named_crm else "(crm)",
                3: "dialer",
                4: None,
            }
            _migrate(engine, "0019", down=True)
            with engine.connect() as connection:
                back = dict(
                    connection.execute(sa.text("SELECT id, owner_source FROM records")).all()
                )
            assert back == {1: "crm", 2: "crm", 3: "dialer", 4: None}
        finally:
            engine.dispose()

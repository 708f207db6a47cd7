"""Migration 0023: each record identity gets the rep its integration last gave as the record's
owner, and when, from the decisions its events made (an ``assign_on_activity`` decision is an
activity's rep, not the record's owner as the tool has it); identities without one stay null.
On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from leadsync.store.database import create_db_engine
from tests.test_decided_at_migration import _database, _migrate

# (integration, external id, record id)
IDENTITIES = [
    ("engage", "1701", 1),
    ("engage", "1702", 2),
    ("crm", "501", 1),
    ("engage", "1703", 3),
]
# (record id, integration, strategy, at, external_user)
DECISIONS = [
    (1, "engage", "bidirectional", "2026-11-01T09:00:00.000Z", "8"),
    (1, None, "manual", "2026-11-02T09:00:00.000Z", None),  # a person's change
    (1, "engage", "bidirectional", "2026-11-03T09:00:00.000Z", "9 (bo@acme.test)"),
    (1, "engage", "assign_on_activity", "2026-11-04T09:00:00.000Z", "7"),
    (1, "crm", "crm", "2026-11-05T09:00:00.000Z", None),
    (2, "engage", "bidirectional", "2026-11-01T09:00:00.000Z", "ana@acme.test"),
]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_identities_get_the_rep_their_integration_last_gave(backend: str, tmp_path: Path) -> None:
    with _database(backend, tmp_path) as url:
        engine = create_db_engine(url)
        try:
            _migrate(engine, "head")  # a scratch PostgreSQL database starts there
            _migrate(engine, "0022", down=True)
            with engine.begin() as connection:
                for integration, external_id, record_id in IDENTITIES:
                    connection.execute(
                        sa.text(
                            "INSERT INTO record_identities (integration, type, external_id, "
                            "record_id) VALUES (:i, 'contact', :e, :r)"
                        ),
                        {"i": integration, "e": external_id, "r": record_id},
                    )
                for record_id, integration, strategy, at, user in DECISIONS:
                    connection.execute(
                        sa.text(
                            "INSERT INTO owner_decisions (record_id, record_type, integration, "
                            "strategy, at, outcome, reason, external_user, flagged) VALUES "
                            "(:r, 'contact', :i, :s, :a, 'set', 'old', :u, false)"
                        ),
                        {"r": record_id, "i": integration, "s": strategy, "a": at, "u": user},
                    )
            _migrate(engine, "0023")
            with engine.connect() as connection:
                found = {
                    (i, e): (rep, at)
                    for i, e, rep, at in connection.execute(
                        sa.text(
                            "SELECT integration, external_id, owner_rep, owner_rep_at "
                            "FROM record_identities"
                        )
                    )
                }
            assert found == {
                ("engage", "1701"): ("9", "2026-11-03T09:00:00.000Z"),
                ("engage", "1702"): ("ana@acme.test", "2026-11-01T09:00:00.000Z"),
                ("crm", "501"): (None, None),
                ("engage", "1703"): (None, None),
            }
            _migrate(engine, "0022", down=True)  # and back: the columns go
            with engine.connect() as connection:
                columns = {
                    c["name"] for c in sa.inspect(connection).get_columns("record_identities")
                }
            assert not columns & {"owner_rep", "owner_rep_at"}
        finally:
            engine.dispose()

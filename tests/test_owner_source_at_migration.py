"""Migration 0022: a record whose owner an integration gave gets the time that integration
last gave it (from its decisions), so that a record it took back from a person before the
upgrade does not stay stuck behind the person's time; the others stay null (the rules read
owner_changed_at for them). On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from leadsync.store.database import create_db_engine
from tests.test_decided_at_migration import _database, _migrate

PERSON = "2026-12-05T21:44:20.125Z"  # a person's records set-owner, after the events
# (record id, owner, owner_source, owner_changed_at)
RECORDS = [
    (1, "102", "dialer", PERSON),  # dialer took it back from the person: its time is 11-02
    (2, "103", "(crm)", PERSON),  # the person's own: none
    (3, None, None, None),
]
# (record id, integration, at, outcome, proposed, owner)
DECISIONS = [
    (1, "dialer", "2026-11-01T09:00:00.000Z", "set", "101", "101"),
    (1, None, PERSON, "set", "103", "103"),
    (1, "dialer", "2026-11-02T09:00:00.000Z", "set", "102", "102"),
    (1, "dialer", "2026-11-02T10:00:00.000Z", "kept", "104", "102"),  # another proposal
    (2, None, PERSON, "set", "103", "103"),
]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_records_get_the_time_their_owner_source_last_gave_the_owner(
    backend: str, tmp_path: Path
) -> None:
    with _database(backend, tmp_path) as url:
        engine = create_db_engine(url)
        try:
            _migrate(engine, "head")  # a scratch PostgreSQL database starts there
            _migrate(engine, "0021", down=True)
            with engine.begin() as connection:
                for record_id, owner, source, changed in RECORDS:
                    connection.execute(
                        sa.text(
                            "INSERT INTO records (id, type, owner_id, properties, placeholder, "
                            "created_at, updated_at, owner_source, owner_changed_at) VALUES "
                            "(:id, 'contact', :o, '{}', false, :t, :t, :s, :c)"
                        ),
                        {"id": record_id, "o": owner, "t": PERSON, "s": source, "c": changed},
                    )
                for record_id, integration, at, outcome, proposed, owner in DECISIONS:
                    connection.execute(
                        sa.text(
                            "INSERT INTO owner_decisions (record_id, record_type, integration, "
                            "strategy, at, outcome, proposed_owner_id, owner_id, reason, "
                            "flagged) VALUES (:r, 'contact', :i, 'integration_wins', :a, :o, "
                            ":p, :w, 'old', false)"
                        ),
                        {"r": record_id, "i": integration, "a": at, "o": outcome}
                        | {"p": proposed, "w": owner},
                    )
            _migrate(engine, "0022")
            with engine.connect() as connection:
                found = dict(
                    connection.execute(sa.text("SELECT id, owner_source_at FROM records")).all()
                )
            assert found == {1: "2026-11-02T09:00:00.000Z", 2: None, 3: None}
            _migrate(engine, "0021", down=True)  # and back: the column goes
            with engine.connect() as connection:
                columns = {c["name"] for c in sa.inspect(connection).get_columns("records")}
            assert "owner_source_at" not in columns
        finally:
            engine.dispose()

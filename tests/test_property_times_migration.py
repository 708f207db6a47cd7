"""Migration 0031: records get ``property_times`` and ``primary_company_at``, null for the rows
already there (nothing says when their values were given): the next event giving a property
takes it, whatever its time, as before; from then on the vendor's clock decides. Down again,
the columns go. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadsync.store.database import create_db_engine
from leadsync.workspace import Workspace
from tests.helpers import workspace_config
from tests.test_decided_at_migration import _database, _migrate

AT = "2026-11-05T09:00:00.000Z"


def _event(n: int, at: str, **properties: str) -> str:
    return json.dumps(
        {
            "id": f"e{n}",
            "occurred_at": at,
            "type": "record",
            "object": "contact",
            "external_id": "p-1",
            "properties": properties,
        }
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_stored_values_have_no_time_and_the_next_event_takes_them(
    backend: str, tmp_path: Path
) -> None:
    with _database(backend, tmp_path) as url:
        engine = create_db_engine(url)
        try:
            _migrate(engine, "head")  # a scratch PostgreSQL database starts there
            _migrate(engine, "0030", down=True)
            with engine.connect() as connection:
                columns = {c["name"] for c in sa.inspect(connection).get_columns("records")}
            assert not {"property_times", "primary_company_at"} & columns
            with engine.begin() as connection:
                connection.execute(
                    sa.text(
                        "INSERT INTO records (id, type, properties, placeholder, created_at, "
                        "updated_at, created_by) VALUES (1, 'contact', :p, false, :t, :t, "
                        "'dialer')"
                    ),
                    {"p": json.dumps({"firstname": "Kimberly"}), "t": AT},
                )
                connection.execute(
                    sa.text(
                        "INSERT INTO record_identities (integration, type, external_id, "
                        "record_id) VALUES ('dialer', 'contact', 'p-1', 1)"
                    )
                )
            _migrate(engine, "0031")
            with engine.connect() as connection:
                row = connection.execute(
                    sa.text("SELECT property_times, primary_company_at FROM records")
                ).one()
            assert tuple(row) == (None, None)
        finally:
            engine.dispose()
        ws = Workspace(url)
        try:
            ws.apply_config(workspace_config())
            # Older than the record's last update, but nothing says when Kimberly was given.
            ws.ingest("dialer", [_event(1, "2026-11-01T09:00:00Z", firstname="Kim")])
            assert ws.record("contact", 1)["properties"]["firstname"] == "Kim"
            # From then on, the vendor's clock: an older event changes nothing.
            ws.ingest("dialer", [_event(2, "2026-10-30T09:00:00Z", firstname="K.")])
            assert ws.record("contact", 1)["properties"]["firstname"] == "Kim"
        finally:
            ws.close()
        engine = create_db_engine(url)
        try:
            _migrate(engine, "0030", down=True)
            with engine.connect() as connection:
                columns = {c["name"] for c in sa.inspect(connection).get_columns("records")}
            assert not {"property_times", "primary_company_at"} & columns
        finally:
            engine.dispose()

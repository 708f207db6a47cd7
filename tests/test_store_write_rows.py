"""The batched writes every engine table goes through (store.database.insert_rows and
update_rows): the same rows end the same on SQLite (executemany) and PostgreSQL (one
statement over arrays), in the rows' order, repeated keys included."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from leadsync.store.database import create_db_engine, insert_rows, update_rows
from leadsync.store.schema import activities, counters, external_users, record_phones

_UPSERT_USERS = (
    "ON CONFLICT (integration, external_id) DO UPDATE SET "
    "email = COALESCE(excluded.email, external_users.email), "
    "events = external_users.events + excluded.events"
)
_USER_COLUMNS = ("integration", "external_id", "email", "first_seen_at", "last_seen_at", "events")
_AT = "2026-12-03T10:00:00.000Z"


def test_an_upsert_that_repeats_a_key_adds_up_in_order(db_url: str) -> None:
    engine = create_db_engine(db_url)
    with engine.begin() as connection:
        insert_rows(
            connection,
            external_users,
            _USER_COLUMNS,
            [
                ("dialer", "u-1", "a@x.test", _AT, _AT, 1),
                ("dialer", "u-2", None, _AT, _AT, 1),
                ("dialer", "u-1", "b@x.test", _AT, _AT, 2),  # the same key again
            ],
            _UPSERT_USERS,
            unique=("integration", "external_id"),
        )
        insert_rows(
            connection,
            external_users,
            _USER_COLUMNS,
            [("dialer", "u-2", "c@x.test", _AT, _AT, 5)],
            _UPSERT_USERS,
            unique=("integration", "external_id"),
        )
        query = sa.select(
            external_users.c.external_id, external_users.c.email, external_users.c.events
        )
        got = sorted(tuple(r) for r in connection.execute(query))
    engine.dispose()
    assert got == [("u-1", "b@x.test", 3), ("u-2", "c@x.test", 6)]


def test_updates_set_each_key_and_the_last_of_a_repeated_one(db_url: str) -> None:
    engine = create_db_engine(db_url)
    with engine.begin() as connection:
        insert_rows(connection, counters, ("name", "value"), [("a", 1), ("b", 2), ("c", 3)])
        update_rows(connection, counters, ("value",), "name", [(10, "a"), (20, "b")])
        update_rows(connection, counters, ("value",), "name", [(7, "c"), (8, "c")])
        got = dict(connection.execute(sa.select(counters.c.name, counters.c.value)).all())
    engine.dispose()
    assert got == {"a": 10, "b": 20, "c": 8}


def test_typed_columns_and_nulls_keep_their_values(db_url: str) -> None:
    engine = create_db_engine(db_url)
    columns = ("id", "type", "integration", "event_id", "occurred_at", "duration_s", "properties")
    rows = [
        (1, "call", "dialer", "e1", _AT, 30, '{"a": 1}'),  # a whole number in a float column
        (2, "call", "dialer", "e2", _AT, 12.5, "{}"),
        (3, "note", "dialer", "e3", _AT, None, '{"b": [1, 2]}'),
    ]
    with engine.begin() as connection:
        insert_rows(connection, activities, columns, rows)
        insert_rows(
            connection,
            record_phones,
            ("record_id", "property", "record_type", "number", "valid"),
            [(1, "phone", "contact", "+442079460000", True), (1, "mobile", "contact", "x", False)],
        )
        query = sa.select(activities.c.id, activities.c.duration_s, activities.c.properties)
        got = [tuple(r) for r in connection.execute(query.order_by(activities.c.id))]
        valid = dict(
            connection.execute(sa.select(record_phones.c.property, record_phones.c.valid)).all()
        )
    engine.dispose()
    assert got == [(1, 30.0, {"a": 1}), (2, 12.5, {}), (3, None, {"b": [1, 2]})]
    assert valid == {"phone": True, "mobile": False}


def test_text_too_long_for_its_column_is_refused_not_cut_on_postgresql(postgres_url: str) -> None:
    engine = create_db_engine(postgres_url)
    try:
        with pytest.raises(sa.exc.DataError, match="too long"), engine.begin() as connection:
            insert_rows(connection, counters, ("name", "value"), [("n" * 201, 1), ("ok", 2)])
        with engine.begin() as connection:
            names = set(connection.execute(sa.select(counters.c.name)).scalars())
        assert "ok" not in names  # the statement's good row went back with it: nothing half done
    finally:
        engine.dispose()

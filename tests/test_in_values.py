"""``in_values``: ``column IN values`` as one bound parameter (an array's text form cast by
PostgreSQL, a JSON array on SQLite) finds exactly the rows whose value is among the values —
texts with quotes, backslashes, commas, braces, spaces, the word NULL, the empty text,
any Unicode; integers near the 64-bit limits — on both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.store.database import create_db_engine, in_values

_TABLE = sa.Table(
    "in_values_probe",
    sa.MetaData(),
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(60)),
    sa.Column("body", sa.Text),
)
_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)
_TRICKY = ['"', "\\", '\\"', "a,b", "{x}", " padded ", "NULL", "null", "", "é ü 中", "'"]
_INT = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(db_url)
    _TABLE.drop(engine, checkfirst=True)
    _TABLE.create(engine)
    yield engine
    _TABLE.drop(engine)
    engine.dispose()


def _found(engine: sa.Engine, column: sa.Column[object], values: set[object]) -> set[object]:
    with engine.connect() as connection:
        query = sa.select(_TABLE.c.id).where(in_values(column, values, engine.dialect.name))
        return set(connection.execute(query).scalars())


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    stored=st.lists(st.one_of(st.sampled_from(_TRICKY), _TEXT), max_size=15, unique=True),
    asked=st.lists(st.one_of(st.sampled_from(_TRICKY), _TEXT), max_size=10),
    ids=st.lists(_INT, min_size=15, max_size=15, unique=True),
    asked_ids=st.lists(_INT, max_size=10),
)
def test_in_values_finds_exactly_the_rows_among_the_values(
    engine: sa.Engine, stored: list[str], asked: list[str], ids: list[int], asked_ids: list[int]
) -> None:
    rows = [
        {"id": i, "name": text[:60], "body": text} for i, text in zip(ids, stored, strict=False)
    ]
    with engine.begin() as connection:
        connection.execute(sa.delete(_TABLE))
        if rows:
            connection.execute(sa.insert(_TABLE), rows)
    picked = set(asked) | set(stored[::2])
    assert _found(engine, _TABLE.c.body, picked) == {r["id"] for r in rows if r["body"] in picked}
    assert _found(engine, _TABLE.c.name, picked) == {r["id"] for r in rows if r["name"] in picked}
    numbers = set(asked_ids) | {r["id"] for r in rows[1::2]}
    assert _found(engine, _TABLE.c.id, numbers) == {r["id"] for r in rows if r["id"] in numbers}
    assert _found(engine, _TABLE.c.id, set()) == set()


def test_postgresql_reads_the_array_once_per_statement(engine: sa.Engine) -> None:
    # A constant array in the plan: cast from a typed text it would be read row by row
    # (``('{...}'::cstring)::bigint[]``), a seq scan hundreds of times slower.
    if engine.dialect.name != "postgresql":
        return
    for column, values in ((_TABLE.c.id, {1, 2, 3}), (_TABLE.c.name, {"a", "b"})):
        query = sa.select(_TABLE.c.id).where(in_values(column, values, "postgresql"))
        compiled = query.compile(engine)
        with engine.connect() as connection:
            plan = "\n".join(
                connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars()
            )
        assert "= ANY ('{" in plan and "cstring" not in plan, plan

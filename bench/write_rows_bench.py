"""The engine's batched writes on PostgreSQL: client and server CPU per row.

One batch of ``--rows`` rows of the ``activities`` table (sixteen columns: ids, text, a float,
JSON properties, nulls) is inserted ``--repeats`` times into a scratch database
(``leadsync_bench_rows_<pid>``), each time in its own transaction, then truncated. Four ways:

- ``insert_rows``: the product's path (``store.database.insert_rows``, through SQLAlchemy's
  ``exec_driver_sql``): one ``INSERT ... SELECT ... FROM jsonb_array_elements(%s)``;
- ``bare executemany``: psycopg's pipelined ``executemany`` on the bare driver (what the
  product ran before: a Bind and an Execute per row);
- ``bare unnest``: one ``INSERT ... SELECT FROM unnest(%s::type[], ...)``, an array per
  column, on the bare driver (tried and dropped: psycopg escapes text arrays value by value);
- ``bare COPY``: ``COPY ... FROM STDIN`` with psycopg's ``write_row`` — the ceiling for
  loading rows (it cannot do ``ON CONFLICT`` nor return to a statement, so not a
  replacement, only the bound).

Client CPU is this process's (``time.process_time``, the rows' construction excluded: they
are built before the clock starts); server CPU is the backend's ``/proc/<pid>/stat``; wall
beside. The machine is shared: compare the columns of one run, not runs.

    .venv/bin/python bench/write_rows_bench.py
    .venv/bin/python bench/write_rows_bench.py --rows 2000 --repeats 20
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import sqlalchemy as sa

from leadsync.store.database import create_db_engine, insert_rows, json_text, migrate
from leadsync.store.schema import activities
from procfs import cpu_seconds
from scratch import Scratch

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
COLUMNS = tuple(c.name for c in activities.c if c.name != "properties") + ("properties",)


def batch(first_id: int, n: int) -> list[tuple[Any, ...]]:
    """``n`` activity rows as the engine hands them to the store (JSON as text)."""
    rows = []
    for i in range(n):
        values: dict[str, Any] = {c: None for c in COLUMNS}
        values.update(
            id=first_id + i,
            type="call",
            integration="dialer",
            external_id=f"call-{first_id + i}",
            event_id=f"evt-{first_id + i}",
            owner_id="101",
            occurred_at="2026-12-03T10:00:00.000Z",
            direction="outbound",
            duration_s=float(i % 300),
            outcome="connected",
            subject='Call with "Ada", re: {pricing}, \\ plan',
            body="Line one\nline two, with commas, and ünïcode",
            properties=json_text({"aircall_tags": ["a", "b"], "n": i}),
        )
        rows.append(tuple(values[c] for c in COLUMNS))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    with Scratch(args.postgres) as scratch:
        url = sa.engine.make_url(scratch.url(scratch.create(f"leadsync_bench_rows_{os.getpid()}")))
        engine = create_db_engine(url.render_as_string(hide_password=False))
        try:
            migrate(engine)
            conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(conninfo) as bare:
                report(engine, bare, args.rows, args.repeats)
        finally:
            engine.dispose()
    return 0


def report(engine: sa.Engine, bare: psycopg.Connection[Any], n: int, repeats: int) -> None:
    names = ", ".join(COLUMNS)
    marks = ", ".join(["%s"] * len(COLUMNS))
    casts = ", ".join(
        f"%s::{activities.c[c].type.compile(dialect=engine.dialect)}[]" for c in COLUMNS
    )

    def bare_executemany(rows: Sequence[tuple[Any, ...]]) -> None:
        with bare.cursor() as cursor:
            cursor.executemany(f"INSERT INTO activities ({names}) VALUES ({marks})", rows)

    def bare_unnest(rows: Sequence[tuple[Any, ...]]) -> None:
        with bare.cursor() as cursor:
            columns = [list(c) for c in zip(*rows, strict=True)]
            cursor.execute(
                f"INSERT INTO activities ({names}) SELECT * FROM unnest({casts})", columns
            )

    def bare_copy(rows: Sequence[tuple[Any, ...]]) -> None:
        with bare.cursor() as cursor, cursor.copy(f"COPY activities ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    with engine.connect() as product:
        product_pid = int(product.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        product.commit()

        def product_insert(rows: Sequence[tuple[Any, ...]]) -> None:
            insert_rows(product, activities, COLUMNS, rows)

        ways: list[tuple[str, Callable[[Sequence[tuple[Any, ...]]], None], Any, int]] = [
            ("insert_rows (product)", product_insert, product, product_pid),
            ("bare executemany", bare_executemany, bare, bare.info.backend_pid),
            ("bare unnest", bare_unnest, bare, bare.info.backend_pid),
            ("bare COPY (ceiling)", bare_copy, bare, bare.info.backend_pid),
        ]
        print(f"{n} rows of {len(COLUMNS)} columns, {repeats} batches each, PostgreSQL")
        print(f"{'way':24s} {'client us/row':>14s} {'server us/row':>14s} {'wall us/row':>12s}")
        for label, write, connection, pid in ways:
            client = server = wall = 0.0
            for r in range(repeats):
                rows = batch(r * n + 1, n)
                c0, s0, w0 = time.process_time(), cpu_seconds(pid), time.perf_counter()
                write(rows)
                connection.commit()
                client += time.process_time() - c0
                wall += time.perf_counter() - w0
                server += cpu_seconds(pid) - s0
                with bare.cursor() as cursor:
                    cursor.execute("TRUNCATE activities")
                bare.commit()
            per = 1e6 / (n * repeats)
            print(f"{label:24s} {client * per:14.1f} {server * per:14.1f} {wall * per:12.1f}")


if __name__ == "__main__":
    raise SystemExit(main())

"""The router's SQL on PostgreSQL: which inbox rows it may take — never a row behind a
transaction of this database still running (it could commit a row that belongs before), and
never held back by a transaction in another database (it cannot write this inbox) — and who
routes: the worker elected to route next, when one is."""

from __future__ import annotations

import json
import os

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from leadsync.pipeline.drain import drain
from leadsync.store import routing
from leadsync.store.database import MIGRATIONS, create_db_engine, resolve_url
from leadsync.store.inbox import PENDING, InboxRow, append
from leadsync.store.schema import inbox
from leadsync.workspace import Workspace
from leadsync.workspace_config import load_rules
from tests.conftest import PG_ENV, scratch_postgres, truncate_database
from tests.test_parallel_workers import _config


def _row(event_id: str) -> InboxRow:
    at = "2026-12-03T10:00:00.000Z"
    return InboxRow("dialer", event_id, at, at, "{}", PENDING, "test", None)


def _routable_ids(engine: sa.Engine) -> list[str]:
    with engine.begin() as connection:
        seqs = [row["seq"] for row in routing.routable(connection, 100)]
        query = sa.text("SELECT event_id FROM inbox WHERE seq = ANY(:s) ORDER BY txid, seq")
        return list(connection.execute(query, {"s": seqs}).scalars())


def test_a_running_writer_here_holds_later_rows_back_until_it_is_over(
    postgres_url: str,
) -> None:
    truncate_database(postgres_url)  # the session's database: other tests' rows out
    engine = create_db_engine(postgres_url)
    try:
        with engine.begin() as connection:
            append(connection, [_row("before")])
        with engine.connect() as slow:
            slow_tx = slow.begin()
            append(slow, [_row("slow")])  # written, not committed: it has the smaller txid
            with engine.begin() as connection:
                append(connection, [_row("after")])
            assert _routable_ids(engine) == ["before"]
            slow_tx.commit()
        assert _routable_ids(engine) == ["before", "slow", "after"]
    finally:
        truncate_database(postgres_url)
        engine.dispose()


def test_a_transaction_in_another_database_holds_nothing_back(postgres_url: str) -> None:
    truncate_database(postgres_url)
    engine = create_db_engine(postgres_url)
    # The admin database (another database on the same server) with a transaction that has
    # an id and stays open: it is older than every row written below.
    elsewhere = sa.create_engine(resolve_url(os.environ[PG_ENV]))
    try:
        with elsewhere.connect() as other:
            other.exec_driver_sql("SELECT pg_current_xact_id()")
            with engine.begin() as connection:
                append(connection, [_row("one"), _row("two")])
            with engine.connect() as connection:
                older = connection.exec_driver_sql(
                    "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
                ).scalar_one()
                txid = connection.exec_driver_sql("SELECT max(txid) FROM inbox").scalar_one()
            assert older <= txid  # the server-wide horizon would hold the rows back
            assert _routable_ids(engine) == ["one", "two"]
            other.rollback()
    finally:
        truncate_database(postgres_url)
        elsewhere.dispose()
        engine.dispose()


def test_a_worker_elected_to_route_next_is_the_only_one_that_routes(postgres_url: str) -> None:
    engine = create_db_engine(postgres_url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as elected:
            assert routing.try_elect(elected)
            with engine.connect() as other:
                assert not routing.try_elect(other)  # one at a time
            with engine.begin() as connection:
                assert not routing.try_lock_router(connection)  # the others leave it
            with engine.begin() as connection:
                assert routing.try_lock_router(connection, elected=True)
            routing.resign(elected)
            routing.resign(elected)  # not elected any more: nothing to release, no error
            with engine.begin() as connection:
                assert routing.try_lock_router(connection)
    finally:
        engine.dispose()


def test_a_part_lists_its_rows_and_gives_them_back_when_closed(postgres_url: str) -> None:
    truncate_database(postgres_url)
    engine = create_db_engine(postgres_url)
    try:
        with engine.begin() as connection:
            seqs = [int(s) for s in append(connection, [_row(f"e{i}") for i in range(7)]) if s]
        first, second = seqs[:5], seqs[5:]
        with engine.begin() as connection:
            routing.create_parts(
                connection,
                [(first, [100 + i for i in range(5)], [None, 7, None, 8, 9])],
                "2026-12-04T00:00:00.000Z",
            )
            part_id = routing.open_parts(connection)[0]
        with engine.begin() as connection:
            # Rows of an open part are not routable; the others are, in commit order.
            assert [r["seq"] for r in routing.routable(connection, 100)] == second
            assert routing.unrouted_waiting(connection)
            part = routing.open_part(connection, part_id)
            assert part is not None and part.seqs == first
            # Five rows at two a batch: three, then two (no batch of one).
            rows, end = routing.part_rows(connection, part, 2)
            assert [(r["seq"], r["record_ids_from"], r["activity_ids_from"]) for r in rows] == [
                (first[0], 100, None),
                (first[1], 101, 7),
                (first[2], 102, None),
            ]
            assert end == 3
            routing.mark_applied(connection, [first[0], first[1], first[3]])
        with engine.begin() as connection:
            # Taken over from the start: applied stretches and rows are passed over.
            taken = routing.open_part(connection, part_id)
            assert taken is not None and taken.at == 0
            rows, end = routing.part_rows(connection, taken, 2)
            assert [r["seq"] for r in rows] == [first[2]] and end == 3
            assert not routing.finish(connection, part_id)  # rows of it still pending
            # Closed (exclusive work took the rows back): its pending rows are routable again,
            # in their order, and the worker holding it takes no more of them.
            routing.reroute_open(connection)
            assert routing.open_part(connection, part_id) is None
            assert routing.part_rows(connection, taken, 2) == ([], 0)
            assert [r["seq"] for r in routing.routable(connection, 100)] == [
                first[2],
                first[4],
                *second,
            ]
        with engine.begin() as connection:
            routing.mark_applied(connection, seqs)
            assert routing.finish(connection, part_id)
            assert not routing.unrouted_waiting(connection)
    finally:
        truncate_database(postgres_url)
        engine.dispose()


def test_migration_0014_closes_open_parts_and_their_pending_rows_are_routed_again() -> None:
    with scratch_postgres("leadsync_part_lists") as url:
        engine = create_db_engine(url)
        try:
            with engine.begin() as connection:
                command.downgrade(_migrations(connection), "0013")
            with engine.begin() as connection:  # routed by an older version: ids in the rows
                part = connection.exec_driver_sql(
                    "INSERT INTO route_parts (created_at, events, done) "
                    "VALUES ('2026-12-04T00:00:00.000Z', 3, false) RETURNING id"
                ).scalar_one()
                for event_id, status in (("a", "pending"), ("b", "applied"), ("c", "pending")):
                    connection.exec_driver_sql(
                        "INSERT INTO inbox (integration, event_id, received_at, occurred_at, "
                        "payload, status, part, record_ids_from) VALUES ('dialer', %(e)s, "
                        "'2026-12-04T00:00:00.000Z', '2026-12-04T00:00:00.000Z', '{}', "
                        "%(s)s, %(p)s, 7)",
                        {"e": event_id, "s": status, "p": part},
                    )
            with engine.begin() as connection:
                command.upgrade(_migrations(connection), "head")
            with engine.begin() as connection:
                assert routing.open_parts(connection) == []
                pending = [r["event_id"] for r in routing.routable(connection, 10)]
                assert pending == ["a", "c"]  # the router takes them again, in their order
            with engine.begin() as connection:  # and back: the older columns return, empty
                command.downgrade(_migrations(connection), "0013")
                rows = connection.exec_driver_sql("SELECT part FROM inbox").scalars().all()
                assert rows == [None, None, None]
        finally:
            engine.dispose()


def _migrations(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _grown(engine: sa.Engine, rows: int, start: int) -> list[str]:
    with engine.begin() as connection:
        append(connection, [_row(f"e{start + i}") for i in range(rows)])
        connection.exec_driver_sql("SELECT pg_stat_force_next_flush()")  # counted at once
    with engine.begin() as connection:
        return routing.analyze_grown(connection)


def _estimated(engine: sa.Engine, table: str) -> float:
    with engine.connect() as connection:
        sql = "SELECT reltuples FROM pg_class WHERE relname = %(t)s"
        return float(connection.exec_driver_sql(sql, {"t": table}).scalar_one())


def test_a_table_grown_far_past_its_statistics_is_analyzed_by_one_worker_at_a_time() -> None:
    with scratch_postgres("leadsync_statistics") as url:
        engine = create_db_engine(url)
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")  # every table: empty, as a new workspace
            assert _estimated(engine, "inbox") == 0
            least = routing.STATISTICS_LEAST
            assert _grown(engine, least, 0) == []  # not past the least change
            assert _grown(engine, 100, least) == ["inbox"]
            assert _estimated(engine, "inbox") == least + 100
            # Now it holds 1,100 rows by its statistics: 3 x 1,100 + 1,000 changes more.
            assert _grown(engine, 4000, 2000) == []
            with engine.connect() as other:  # another worker is analyzing
                other.exec_driver_sql(
                    f"SELECT pg_advisory_lock({routing._NAMESPACE}, {routing._STATISTICS})"
                )
                assert _grown(engine, 400, 6000) == []
                other.exec_driver_sql(
                    f"SELECT pg_advisory_unlock({routing._NAMESPACE}, {routing._STATISTICS})"
                )
            with engine.begin() as connection:
                assert routing.analyze_grown(connection) == ["inbox"]
            assert _estimated(engine, "inbox") == least + 100 + 4400
        finally:
            engine.dispose()


def test_a_drain_keeps_the_statistics_of_the_tables_it_grows() -> None:
    """The router takes the statistics of tables grown past them once it has routed a
    window: a workspace analyzed empty (as a new one is) ends its drain with statistics that
    know its rows, not an empty table's (whose plans walk a whole range per batch)."""
    with scratch_postgres("leadsync_drain_statistics") as url:
        ws = Workspace(url)
        try:
            ws.apply_config(_config())
            with ws.engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")  # every table analyzed empty
                connection.execute(sa.insert(inbox), [_contact(n) for n in range(1, 1501)])
                connection.exec_driver_sql("SELECT pg_stat_force_next_flush()")
            drain(ws.engine, load_rules(ws.engine), batch_size=100, parts=4)
            assert _estimated(ws.engine, "inbox") == 1500  # analyzed at the first window
        finally:
            ws.close()


def _contact(seq: int) -> dict[str, object]:
    event = {
        "id": f"e{seq}",
        "occurred_at": "2026-12-05T10:00:00Z",
        "type": "record",
        "object": "contact",
        "external_id": f"c-{seq}",
        "properties": {"email": f"p{seq}@example.test"},
    }
    at = "2026-12-05T10:00:00.000Z"
    return {
        "seq": seq,
        "integration": "crm",
        "event_id": event["id"],
        "received_at": at,
        "occurred_at": at,
        "payload": json.dumps(event),
        "status": PENDING,
        "source": "test",
    }


@pytest.mark.parametrize("limit", [1, 2, 7, 2000])
@pytest.mark.parametrize("rows", [1, 2, 3, 5, 160, 2999, 3001, 4160, 8000, 10_001])
def test_a_part_is_cut_into_equal_batches_within_half_a_batch_of_the_size(
    rows: int, limit: int
) -> None:
    """No tail batch of a few rows with a whole batch's fixed cost; none over 1.5 × limit."""
    sizes = []
    left = rows
    while left:
        size = routing._stretch(left, limit)
        assert 0 < size <= left and size <= max(limit * 1.5, 1)
        sizes.append(size)
        left -= size
    assert max(sizes) - min(sizes) <= 1
    assert len(sizes) <= -(-rows // limit)  # never more batches than a plain cut


def test_a_worker_takes_the_largest_ready_part_and_the_router_the_smallest(
    postgres_url: str,
) -> None:
    """The router cut its own part lighter (it has the next window to route): it takes the
    smallest part ready, every other worker the largest; parts of one size, the oldest."""
    truncate_database(postgres_url)
    engine = create_db_engine(postgres_url)
    try:
        with engine.begin() as connection:
            seqs = [int(s) for s in append(connection, [_row(f"e{i}") for i in range(9)]) if s]
            sizes = [2, 4, 1, 2]
            at = 0
            cut = []
            for size in sizes:
                cut.append((seqs[at : at + size], [None] * size, [None] * size))
                at += size
            routing.create_parts(connection, cut, "2026-12-04T00:00:00.000Z")
            ids = routing.open_parts(connection)
            assert routing.ready_parts(connection) == [ids[1], ids[0], ids[3], ids[2]]
            assert routing.ready_parts(connection, smallest=True) == [
                ids[2],
                ids[0],
                ids[3],
                ids[1],
            ]
    finally:
        truncate_database(postgres_url)
        engine.dispose()

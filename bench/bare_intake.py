"""The bare baseline for webhook intake: a Starlette app that stores each webhook body
durably with group commit, and does nothing else.

``bench/intake_bench.py`` runs it beside ``leadsync serve`` in the same run, under the same
uvicorn (httptools, uvloop, access log off) and on the same core, and compares the server CPU
each spends per durable request. It is what intake cannot be cheaper than: one Starlette
route reads the body, reads the event id out of it (``orjson.loads``, the fastest JSON
reader, as the product's: the dedupe key the inbox needs), and hands (integration, event id,
body) to one writer thread that commits every waiting request's row in one transaction —
one ``executemany`` of ``INSERT … ON CONFLICT DO NOTHING`` into a leadsync workspace's own ``inbox`` table (the same row, the same indexes)
through the bare driver (``sqlite3`` with WAL and ``synchronous=FULL``, or psycopg with
PostgreSQL's default ``synchronous_commit=on``) — then settles the waiting requests' futures
with one event-loop wake-up. No signature, no vendor parsing, no dead letters.

Usage (the database holds a workspace: ``leadsync init``)::

    python bench/bare_intake.py --db sqlite:////tmp/bare.db --port 8123
    python bench/bare_intake.py --db postgresql://postgres@127.0.0.1:5432/bare --port 8123
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Job = tuple[str, str, str, asyncio.AbstractEventLoop, "asyncio.Future[bool]"]


class BareWriter:
    """One thread; every request waiting while the last commit ran goes into the next one."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.queue: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self.sqlite = url.startswith("sqlite")
        mark = "?" if self.sqlite else "%s"
        # The workspace's own inbox table (same indexes); its sequence number is SQLite's
        # rowid, or PostgreSQL's column default (as the transaction id is).
        columns = "integration, event_id, received_at, occurred_at, payload, status, source"
        self.sql = (
            f"INSERT INTO inbox ({columns}) VALUES ({', '.join([mark] * 7)}) "
            "ON CONFLICT (integration, event_id) DO NOTHING"
        )
        self.commits = 0
        threading.Thread(target=self._run, name="bare-writer", daemon=True).start()

    def _connect(self) -> Any:
        if self.sqlite:
            connection = sqlite3.connect(
                self.url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
            )
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000"):
                connection.execute(f"PRAGMA {pragma}")
            return connection
        import psycopg

        return psycopg.connect(self.url)

    def _run(self) -> None:
        connection = self._connect()
        while True:
            jobs = [self.queue.get()]
            while len(jobs) < 1000:
                try:
                    jobs.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            at = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
            rows = [
                (integration, key, at, at, body, "pending", "webhook")
                for integration, key, body, _, _ in jobs
            ]
            outcome: bool | BaseException = True
            try:
                self._write(connection, rows)
            except Exception as exc:  # the database is away: every request gets a 503
                outcome = exc
            self.commits += 1
            by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[bool]]] = {}
            for *_, loop, future in jobs:
                by_loop.setdefault(loop, []).append(future)
            for loop, futures in by_loop.items():
                loop.call_soon_threadsafe(_settle, futures, outcome)

    def _write(self, connection: Any, rows: Sequence[tuple[str, ...]]) -> None:
        if self.sqlite:
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(self.sql, rows)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        else:
            with connection.cursor() as cursor:
                cursor.executemany(self.sql, rows)
            connection.commit()


def _settle(futures: list[asyncio.Future[bool]], outcome: bool | BaseException) -> None:
    for future in futures:
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def create_app(url: str) -> Starlette:
    writer = BareWriter(url)

    async def webhook(request: Request) -> Response:
        integration = request.path_params["integration"]
        body = await request.body()
        try:
            key = str(orjson.loads(body)["data"]["id"])
        except (ValueError, KeyError, TypeError):
            return Response(b'{"error":"malformed"}', 400, media_type="application/json")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        writer.queue.put((integration, key, body.decode(), loop, future))
        try:
            await future
        except Exception:
            return Response(b'{"error":"unavailable"}', 503, media_type="application/json")
        return Response(b'{"accepted":1}', 200, media_type="application/json")

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(
        routes=[
            Route("/webhooks/{integration}", webhook, methods=["POST"]),
            Route("/healthz", healthz),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="sqlite:///PATH or postgresql://…")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    url = args.db.replace("postgresql+psycopg://", "postgresql://", 1)
    uvicorn.run(
        create_app(url), host="127.0.0.1", port=args.port, log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main()

"""The pusher: drains the push queue into HubSpot, a slice per cycle
(:class:`leadsync.destinations.hubspot.cycle.Cycle`), holding the workspace's push lease.

Exactly-once effect (the reasoning is in docs/HUBSPOT.md):
- creates carry the object's unique ``leadsync_id``; the intent to create is committed
  (``create_sent_at``) before the request leaves; a pusher that finds the intent without a
  HubSpot id reads HubSpot by ``leadsync_id`` first and creates only what is not there.
  Associations go with the create, so an object exists with its links or not at all;
- updates set values (sending one twice changes nothing); associations are a set in HubSpot
  (creating one twice changes nothing);
- an owner write is an intent too (``owner_sent_id``), so an unconfirmed write of ours is
  never taken for a person's change;
- the queue rows of a slice are deleted only after their objects' results are recorded;
- one pusher per workspace at a time (the lease), so two processes never create one object.

The owner is written compare-and-set under fill_if_empty, never_overwrite and bidirectional:
HubSpot's current owners are read first (one batch read per 100); where HubSpot's owner is
not the one leadsync last wrote, a person changed it there, and the engine's own rule
(``rules.ownership.decide_against_crm``) decides again, recorded as a decision.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Connection, Engine

from leadsync.destinations.hubspot.client import HubSpotClient, LeaseLost
from leadsync.destinations.hubspot.cycle import Cycle, PushResult, leadsync_id
from leadsync.destinations.hubspot.objects import Paths
from leadsync.destinations.hubspot.options import PortalOptions
from leadsync.engine import WorkspaceRules
from leadsync.errors import WorkspaceError
from leadsync.model import now_ts
from leadsync.observability import process_name
from leadsync.store import config as config_store
from leadsync.store import push as push_store
from leadsync.store import push_lease, push_waiting
from leadsync.store.database import begin_writing

LEASE = "hubspot"
LEASE_TTL_S = 60.0
PUSH_KEY_SETTING = "push_key"


def read_push_key(connection: Connection) -> str | None:
    """The workspace's prefix of ``leadsync_id`` values, or None before it is made."""
    key = config_store.read_setting(connection, PUSH_KEY_SETTING)
    return str(key) if key else None


def make_push_key(connection: Connection) -> str:
    """The workspace's prefix of ``leadsync_id`` values, made if missing (by ``hubspot setup``,
    else the first push) and kept in the workspace, so that two workspaces pushing into one
    portal never claim each other's objects. A dry run only reads it (:func:`read_push_key`):
    one it made would be gone with its rolled-back transaction, and the ids it showed with it
    would not be the ones the push sends."""
    key = read_push_key(connection)
    if key is None:
        key = secrets.token_hex(4)
        config_store.write_setting(connection, PUSH_KEY_SETTING, key)
    return key


def workspace_push_key(engine: Engine) -> str:
    """:func:`make_push_key` in a transaction of its own."""
    with begin_writing(engine) as connection:
        return make_push_key(connection)


def pusher_name(environ: dict[str, str] | None = None) -> str:
    """The push lease's holder: the process as every other surface names it (``/healthz``,
    logs, ``leadsync_process_info``: ``LEADSYNC_PROCESS_NAME``, else ``HOST:PID``), with its
    ``HOST:PID`` beside a name set by hand, then ``#`` and a token of its own (two pushers of
    one process, or two processes given one name, are two holders): ``worker-2 (vm:21413)
    #3f2a1c``. :func:`holder_label` is the part before the token."""
    here = f"{socket.gethostname()}:{os.getpid()}"
    name = process_name(environ)
    label = here if name == here else f"{name[:60]} ({here})"
    return f"{label[:119]} #{secrets.token_hex(3)}"  # the column holds 128


def holder_label(holder: str) -> str:
    """The process a lease holder names, without its token (an older holder as stored)."""
    label, sep, _token = holder.rpartition(" #")
    return label if sep else holder


def release_lease(engine: Engine, holder: str) -> None:
    """Give up the push lease ``holder`` holds (nothing when it holds none): at a clean stop,
    so that another process pushes at once rather than after the lease lapses."""
    with begin_writing(engine) as connection:
        push_lease.release_lease(connection, LEASE, holder, time.time())


class Pusher:
    """Drains the queue; ``run_once`` is one cycle, ``drain`` runs cycles until it is empty.

    Only the holder of the workspace's push lease pushes (see ``push_lease``), so two
    processes never send the same object; the others find ``busy`` and wait.

    A dry run sends nothing, writes nothing and takes no lease; given ``connection``, it reads
    the workspace through it, so that it sees what its caller wrote there and rolls back (a
    backfill's queue rows). It needs the workspace key (``hubspot setup`` makes it) to show
    the ``leadsync_id`` values the push will send.
    """

    def __init__(
        self,
        engine: Engine,
        client: HubSpotClient,
        rules: Callable[[], WorkspaceRules],
        *,
        version: str,
        holder: str | None = None,
        slice_size: int = 10_000,
        in_flight: int = 6,
        clock: Callable[[], float] = time.time,
        dry_run: bool = False,
        skip_types: Sequence[str] = (),
        connection: Connection | None = None,
        options: Callable[[], PortalOptions] = dict,
    ) -> None:
        self.engine = engine
        # The portal's dropdowns, read each cycle as `hubspot setup` last stored them.
        self.options = options
        self.connection = connection
        # Types the portal cannot take (leads without the leads object): dequeued unsent.
        self.skip_types = frozenset(skip_types)
        self.client = client
        self.rules = rules
        self.paths = Paths(version)
        self.holder = holder or pusher_name()
        self.slice_size = slice_size
        self.in_flight = in_flight
        self._pool: ThreadPoolExecutor | None = None
        self.clock = clock
        self.dry_run = dry_run
        self.key = self._dry_run_key() if dry_run else workspace_push_key(engine)
        self._lease_renewed_at = float("-inf")
        self._lease_lock = threading.Lock()
        self.sent: list[tuple[str, str, Any]] = []  # (method, path, body) in a dry run
        if not dry_run:
            # A request HubSpot keeps answering 5xx (or 429) waits a minute or more before
            # it is sent again: the lease is renewed meanwhile, or another pusher would
            # take it over and push the same changes beside this one.
            client.keep_alive = self.keep_lease

    def _dry_run_key(self) -> str:
        with self.reading() as connection:
            key = read_push_key(connection)
        if key is None:
            raise WorkspaceError(
                "a dry run shows the leadsync_id values the push will send, and they begin "
                "with the workspace key that `leadsync hubspot setup` makes; run it first "
                "(a dry run writes nothing, so it cannot make the key)"
            )
        return key

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """The dry run's connection (its caller's transaction), else a transaction of its
        own."""
        if self.connection is not None:
            yield self.connection
            return
        with begin_writing(self.engine) as connection:
            yield connection

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """The dry run's connection, else a read of its own: a slice's load takes no write
        lock (on SQLite the intake and the worker commit beside it)."""
        if self.connection is not None:
            yield self.connection
            return
        with self.engine.connect() as connection:
            yield connection

    # ---------------------------------------------------------------- the loop

    def drain(
        self, max_cycles: int | None = None, on_progress: Callable[[int], None] | None = None
    ) -> PushResult:
        """Cycles until the queue is empty (or ``max_cycles``); ``on_progress`` gets the
        number of changes each cycle pushed."""
        total = PushResult()
        started = now_ts()
        while max_cycles is None or total.cycles < max_cycles:
            result = self.run_once()
            total.add(result)
            if on_progress is not None and result.changes:
                on_progress(result.changes)
            if result.busy or result.changes == 0 or self.dry_run:
                break
        self.client.flush()
        if not self.dry_run and not total.busy:
            with self.engine.connect() as connection:
                waiting = push_waiting.unnamed(connection, limit=0)
                total.left_open = push_store.count_open_failures(connection, since=started)
            total.waiting_records, total.waiting_links = waiting.records, waiting.links
        return total

    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.in_flight, thread_name_prefix="leadsync-push")
        return self._pool

    def release(self) -> None:
        """Give up the lease (another process may push at once) and the sending threads."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        release_lease(self.engine, self.holder)

    def run_once(self) -> PushResult:
        result = PushResult(cycles=1)
        with self.transaction() as connection:
            if not self.dry_run and not push_lease.take_lease(
                connection, LEASE, self.holder, self.clock(), LEASE_TTL_S
            ):
                result.busy = True
                return result
            self._lease_renewed_at = self.clock()
            rows = push_store.queue_slice(connection, self.slice_size)
        if not rows:
            return result
        before = self.client.requests
        # A full slice means more changes wait behind it: partly filled batches wait too.
        hold = not self.dry_run and len(rows) >= self.slice_size
        cycle = Cycle(self, rows, result, hold_partial=hold)
        cycle.run()
        done = [r["id"] for r in rows if (r["kind"], int(r["local_id"])) not in cycle.held]
        result.changes = len(done)
        if not self.dry_run:
            with begin_writing(self.engine) as connection:
                push_store.dequeue(connection, done)
        result.requests = self.client.requests - before
        return result

    def renew_lease(self, connection: Connection) -> bool:
        """Renew the lease with a write the cycle makes anyway, a few times per TTL (not
        with every write: it is a statement of its own); False when another pusher holds
        it (this one's lapsed: the process was stopped or starved for a minute)."""
        now = self.clock()
        if self.dry_run or now - self._lease_renewed_at < LEASE_TTL_S / 4:
            return True
        with self._lease_lock:
            if not push_lease.take_lease(connection, LEASE, self.holder, now, LEASE_TTL_S):
                return False
            self._lease_renewed_at = now
        return True

    def keep_lease(self) -> None:
        """Between a request's attempts (the client's ``keep_alive``): renew the lease when
        it is due, in a transaction of its own; LeaseLost once another pusher holds it, so
        that nothing more is sent beside it."""
        if self.clock() - self._lease_renewed_at < LEASE_TTL_S / 4:
            return
        with begin_writing(self.engine) as connection:
            if not self.renew_lease(connection):
                raise LeaseLost(self.holder)


__all__ = [
    "Pusher",
    "PushResult",
    "leadsync_id",
    "make_push_key",
    "holder_label",
    "pusher_name",
    "read_push_key",
    "release_lease",
    "workspace_push_key",
]

"""What the console and the admin API of every ``serve`` process share through the workspace
database, so that behind a load balancer a request finds the same answer whichever process
it reaches: the sessions signed out (refused until they would have expired), the wrong
secrets each client address gave (the wait after too many), the forms kept through a
sign-in (:mod:`leadsync.web.drafts`), and the newest health snapshot with who takes the next
(:mod:`leadsync.ops.snapshot`). Times are the keys' clock (seconds since the epoch),
passed in by the caller. Rows past their time are deleted as new ones are written.

A kept form is stored under the SHA-256 of its id: the id is what the browser's cookie holds,
and the database never holds it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from leadsync.store.database import begin_writing, insert_ignore
from leadsync.store.schema import (
    console_drafts,
    console_failed_tries,
    console_sign_outs,
    health_snapshot,
)

_SNAPSHOT = "health"


def _key(draft_id: str) -> str:
    """What a kept form is stored under: the SHA-256 of the id its browser holds."""
    return hashlib.sha256(draft_id.encode("utf-8", "surrogatepass")).hexdigest()


class SharedConsole:
    """The shared state of the console's sessions, on one workspace database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ---------------------------------------------------------------- sign-outs

    def sign_out(self, sid: str, until: float, now: float) -> None:
        """``sid`` is refused everywhere until ``until``."""
        with begin_writing(self.engine) as connection:
            connection.execute(sa.delete(console_sign_outs).where(console_sign_outs.c.until <= now))
            connection.execute(sa.delete(console_sign_outs).where(console_sign_outs.c.sid == sid))
            connection.execute(sa.insert(console_sign_outs).values(sid=sid, until=until))

    def signed_out(self, sid: str, now: float) -> bool:
        with self.engine.connect() as connection:
            found = connection.execute(
                sa.select(console_sign_outs.c.until).where(
                    console_sign_outs.c.sid == sid, console_sign_outs.c.until > now
                )
            ).first()
        return found is not None

    # ------------------------------------------------------------ failed tries

    def failed(self, client: str, at: float, since: float) -> None:
        """A wrong secret from ``client`` at ``at``; tries older than ``since`` (of every
        address) are forgotten."""
        with begin_writing(self.engine) as connection:
            connection.execute(
                sa.delete(console_failed_tries).where(console_failed_tries.c.at <= since)
            )
            connection.execute(sa.insert(console_failed_tries).values(client=client, at=at))

    def failures(self, client: str, since: float) -> list[float]:
        """The times of ``client``'s wrong secrets after ``since``, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(console_failed_tries.c.at)
                .where(console_failed_tries.c.client == client, console_failed_tries.c.at > since)
                .order_by(console_failed_tries.c.at)
            )
            return [float(at) for (at,) in rows]

    # -------------------------------------------------------------- kept forms

    def keep_draft(self, draft_id: str, draft: Mapping[str, Any], now: float, most: int) -> None:
        """Keeps ``draft`` (the columns of :data:`console_drafts` but ``key`` and
        ``kept_at``) for ``draft_id``; expired ones go, and the oldest beyond ``most``."""
        with begin_writing(self.engine) as connection:
            connection.execute(sa.delete(console_drafts).where(console_drafts.c.expires <= now))
            keep = (
                sa.select(console_drafts.c.key)
                .order_by(console_drafts.c.kept_at.desc(), console_drafts.c.key)
                .limit(max(most - 1, 0))
            )
            connection.execute(
                sa.delete(console_drafts).where(console_drafts.c.key.not_in(keep.scalar_subquery()))
            )
            connection.execute(
                sa.insert(console_drafts).values(key=_key(draft_id), kept_at=now, **draft)
            )

    def draft(self, draft_id: str, now: float) -> dict[str, Any] | None:
        """The form kept for ``draft_id`` while it has not expired."""
        with self.engine.connect() as connection:
            row = (
                connection.execute(
                    sa.select(console_drafts).where(
                        console_drafts.c.key == _key(draft_id), console_drafts.c.expires > now
                    )
                )
                .mappings()
                .first()
            )
        return dict(row) if row is not None else None

    def hand_draft(self, draft_id: str, sid: str) -> bool:
        """The kept form is ``sid``'s from now on, if no session had it yet."""
        with begin_writing(self.engine) as connection:
            done = connection.execute(
                sa.update(console_drafts)
                .where(console_drafts.c.key == _key(draft_id), console_drafts.c.sid.is_(None))
                .values(sid=sid)
            )
        return bool(done.rowcount)

    def drop_draft(self, draft_id: str) -> bool:
        """Forgets the form kept for ``draft_id``; whether it was there (so that a form is
        shown once whichever processes ask for it at once)."""
        with begin_writing(self.engine) as connection:
            done = connection.execute(
                sa.delete(console_drafts).where(console_drafts.c.key == _key(draft_id))
            )
        return bool(done.rowcount)

    # ---------------------------------------------------------- health snapshot

    def snapshot_state(self) -> dict[str, Any] | None:
        """When the newest snapshot's taking began, when a refresh was last asked for, and
        who takes the next until when (no body)."""
        t = health_snapshot
        with self.engine.connect() as connection:
            row = (
                connection.execute(
                    sa.select(t.c.taken_from, t.c.asked_at, t.c.holder, t.c.until).where(
                        t.c.name == _SNAPSHOT
                    )
                )
                .mappings()
                .first()
            )
        return dict(row) if row is not None else None

    def snapshot_newer_than(self, taken_from: float | None) -> tuple[float, Any] | None:
        """The newest snapshot (when its taking began, its body) if it began after
        ``taken_from`` (any, for None)."""
        t = health_snapshot
        query = sa.select(t.c.taken_from, t.c.body).where(
            t.c.name == _SNAPSHOT, t.c.body.is_not(None), t.c.taken_from.is_not(None)
        )
        if taken_from is not None:
            query = query.where(t.c.taken_from > taken_from)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return (float(row[0]), row[1]) if row is not None else None

    def _row(self, connection: Any) -> None:
        connection.execute(insert_ignore(connection, health_snapshot), [{"name": _SNAPSHOT}])

    def ask_snapshot(self, now: float) -> None:
        """A refresh is asked for: a snapshot begun before ``now`` is not the one asked."""
        with begin_writing(self.engine) as connection:
            self._row(connection)
            connection.execute(
                sa.update(health_snapshot)
                .where(health_snapshot.c.name == _SNAPSHOT)
                .values(asked_at=now)
            )

    def claim_snapshot(self, holder: str, now: float, until: float) -> bool:
        """``holder`` takes the next snapshot, unless another holder's claim is current."""
        t = health_snapshot
        with begin_writing(self.engine) as connection:
            self._row(connection)
            done = connection.execute(
                sa.update(t)
                .where(
                    t.c.name == _SNAPSHOT,
                    sa.or_(t.c.holder.is_(None), t.c.holder == holder, t.c.until < now),
                )
                .values(holder=holder, until=until)
            )
        return bool(done.rowcount == 1)

    def store_snapshot(self, holder: str, body: Any, taken_from: float) -> None:
        """The snapshot ``holder`` began at ``taken_from`` is the newest, unless a later
        one is stored already; ``holder``'s claim ends."""
        t = health_snapshot
        with begin_writing(self.engine) as connection:
            self._row(connection)
            connection.execute(
                sa.update(t)
                .where(
                    t.c.name == _SNAPSHOT,
                    sa.or_(t.c.taken_from.is_(None), t.c.taken_from < taken_from),
                )
                .values(body=body, taken_from=taken_from, taken_by=holder)
            )
            self._release(connection, holder)

    def release_snapshot(self, holder: str) -> None:
        """``holder`` gives its claim up (its snapshot failed)."""
        with begin_writing(self.engine) as connection:
            self._release(connection, holder)

    def _release(self, connection: Any, holder: str) -> None:
        t = health_snapshot
        connection.execute(
            sa.update(t)
            .where(t.c.name == _SNAPSHOT, t.c.holder == holder)
            .values(holder=None, until=None)
        )

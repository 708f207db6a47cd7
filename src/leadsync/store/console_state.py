"""What the console and the admin API of every ``serve`` process share through the workspace
database, so that behind a load balancer a request finds the same answer whichever process
it reaches: the sessions signed out (refused until they would have expired), the wrong
secrets each client address gave (the wait after too many), and the forms kept through a
sign-in (:mod:`leadsync.web.drafts`). Times are the keys' clock (seconds since the epoch),
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

from leadsync.store.database import begin_writing
from leadsync.store.schema import console_drafts, console_failed_tries, console_sign_outs


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

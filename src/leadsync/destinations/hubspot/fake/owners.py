"""Owners: seeding them (as a HubSpot admin adds users) and the owners list endpoint."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Any

from leadsync.destinations.hubspot.fake.core import DoubleCore
from leadsync.destinations.hubspot.fake.state import Answer, StoredOwner, iso_time


class OwnersMixin(DoubleCore):
    """The owners a portal has."""

    def add_owner(
        self,
        email: str,
        first_name: str = "",
        last_name: str = "",
        *,
        archived: bool = False,
        teams: Iterable[str] = (),
        owner_id: str | None = None,
        user_id: int | None = None,
    ) -> dict[str, Any]:
        """Add an owner (an archived one is a deactivated user: ``userId`` null). ``teams``
        are team names, the first one primary. Returns the owner as the API shows it."""
        with self._lock:
            if owner_id is None:
                owner_id = str(self._next_owner_id)
                self._next_owner_id += 1
            elif owner_id in self._owners:
                raise ValueError(f"owner id {owner_id} exists already")
            if user_id is None:
                user_id = self._next_user_id
                self._next_user_id += 1
            now = iso_time(self._wall_clock())
            team_list = [
                {"id": str(zlib.crc32(name.encode()) % 10_000_000), "name": name, "primary": i == 0}
                for i, name in enumerate(teams)
            ]
            owner = StoredOwner(
                owner_id, email, first_name, last_name, user_id, archived, team_list, now, now
            )
            self._owners[owner_id] = owner
            return owner.as_json()

    def remove_owner(self, owner_id: str) -> None:
        """Take an owner out of the portal altogether (a user removed from the account, not
        deactivated): a write naming it is refused ``INVALID_OWNER_ID``. KeyError if
        unknown."""
        with self._lock:
            del self._owners[owner_id]

    def _list_owners(self, query: dict[str, list[str]]) -> Answer:
        limit = int(query.get("limit", ["100"])[0])
        archived = query.get("archived", ["false"])[0].lower() == "true"
        email = query.get("email", [None])[0]
        after = query.get("after", [None])[0]
        owners = sorted(
            (o for o in self._owners.values() if o.archived == archived),
            key=lambda o: int(o.id) if o.id.isdigit() else 0,
        )
        if email:
            owners = [o for o in owners if o.email.lower() == email.lower()]
        start = 0
        if after:
            if not after.isdigit():
                return self._error(400, "VALIDATION_ERROR", f"after {after!r} is not a cursor")
            start = int(after)
        page = owners[start : start + limit]
        body: dict[str, Any] = {"results": [o.as_json() for o in page]}
        if start + limit < len(owners):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return Answer(200, body)

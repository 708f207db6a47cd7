"""Reading and replacing the workspace's declared configuration: owners, teams, integrations.

The configuration file declares the whole workspace. Applying it replaces teams and
integrations; owners in the file are added or updated, owners no longer in it are archived
(HubSpot keeps deactivated owners too: records and history still name them).

Everything is kept in the order written, so that ``leadsync export`` gives the file back as
it was: owners and integrations by their ``position``, an integration's settings as the JSON
text written (its mappings' keys in order: a ``users.map``), and teams by the ``position`` of
their members, which counts on across the teams (a team's members are its round-robin order,
the teams follow one another; rows stored before that count from 0 in each team, and read in
the same order, teams of equal positions by name). What is only an order is written but not
reported as a change where the engine does not read it: the order of the teams and of the
integrations, and the keys of a mapping in an integration's settings. Such a write is named
in :attr:`ConfigChanges.reordered` instead (``apply`` says the new order is kept for export,
and records it). A team's members, the owners and the lists in an integration's settings are
reported when reordered; of a workspace setting, :func:`write_setting` says it was written,
the caller whether that is a change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.model import Owner
from leadsync.store.batch import ROUND_ROBIN_PREFIX
from leadsync.store.schema import (
    counters,
    integrations,
    owners,
    team_members,
    workspace_settings,
)


@dataclass
class ConfigChanges:
    """What applying a configuration changed; empty when it was already in force.

    ``reordered`` is apart: what was written though only its order changed, an order the
    engine does not read (``teams``, ``integrations``, a mapping's key path such as
    ``integrations.dialer.users.map``, ``free_mail``, ``dedupe``), so that the export keeps
    it. It is no change (:attr:`changed` leaves it out), but it was written (:attr:`written`).
    """

    owners_added: list[str] = field(default_factory=list)
    owners_updated: list[str] = field(default_factory=list)
    owners_archived: list[str] = field(default_factory=list)
    teams_added: list[str] = field(default_factory=list)
    teams_changed: list[str] = field(default_factory=list)  # members, or their order
    teams_removed: list[str] = field(default_factory=list)
    integrations_added: list[str] = field(default_factory=list)
    integrations_updated: list[str] = field(default_factory=list)
    integrations_removed: list[str] = field(default_factory=list)
    settings_changed: list[str] = field(default_factory=list)
    reordered: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything the engine reads changed."""
        return any(bool(v) for v in self.to_dict().values())

    @property
    def integrations(self) -> list[str]:
        """The integrations this changed: added, updated, removed, or only reordered within
        (``integrations.NAME.…``)."""
        named = self.integrations_added + self.integrations_updated + self.integrations_removed
        for path in self.reordered:
            head, _, rest = path.partition(".")
            if head == "integrations" and rest:
                named.append(rest.split(".", 1)[0])
        return sorted(set(named))

    @property
    def written(self) -> bool:
        """Whether anything was written: a change, or an order only the export keeps."""
        return self.changed or bool(self.reordered)

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "owners_added": self.owners_added,
            "owners_updated": self.owners_updated,
            "owners_archived": self.owners_archived,
            "teams_added": self.teams_added,
            "teams_changed": self.teams_changed,
            "teams_removed": self.teams_removed,
            "integrations_added": self.integrations_added,
            "integrations_updated": self.integrations_updated,
            "integrations_removed": self.integrations_removed,
            "settings_changed": self.settings_changed,
        }


def read_owners(connection: Connection, include_archived: bool = True) -> list[dict[str, Any]]:
    query = sa.select(owners).order_by(owners.c.archived, owners.c.position, owners.c.id)
    if not include_archived:
        query = query.where(owners.c.archived.is_(False))
    return [dict(r._mapping) for r in connection.execute(query)]


def read_teams(connection: Connection) -> dict[str, tuple[str, ...]]:
    """Each team's members in their round-robin order, the teams in the order written."""
    teams: dict[str, list[str]] = {}
    query = sa.select(team_members).order_by(team_members.c.position, team_members.c.team)
    for row in connection.execute(query):
        teams.setdefault(row.team, []).append(row.owner_id)
    return {name: tuple(members) for name, members in teams.items()}


def read_integrations(connection: Connection) -> list[tuple[str, str, dict[str, Any]]]:
    query = sa.select(integrations).order_by(integrations.c.position, integrations.c.name)
    return [(r.name, r.kind, dict(r.settings)) for r in connection.execute(query)]


def teams_by_owner(teams: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """Owner id -> the teams it belongs to, in team order."""
    member_of: dict[str, list[str]] = {}
    for team, members in teams.items():
        for owner_id in members:
            member_of.setdefault(owner_id, []).append(team)
    return member_of


def owners_by_id(connection: Connection) -> dict[str, Owner]:
    """Every owner, archived ones as inactive, with their teams."""
    member_of = teams_by_owner(read_teams(connection))
    return {
        row["id"]: Owner(
            id=row["id"],
            email=row["email"],
            first_name=row["first_name"],
            last_name=row["last_name"],
            active=bool(row["active"]) and not row["archived"],
            teams=tuple(member_of.get(row["id"], ())),
        )
        for row in read_owners(connection)
    }


def replace_owners(
    connection: Connection, owner_rows: list[dict[str, Any]], changes: ConfigChanges
) -> None:
    """Owners listed are added or updated; owners not listed are archived (never deleted)."""
    existing = {r["id"]: r for r in read_owners(connection)}
    declared = {r["id"] for r in owner_rows}
    # An owner moved when its place among the owners both lists hold changed: one removed or
    # added beside it shifts its position, which is no change of it (but is written).
    kept = [r["id"] for r in owner_rows if r["id"] in existing]
    before = sorted(kept, key=lambda owner_id: existing[owner_id]["position"])
    moved = {owner_id for owner_id, was in zip(kept, before, strict=True) if owner_id != was}
    added: list[dict[str, Any]] = []
    updated: list[dict[str, Any]] = []
    for position, row in enumerate(owner_rows):
        wanted = {**row, "archived": row.get("archived", False), "position": position}
        old = existing.get(row["id"])
        if old is None:
            added.append(wanted)
            changes.owners_added.append(row["id"])
        elif differs := {k for k, v in wanted.items() if old[k] != v}:
            updated.append(wanted)
            if row["id"] in moved or differs - {"position"}:
                changes.owners_updated.append(row["id"])
    archived = [i for i, old in existing.items() if i not in declared and not old["archived"]]
    changes.owners_archived.extend(archived)
    # A statement each, whatever the number of owners (a portal's thousands, pulled).
    if added:
        connection.execute(sa.insert(owners), [{c: r[c] for c in _OWNER_FIELDS} for r in added])
    if updated:
        columns: dict[str, Any] = {c: sa.bindparam(f"new_{c}") for c in _OWNER_FIELDS if c != "id"}
        statement = sa.update(owners).where(owners.c.id == sa.bindparam("new_id")).values(columns)
        connection.execute(statement, [{f"new_{c}": r[c] for c in _OWNER_FIELDS} for r in updated])
    if archived:
        connection.execute(sa.update(owners).where(owners.c.id.in_(archived)).values(archived=True))


_OWNER_FIELDS = tuple(owners.c.keys())


def replace_teams(
    connection: Connection,
    teams: dict[str, tuple[str, ...]],
    changes: ConfigChanges,
    only_named: bool = False,
) -> None:
    """Make the teams these, in this order; with ``only_named``, replace only the teams named
    and keep the others (where they were; a new one after them). A team whose members changed
    (or their order: whose turn is next) is reported; teams only reordered are written, not
    reported. A team of no members is kept by none of its rows: it is nothing to the engine
    (no round robin may name it), and applying it again is no change."""
    old_teams = read_teams(connection)
    wanted = {**old_teams, **teams} if only_named else dict(teams)
    wanted = {team: tuple(members) for team, members in wanted.items() if members}
    if list(old_teams.items()) == list(wanted.items()):
        return
    changes.teams_added = sorted(t for t in wanted if t not in old_teams)
    changes.teams_changed = sorted(t for t in wanted if old_teams.get(t, wanted[t]) != wanted[t])
    changes.teams_removed = sorted(t for t in old_teams if t not in wanted)
    if _moved([t for t in wanted if t in old_teams], list(old_teams)):
        changes.reordered.append("teams")
    _keep_whose_turn(connection, old_teams, wanted, changes.teams_changed)
    connection.execute(sa.delete(team_members))
    members = [(team, owner_id) for team, ids in wanted.items() for owner_id in ids]
    rows = [
        {"team": team, "owner_id": owner_id, "position": position}
        for position, (team, owner_id) in enumerate(members)
    ]
    if rows:
        connection.execute(sa.insert(team_members), rows)


def _keep_whose_turn(
    connection: Connection,
    old_teams: Mapping[str, tuple[str, ...]],
    new_teams: Mapping[str, tuple[str, ...]],
    changed: Sequence[str],
) -> None:
    """Each round robin over a team whose members changed goes on with the member whose
    turn was next (or, gone from the team, the first after them who stays), at that
    member's place in the new order: the position counted in the old order would pass a
    turn to another member (one fewer member: the next one got two in a row)."""
    if not changed:
        return
    rows = connection.execute(
        sa.select(counters.c.name, counters.c.value).where(
            counters.c.name.like(f"{ROUND_ROBIN_PREFIX}%")
        )
    ).all()
    for name, value in rows:
        team = str(name)[len(ROUND_ROBIN_PREFIX) :].partition(":")[2]
        if team not in changed:
            continue
        old, new = old_teams[team], new_teams[team]
        due = (old[(int(value) + step) % len(old)] for step in range(len(old)))
        position = next((new.index(m) for m in due if m in new), 0)
        connection.execute(
            sa.update(counters).where(counters.c.name == name).values(value=position)
        )


def _moved(kept: list[str], before: list[str]) -> bool:
    """Whether the names ``kept`` (those both orders hold, in the new order) are in another
    order than in ``before``: one added or removed beside them moves none."""
    both = set(kept)
    return kept != [name for name in before if name in both]


def _reordered_keys(old: Any, new: Any, path: str) -> list[str]:
    """The key paths of the mappings in ``new`` whose keys are those of ``old`` in another
    order (``old == new``, as dicts are equal in any order)."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = [path] if list(old) != list(new) else []
        for key, item in new.items():
            found.extend(_reordered_keys(old.get(key), item, f"{path}.{key}"))
        return found
    if isinstance(old, list | tuple) and isinstance(new, list | tuple):
        return [
            found
            for index, (was, item) in enumerate(zip(old, new, strict=False))
            for found in _reordered_keys(was, item, f"{path}[{index}]")
        ]
    return []


def _in_order(value: Any) -> Any:
    """JSON data with each mapping as its list of items: equal only when in the same order."""
    if isinstance(value, dict):
        return [(key, _in_order(item)) for key, item in value.items()]
    if isinstance(value, list | tuple):
        return [_in_order(item) for item in value]
    return value


# The configuration's lock: PostgreSQL's advisory key ("ls" and "conf" in ASCII).
_CONFIG_LOCK = "SELECT pg_advisory_xact_lock(27763, 1668247142)"


def lock_config(connection: Connection) -> None:
    """Hold the configuration for the transaction, before reading what it will change: two
    changes (two admins saving, a review answer beside a rollout promote) then apply one
    after the other, the second reading what the first wrote — never both from one copy,
    the later silently undoing the earlier. PostgreSQL: a transaction advisory lock (other
    readers are not held). SQLite: the write lock the transaction's ``BEGIN IMMEDIATE`` took
    (:func:`leadsync.store.database.begin_writing`)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(_CONFIG_LOCK)


def read_setting(connection: Connection, name: str) -> Any:
    """A workspace-wide setting (``monitoring``), or None when never set."""
    row = connection.execute(
        sa.select(workspace_settings.c.value).where(workspace_settings.c.name == name)
    ).first()
    return row[0] if row is not None else None


def write_setting(connection: Connection, name: str, value: Any) -> bool:
    """Store a workspace-wide setting; True when it changed, a list's order too (never set
    counts as empty, and an empty value removes it)."""
    if (read_setting(connection, name) or {}) == (value or {}):
        return False
    connection.execute(sa.delete(workspace_settings).where(workspace_settings.c.name == name))
    if value:
        connection.execute(sa.insert(workspace_settings).values(name=name, value=value))
    return True


def replace_config(
    connection: Connection,
    owner_rows: list[dict[str, Any]] | None,
    teams: dict[str, tuple[str, ...]],
    integration_rows: list[dict[str, Any]],
) -> ConfigChanges:
    """Make the stored configuration equal to the given one, in the caller's transaction.

    ``owner_rows`` None: owners come from the CRM (``owners pull``); they are left alone, and
    only the teams the file names are replaced (the pulled teams stay)."""
    changes = ConfigChanges()
    if owner_rows is not None:
        replace_owners(connection, owner_rows, changes)
    replace_teams(connection, teams, changes, only_named=owner_rows is None)
    old_integrations = {
        name: (kind, settings) for name, kind, settings in read_integrations(connection)
    }
    declared_names = {r["name"] for r in integration_rows}
    positions = sa.select(integrations.c.name, integrations.c.position)
    old_positions = {name: position for name, position in connection.execute(positions)}
    if _moved(
        [r["name"] for r in integration_rows if r["name"] in old_integrations],
        list(old_integrations),
    ):
        changes.reordered.append("integrations")
    for position, row in enumerate(integration_rows):
        wanted = {**row, "position": position}
        old_int = old_integrations.get(row["name"])
        if old_int is None:
            connection.execute(sa.insert(integrations).values(**wanted))
            changes.integrations_added.append(row["name"])
            continue
        # Equal dicts may differ in their keys' order (a map reordered): written, not
        # reported, as a move among the integrations is.
        if _in_order(old_int) != _in_order((row["kind"], row["settings"])):
            values = wanted
        elif old_positions[row["name"]] != position:
            values = {"position": position}
        else:
            continue
        connection.execute(
            sa.update(integrations).where(integrations.c.name == row["name"]).values(**values)
        )
        if old_int != (row["kind"], row["settings"]):
            changes.integrations_updated.append(row["name"])
        else:
            path = f"integrations.{row['name']}"
            changes.reordered.extend(_reordered_keys(old_int[1], row["settings"], path))
    for name in old_integrations:
        if name not in declared_names:
            connection.execute(sa.delete(integrations).where(integrations.c.name == name))
            changes.integrations_removed.append(name)
    return changes

"""Checks across the workspace file: owners unique, references to owners and teams that
exist, a fallback owner who is active, dedupe rules over configured integrations. They read
the document as given (before it is validated), skip what has its own error, and yield
``(key path, message)`` problems. :func:`written_problems` are problems only in what a
person writes now (:class:`~leadsync.settings.base.Written`), not in what the workspace
stored earlier; :func:`shared_emails`, :func:`empty_teams` and :func:`inactive_references`
are no problems, but what ``apply`` warns of."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from leadsync.model import ActivityType
from leadsync.settings.base import (
    KeyPath,
    Written,
    entries,
    format_path,
    given_fields,
    id_text,
    key_text,
    listing,
    show,
)
from leadsync.settings.integration import read_own_numbers
from leadsync.values import assigned_number, normalize_email, valid_email

__all__ = [
    "dedupe_problems",
    "reference_problems",
    "empty_teams",
    "inactive_references",
    "shared_emails",
    "team_problems",
    "written_problems",
]


def dedupe_problems(data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    """Dedupe rules name configured integrations, and one (type, integration) is in one rule."""
    configured = given_fields(data.get("integrations"))
    names = None if configured is None else {key_text(name) for name in configured}
    seen: dict[tuple[str, str], int] = {}
    for index, rule in enumerate(entries(data.get("dedupe"))):
        fields = given_fields(rule)
        if fields is None:
            continue
        activity = fields.get("activity")
        known_type = (
            activity if isinstance(activity, str) and activity in set(ActivityType) else None
        )
        for position, name in enumerate(entries(fields.get("integrations"))):
            if not isinstance(name, str):
                continue
            if names is not None and name not in names:
                known = ", ".join(sorted(names)) or "none"
                yield (
                    ("dedupe", index, "integrations", position),
                    f"unknown integration {name!r}; configured: {known}",
                )
            if known_type is None:
                continue
            key = (str(known_type), name)
            if key in seen and seen[key] != index:  # twice in one rule: the rule's own check
                yield (
                    ("dedupe", index, "integrations", position),
                    f"{name} {known_type}s are already deduplicated by dedupe"
                    f"[{seen[key]}]; an integration's activity type is in one rule",
                )
            else:
                seen[key] = index


class KnownIds:
    """The ids a workspace document declares, for its references. When one cannot be read
    (an owner without a readable id), references are not checked: calling them unknown
    would only repeat that mistake. ``pulled``: the owners are not the document's but those
    last pulled from HubSpot (id -> active), as for a file whose owners come from there; the
    problems then say so."""

    def __init__(self, data: Mapping[str, Any], pulled: Mapping[str, bool] | None = None) -> None:
        self.owners: dict[str, int] = {}
        # Owners the document declares inactive (``active: false``), by id.
        self.inactive: dict[str, int] = {}
        self.owners_readable = True
        self.pulled = pulled is not None
        owners: Any = data.get("owners")
        if pulled is not None:
            owners = [{"id": o, "active": active} for o, active in sorted(pulled.items())]
        elif owners is not None and not isinstance(owners, list | tuple):
            self.owners_readable = False
        for index, owner in enumerate(entries(owners)):
            fields = given_fields(owner)
            owner_id = id_text(fields.get("id")) if fields is not None else None
            if owner_id is None:
                self.owners_readable = False
            elif owner_id not in self.owners:
                self.owners[owner_id] = index
                if fields is not None and fields.get("active") is False:
                    self.inactive[owner_id] = index
        self.teams: dict[str, list[Any] | None] = {}
        self.teams_readable = True
        teams = data.get("teams")
        if teams is not None and given_fields(teams) is None:
            self.teams_readable = False
        for name, members in (given_fields(teams) or {}).items():
            team = id_text(name)
            if team is None:
                self.teams_readable = False
            else:
                self.teams[team] = entries(members) if isinstance(members, list | tuple) else None

    def unknown_owner(self, value: Any) -> str | None:
        """The problem with a reference to an owner, if any."""
        owner_id = id_text(value)
        if owner_id is None or not self.owners_readable or owner_id in self.owners:
            return None
        if self.pulled and not self.owners:  # none pulled yet: a pull needs the destination
            return (
                f"unknown owner {owner_id!r}; no owners are pulled from HubSpot yet: apply "
                "the file without the entries that name owners (the destination and "
                "`owners: {source: hubspot}` kept), run `leadsync owners pull`, then apply "
                "it whole"
            )
        if self.pulled:
            return (
                f"unknown owner {owner_id!r}; owners pulled from HubSpot: "
                f"{listing(self.owners)} (one added since? `leadsync owners pull` again)"
            )
        if not self.owners:
            return f"unknown owner {owner_id!r}; no owners are defined"
        return f"unknown owner {owner_id!r}; known owners: {listing(self.owners)}"

    def inactive_owner(self, value: Any) -> str | None:
        """The problem with a fallback owner the document declares inactive, if any."""
        owner_id = id_text(value)
        if owner_id is None or owner_id not in self.inactive:
            return None
        active = [o for o in self.owners if o not in self.inactive]
        allowed = f"an active owner: {listing(active)}" if active else "no owner is active"
        why = (
            "archived or deactivated in HubSpot, as `leadsync owners pull` last found it"
            if self.pulled
            else f"owners[{self.inactive[owner_id]}] has active: false"
        )
        return (
            f"owner {owner_id!r} is inactive ({why}), so reps that map to nobody would get no "
            f"owner; allowed: {allowed}"
        )

    def unknown_team(self, value: Any) -> str | None:
        """The problem with a reference to a round-robin team, if any."""
        team = id_text(value)
        if team is None or not self.teams_readable:
            return None
        if team not in self.teams:
            known = f"known teams: {listing(self.teams)}" if self.teams else "no teams are defined"
            return f"unknown team {team!r}; {known}"
        if self.teams[team] == []:
            return f"team {team!r} has no members to take turns"
        return None


def team_problems(data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    """A team lists each member once (the round-robin order is the list's)."""
    for team, members in (given_fields(data.get("teams")) or {}).items():
        first: dict[str, int] = {}
        for index, member in enumerate(entries(members)):
            owner_id = id_text(member)
            if owner_id is None:
                continue
            if owner_id in first:
                yield (
                    ("teams", key_text(team), index),
                    f"duplicate member {owner_id} (also "
                    f"{format_path(('teams', key_text(team), first[owner_id]))}); allowed: "
                    "each owner once in a team",
                )
            else:
                first[owner_id] = index


def reference_problems(
    data: Mapping[str, Any], known: KnownIds | None = None
) -> Iterator[tuple[KeyPath, str]]:
    """Owner ids are unique and every owner and team a reference names exists (among
    ``known``'s owners when given, else the document's)."""
    known = known or KnownIds(data)
    ids: dict[str, int] = {}
    for index, owner in enumerate(entries(data.get("owners"))):
        fields = given_fields(owner) or {}
        owner_id = id_text(fields.get("id"))
        if owner_id is not None and owner_id in ids:
            yield (
                ("owners", index, "id"),
                f"duplicate owner id {owner_id!r} (also owners[{ids[owner_id]}]); allowed: "
                "each id once",
            )
        elif owner_id is not None:
            ids[owner_id] = index

    for team, members in (given_fields(data.get("teams")) or {}).items():
        for index, member in enumerate(entries(members)):
            if (problem := known.unknown_owner(member)) is not None:
                yield ("teams", key_text(team), index), problem

    for path, users in _user_mappings(data):
        yield from _user_references(path, users, known)


def _user_mappings(data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, Any]]:
    """Each integration's ``users`` section, and its rollout's, with its key path."""
    for name, integration in (given_fields(data.get("integrations")) or {}).items():
        settings = given_fields(integration) or {}
        path: KeyPath = ("integrations", key_text(name))
        yield (*path, "users"), settings.get("users")
        rollout = given_fields(settings.get("rollout")) or {}
        proposed = given_fields(rollout.get("settings")) or {}
        yield (*path, "rollout", "settings", "users"), proposed.get("users")


def _user_references(path: KeyPath, users: Any, known: KnownIds) -> Iterator[tuple[KeyPath, str]]:
    """Owners and teams a user mapping names must exist (and a round-robin team have members)."""
    fields = given_fields(users) or {}
    for external_id, owner_id in (given_fields(fields.get("map")) or {}).items():
        if (problem := known.unknown_owner(owner_id)) is not None:
            yield (*path, "map", key_text(external_id)), problem
    unmapped = given_fields(fields.get("unmapped")) or {}
    if (problem := known.unknown_owner(unmapped.get("owner"))) is not None:
        yield (*path, "unmapped", "owner"), problem
    if (problem := known.unknown_team(unmapped.get("team"))) is not None:
        yield (*path, "unmapped", "team"), problem


def written_problems(
    data: Mapping[str, Any], written: Written, known: KnownIds | None = None
) -> Iterator[tuple[KeyPath, str]]:
    """Of a document that lists its owners: a written integration's fallback owner (its
    rollout's too) is active. A fallback owner archived or deactivated after the settings
    were saved is not refused where the settings are read back (nothing is written then):
    the health checks say so (:func:`leadsync.rules.workspace.configuration_problems`)."""
    known = known or KnownIds(data)
    for name, integration in (given_fields(data.get("integrations")) or {}).items():
        if not written.integration(key_text(name)):
            continue
        settings = given_fields(integration) or {}
        path: KeyPath = ("integrations", key_text(name))
        rollout = given_fields(settings.get("rollout")) or {}
        proposed = given_fields(rollout.get("settings")) or {}
        for where, users in (
            ((*path, "users"), settings.get("users")),
            ((*path, "rollout", "settings", "users"), proposed.get("users")),
        ):
            unmapped = given_fields((given_fields(users) or {}).get("unmapped")) or {}
            if (problem := known.inactive_owner(unmapped.get("owner"))) is not None:
                yield (*where, "unmapped", "owner"), problem


def unassigned_own_numbers(data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    """The company's own numbers (``own_numbers``) that read as a number (as the settings'
    own check reads them: :func:`~leadsync.settings.integration.read_own_numbers`) but one no
    country gives out (:func:`leadsync.values.assigned_number`): allowed — the number is
    matched as read —, but likely a typo (a country code twice, a digit missing), and then a
    call to the real line is not taken as internal."""
    integrations = data.get("integrations")
    if not isinstance(integrations, Mapping):
        return
    for name, settings in integrations.items():
        for index, given, _problem, number in read_own_numbers(given_fields(settings) or {}):
            if number is not None and not assigned_number(number):
                yield (
                    ("integrations", name, "own_numbers", index),
                    f"{show(given)} reads as {number}, a number no country gives out (a country "
                    "code twice, or a digit missing?): calls to the real line are not taken as "
                    "internal until it is corrected",
                )


def shared_emails(data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    """Active owners of a document that share an email (in any case): allowed — owners
    pulled from a CRM may, and ``leadsync export`` writes them so — but worth a warning, as
    a copied line left unchanged is one too: a rep with that email is matched by email to
    none of them. At each owner after the first, naming the first."""
    first: dict[str, int] = {}
    for index, owner in enumerate(entries(data.get("owners"))):
        fields = given_fields(owner) or {}
        email = fields.get("email")
        if not isinstance(email, str) or not valid_email(email) or fields.get("active") is False:
            continue
        key = normalize_email(email)
        if key not in first:
            first[key] = index
            continue
        yield (
            ("owners", index, "email"),
            f"{email.strip()!r} is also the email of owners[{first[key]}] (both active): a "
            "rep with that email is matched by email to neither (ambiguous.owner: queue asks "
            "a person which; an entry in users.map decides it)",
        )


def empty_teams(data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    """Teams of a document with no members: allowed (a team being set up), but a team is
    kept by its members, so it is not stored — ``export`` leaves it out and a round robin
    may not name it —: worth a warning rather than silence."""
    for team, members in (given_fields(data.get("teams")) or {}).items():
        if isinstance(members, list | tuple) and not members:
            yield (
                ("teams", key_text(team)),
                "has no members: it is not kept (export leaves it out, and no round robin "
                "may name it) until it lists an owner",
            )


def inactive_references(data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    """A user mapping that names inactive owners only where an owner is wanted: a rep mapped
    by hand to one (it maps to nobody: the unmapped policy decides), a round-robin team
    whose every member is (the reps that map to nobody get no owner). Allowed — an owner
    may come back — but worth a warning: the fallback owner's case is refused outright."""
    known = KnownIds(data)
    if not known.inactive:
        return
    for where, users in _user_mappings(data):
        fields = given_fields(users) or {}
        for rep, owner in (given_fields(fields.get("map")) or {}).items():
            owner_id = id_text(owner)
            if owner_id is not None and owner_id in known.inactive:
                yield (
                    (*where, "map", key_text(rep)),
                    f"owner {owner_id!r} is inactive (owners[{known.inactive[owner_id]}] has "
                    f"active: false): rep {key_text(rep)} maps to nobody, and the unmapped "
                    "policy decides its owner",
                )
        unmapped = given_fields(fields.get("unmapped")) or {}
        team = id_text(unmapped.get("team"))
        members = [id_text(m) for m in known.teams.get(team or "") or []]
        if members and all(m in known.inactive for m in members):
            yield (
                (*where, "unmapped", "team"),
                f"team {team!r} has no active member ({listing(members)} inactive), so reps "
                "that map to nobody would get no owner",
            )

"""User mapping: which owner an external user (a rep in an integrated tool) stands for.

Pure: the owners, the settings and anything learned earlier are passed in.

Order, as documented in the README:
1. the integration's explicit ``map`` (external user id -> owner id; a rep named only by
   email, by that email, trimmed and in any case) wins;
2. with ``auto_match: email``, the rep's email — from the ``directory`` declared in the
   settings, else from the event, else as learned from earlier events — matched trimmed and
   case-insensitively against **active** owners;
3. a mapping to an inactive (or archived) owner counts as unmapped;
4. an unmapped rep is handled by the ``unmapped`` policy: ``leave`` (nobody, flagged),
   ``fallback`` (the named owner, if active) or ``round_robin`` (the team's active owners in
   turn, per integration and team; the engine turns the rotation only when the owner is
   actually used, and a record a member has already stays theirs: rules/ownership.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from leadsync.model import Event, EventType, ExternalUserRef, MappingResult, Owner, UnmappedPolicy
from leadsync.settings import Ambiguity, IntegrationSettings, UserMappingSettings
from leadsync.values import normalize_email, valid_email


@dataclass(frozen=True, slots=True)
class OwnerDirectory:
    """The CRM's owners as the rules need them."""

    owners: Mapping[str, Owner]
    teams: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    active_by_email: Mapping[str, str] = field(default_factory=dict)
    # Emails several active owners have (owners pulled from the CRM may share one): a rep
    # with such an email maps to nobody by email; which owner it is, is a person's question.
    shared_emails: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Owners whose stored email is not an email address (pulled from the CRM, or stored by
    # an older version): kept — records and history name them, the map and teams may — but
    # never matched by email; the health checks name them.
    unmatchable: tuple[str, ...] = ()

    @classmethod
    def build(
        cls, owners: Mapping[str, Owner], teams: Mapping[str, tuple[str, ...]]
    ) -> OwnerDirectory:
        by_email: dict[str, list[str]] = {}
        unmatchable = []
        for o in owners.values():
            if not valid_email(o.email):
                unmatchable.append(o.id)
            elif o.active:
                by_email.setdefault(normalize_email(o.email), []).append(o.id)
        return cls(
            owners=owners,
            teams=teams,
            active_by_email={e: ids[0] for e, ids in by_email.items() if len(ids) == 1},
            shared_emails={e: tuple(sorted(ids)) for e, ids in by_email.items() if len(ids) > 1},
            unmatchable=tuple(unmatchable),
        )

    def owner_with_email(self, email: str) -> Owner | None:
        """The first owner, active or not, with that (normalized) email; an owner whose
        email is not an address is never one."""
        return next(
            (
                o
                for o in self.owners.values()
                if o.id not in self.unmatchable and normalize_email(o.email) == email
            ),
            None,
        )

    def is_active(self, owner_id: str) -> bool:
        owner = self.owners.get(owner_id)
        return owner is not None and owner.active

    def active_team(self, team: str) -> tuple[str, ...]:
        return tuple(m for m in self.teams.get(team, ()) if self.is_active(m))


def _unmapped(
    rep: str, why: str, users: UserMappingSettings, directory: OwnerDirectory
) -> MappingResult:
    policy = users.unmapped
    if policy.policy is UnmappedPolicy.FALLBACK and policy.owner is not None:
        if directory.is_active(policy.owner):
            return MappingResult(
                owner_id=policy.owner,
                mapped=False,
                how=f"rep {rep} {why}, so the fallback owner {policy.owner} is used",
                how_not_taken=f"rep {rep} {why}, so the fallback owner {policy.owner} would be "
                "used",
            )
        return MappingResult(
            owner_id=None,
            mapped=False,
            how=f"rep {rep} {why}, and the fallback owner {policy.owner} is inactive",
            flagged=True,
        )
    if policy.policy is UnmappedPolicy.ROUND_ROBIN and policy.team is not None:
        if directory.active_team(policy.team):
            return MappingResult(
                owner_id=None,
                mapped=False,
                how=f"rep {rep} {why}, so team {policy.team} takes it in round robin",
                round_robin_team=policy.team,
                how_not_taken=f"rep {rep} {why}, so team {policy.team} would take it in round "
                "robin",
            )
        return MappingResult(
            owner_id=None,
            mapped=False,
            how=f"rep {rep} {why}, and round robin team {policy.team} has no active owner",
            flagged=True,
        )
    return MappingResult(
        owner_id=None,
        mapped=False,
        how=f"rep {rep} {why}, and the unmapped policy is leave",
        flagged=True,
    )


def map_rep(
    ref: ExternalUserRef,
    settings: IntegrationSettings,
    directory: OwnerDirectory,
    learned_email: str | None = None,
) -> MappingResult:
    """:func:`map_external_user` under an integration's settings: its ``users``, and its
    ``ambiguous.owner`` answer to a rep several owners' email fits (the review queue, else
    the unmapped policy) — every face reads a rep as the engine maps it."""
    review = settings.ambiguous.owner is Ambiguity.QUEUE
    return map_external_user(ref, settings.users, directory, learned_email, review)


def map_external_user(
    ref: ExternalUserRef,
    users: UserMappingSettings,
    directory: OwnerDirectory,
    learned_email: str | None = None,
    ambiguous_to_review: bool = True,
) -> MappingResult:
    """The owner that ``ref`` stands for, or the unmapped policy's answer, with how. A rep
    whose email several active owners have maps to nobody: with ``ambiguous_to_review`` the
    result names them (``candidates``) for the review queue, else the unmapped policy
    applies."""
    rep = ref.describe()
    target = _map_target(ref, users)
    if target is not None:
        if directory.is_active(target):
            return MappingResult(target, True, f"rep {rep} maps to {target} by the explicit map")
        return _unmapped(rep, f"is mapped to {target}, who is inactive", users, directory)
    if users.auto_match.value == "email":
        email, source = _rep_email(ref, users, learned_email)
        if email:
            shared = directory.shared_emails.get(email)
            if shared is not None:
                why = f"has email {email}{source}, which {len(shared)} active owners have"
                if not ambiguous_to_review:
                    return _unmapped(rep, why + " (ambiguous.owner: skip)", users, directory)
                return MappingResult(
                    owner_id=None,
                    mapped=False,
                    how=f"rep {rep} {why} ({', '.join(shared)}): which one is a question in "
                    "the review queue; no owner is given meanwhile",
                    flagged=True,
                    candidates=shared,
                )
            owner_id = directory.active_by_email.get(email)
            if owner_id is not None:
                return MappingResult(
                    owner_id, True, f"rep {rep} maps to {owner_id} by email {email}{source}"
                )
            inactive = directory.owner_with_email(email)
            if inactive is not None:
                why = f"matches owner {inactive.id} by email {email}{source}, who is inactive"
                return _unmapped(rep, why, users, directory)
            why = (
                "matches no active owner by email"
                if not source
                else f"has email {email}{source}, which matches no active owner"
            )
            return _unmapped(rep, why, users, directory)
        return _unmapped(rep, "has no known email and is not in the map", users, directory)
    return _unmapped(rep, "is not in the map (auto_match is none)", users, directory)


def _map_target(ref: ExternalUserRef, users: UserMappingSettings) -> str | None:
    """The owner the explicit map gives the rep: by its id; a rep its tool names only by email
    (a review answer puts it there) by that email, trimmed and in any case, as emails are
    matched everywhere else."""
    if ref.id is not None:
        return users.target_of(ref.id)
    if ref.email is None:
        return None
    email = normalize_email(ref.email)
    return users.target_of(ref.email) or next(
        (users.map[k] for k in sorted(users.map) if normalize_email(k) == email), None
    )


def newer_word(at: str, known_at: str | None) -> bool:
    """Whether what a rep's event at ``at`` says of it (its email, its name) replaces what
    is known, said at ``known_at`` (None: nothing known, or not when): the newest word by
    the tool's clock, an equal time going to the later arrival — an older event delivered
    late does not move a rep to another owner."""
    return known_at is None or at >= known_at


def given_rep_name(event: Event) -> str | None:
    """The name an event gives its rep (kept as the rep's latest): a user event's ``name``
    property, else the owner's name."""
    rep = event.owner
    given = event.properties.get("name") if event.type is EventType.USER else None
    if isinstance(given, str) and given.strip():
        return given
    return rep.name if rep is not None else None


def _rep_email(
    ref: ExternalUserRef, users: UserMappingSettings, learned_email: str | None
) -> tuple[str | None, str]:
    """The rep's email for auto-match, normalized, and where it comes from when not from the
    event itself (the directory's entry wins over the event; an email learned from an earlier
    event of the rep is the last resort), for the reason."""
    listed = users.directory_email(ref.id) if ref.id is not None else None
    if listed:
        same = ref.email is not None and normalize_email(ref.email) == listed
        return listed, "" if same else f" (the directory's for {ref.id})"
    if ref.email:
        return normalize_email(ref.email), ""
    if learned_email:
        return normalize_email(learned_email), " (as an earlier event of the rep gave it)"
    return None, ""


def round_robin_turn(directory: OwnerDirectory, team: str, position: int) -> tuple[str | None, int]:
    """The owner whose turn it is, and the position once they have taken it: the team's
    members in their order from the persisted ``position`` (modulo the team's size), an
    inactive one passed over — so a member made inactive costs the next one no turn (a pick
    among the active members alone shifted every turn after: ``[101, 102, 104]`` with 101
    inactive went 104 where 102 was due). None when no member is active."""
    members = directory.teams.get(team, ())
    for step in range(len(members)):
        member = members[(position + step) % len(members)]
        if directory.is_active(member):
            return member, position + step + 1
    return None, position


def passed_over(directory: OwnerDirectory, team: str, position: int, after: int) -> str:
    """The members whose turn :func:`round_robin_turn` passed over (inactive) going from
    ``position`` to ``after``, for the reason of the member who took it (`` (105's turn
    passed: inactive)``); empty when none was."""
    members = directory.teams.get(team, ())
    skipped = [members[(position + step) % len(members)] for step in range(after - position - 1)]
    return f" ({', '.join(skipped)}'s turn passed: inactive)" if skipped else ""


def external_owner_id(
    users: UserMappingSettings, owner: str | None, directory: OwnerDirectory
) -> str | None:
    """The external user an owner is in an integration (for the outbox of a bidirectional
    tool): the explicit map (the lowest external id when several map to the owner), else the
    settings' directory entry with the owner's email; None when neither knows the owner."""
    if owner is None:
        return None
    mapped = sorted(ext for ext, target in users.map.items() if target == owner)
    if mapped:
        return mapped[0]
    known = directory.owners.get(owner)
    if known is None or owner in directory.unmatchable:
        return None
    email = known.email.strip().lower()
    for user in users.directory:
        if user.email and user.email.strip().lower() == email:
            return user.id
    return None

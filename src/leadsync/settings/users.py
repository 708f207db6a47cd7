"""How a tool's users become CRM owners (``users:``): the explicit map, the directory of
the tool's users with their emails, auto-match by email, and the policy for reps that map
to nobody; and the check that no two map keys name one rep."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pydantic import Field, PrivateAttr

from leadsync.model import AutoMatch, UnmappedPolicy
from leadsync.settings.base import (
    Email,
    ExternalId,
    KeyPath,
    Name,
    OwnerId,
    SettingsModel,
    Text,
    entries,
    given_fields,
    id_text,
)
from leadsync.sources import KINDS, adapter_class
from leadsync.values import normalize_email

__all__ = [
    "DirectoryUser",
    "UnmappedSettings",
    "UserMappingSettings",
    "map_keys_naming_one_rep",
]


class DirectoryUser(SettingsModel):
    """An external user the tool knows; its email lets auto-matching find the owner."""

    id: ExternalId
    email: Email | None = None  # checked as an owner's is (docs/FORMAT.md)
    name: Text | None = None


class UnmappedSettings(SettingsModel):
    """What to do with an external user that maps to no owner."""

    policy: UnmappedPolicy = UnmappedPolicy.LEAVE
    owner: OwnerId | None = None
    team: Name | None = None

    @classmethod
    def _problems_across_keys(cls, data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
        try:
            policy = UnmappedPolicy(data.get("policy", UnmappedPolicy.LEAVE))
        except ValueError:
            return  # not a policy: its own error
        needed = {
            UnmappedPolicy.LEAVE: None,
            UnmappedPolicy.FALLBACK: "owner",
            UnmappedPolicy.ROUND_ROBIN: "team",
        }[policy]
        for key in ("owner", "team"):
            given = data.get(key) is not None
            if key == needed and not given:
                what = "an active owner's id" if key == "owner" else "a team's name (teams:)"
                yield (key,), f"required when policy is {policy.value}; allowed: {what}"
            elif key != needed and given:
                allowed = f"allowed: {needed}" if needed else "it takes no owner or team"
                yield (key,), f"not allowed when policy is {policy.value}; {allowed}"


def _id_as_given(record_type: str | None, value: str) -> str:
    return value


class UserMappingSettings(SettingsModel):
    """How the tool's users become CRM owners: explicit map first, then auto-match."""

    _null_is_default = frozenset({"map", "directory", "unmapped"})

    auto_match: AutoMatch = AutoMatch.EMAIL
    map: dict[ExternalId, OwnerId] = Field(default_factory=dict)
    directory: tuple[DirectoryUser, ...] = ()
    unmapped: UnmappedSettings = UnmappedSettings()

    _emails: dict[str, str | None] = PrivateAttr(default_factory=dict)
    _targets: dict[str, str] = PrivateAttr(default_factory=dict)
    # (record type, id) -> the vendor's canonical id; a named function or a classmethod, so
    # that two equal settings compare equal.
    _canonical: Callable[[str | None, str], str] | None = PrivateAttr(default=None)

    @classmethod
    def _problems_across_keys(cls, data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
        first: dict[str, int] = {}
        for index, user in enumerate(entries(data.get("directory"))):
            fields = given_fields(user)
            user_id = id_text(fields.get("id")) if fields is not None else None
            if user_id is None:
                continue
            if user_id in first:
                yield (
                    ("directory", index, "id"),
                    f"duplicate directory id {user_id!r} (also directory[{first[user_id]}])",
                )
            else:
                first[user_id] = index

    def model_post_init(self, context: Any, /) -> None:
        self.index_ids(_id_as_given)

    def index_ids(self, canonical: Callable[[str | None, str], str]) -> None:
        """Index the map and the directory by the vendor's canonical form of a user id (a
        Salesforce 15-character id is its 18-character form, as events name it); looked up
        per event by the engine, so built once. The settings keep the ids as written."""
        self._canonical = canonical
        self._targets = {canonical(None, k): v for k, v in self.map.items()}
        self._emails = {
            canonical(None, u.id): (normalize_email(u.email) or None) if u.email else None
            for u in self.directory
        }

    def canonical_id(self, external_id: str) -> str:
        return external_id if self._canonical is None else self._canonical(None, external_id)

    def target_of(self, external_id: str) -> str | None:
        """The owner the explicit map gives that external user (None: not in the map)."""
        return self._targets.get(self.canonical_id(external_id))

    def directory_email(self, external_id: str) -> str | None:
        """The directory's email for that external user, normalized for matching."""
        return self._emails.get(self.canonical_id(external_id))


def map_keys_naming_one_rep(data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    """``users.map`` keys that name one rep — the same id but for spaces around it, the same
    email in another case, or (Salesforce) a 15- and an 18-character form of one id: the
    entries would silently override each other."""
    users = given_fields(data.get("users"))
    mapping = given_fields(users.get("map")) if users is not None else None
    kind = data.get("kind")
    normalize = (
        adapter_class(kind).normalize_external_id
        if isinstance(kind, str) and kind in KINDS
        else _id_as_given
    )
    first: dict[str, str] = {}
    for key in mapping or {}:
        if not isinstance(key, str) or not key.strip():
            continue  # its own error
        text = key.strip()
        rep = normalize_email(text) if "@" in text else normalize(None, text)
        if rep in first:
            yield (
                ("users", "map", key),
                f"names the same rep as map key {first[rep]!r}; allowed: one entry per rep "
                "(ids are read without surrounding spaces, emails in any case, a Salesforce "
                "id in either of its forms)",
            )
        else:
            first[rep] = key

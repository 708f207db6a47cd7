"""What a cycle did, and how it is recorded: HubSpot ids and owners saved in one transaction
per answer (with identities for the workspace's HubSpot integrations), and refused inputs
kept as push failures.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from leadsync.destinations.hubspot.client import Answer
from leadsync.destinations.hubspot.cycle.slice import CycleBase, PushObject
from leadsync.destinations.hubspot.options import not_an_option_key, not_an_option_message
from leadsync.model import now_ts
from leadsync.store import push as push_store

log = logging.getLogger("leadsync.push")
MISSING_PROPERTY = "PROPERTY_DOESNT_EXIST"  # HubSpot's error code, in the input's message
UNIQUE_TAKEN = "CONFLICTING_UNIQUE_VALUE"  # a unique property's value another object holds


@dataclass
class PushResult:
    """What one or more cycles did."""

    cycles: int = 0
    changes: int = 0
    requests: int = 0
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    matched: dict[str, int] = field(default_factory=dict)
    associations: int = 0  # made: with the creates, and through the associations API
    archived: int = 0
    failures: int = 0
    # Of them, refused for a property the portal does not have (``hubspot setup`` makes
    # leadsync's own; HubSpot's PROPERTY_DOESNT_EXIST).
    missing_property: int = 0
    # Not sent: leadsync's own check refused an input first (a lead with no contact; one of
    # the failures), or left a value out of an object it pushed (a dropdown's, an email
    # another contact holds: reported, not a failure). HubSpot never saw them.
    not_sent: int = 0
    refused: int = 0  # of the failures, those HubSpot refused
    # Records updated without a value HubSpot refused (the rest went): reported, not a
    # failure.
    values_refused: int = 0
    owner_checks: int = 0
    owner_redecided: int = 0
    # Records not created, by type: nothing names them yet (a placeholder with no name,
    # domain or email); the change that names one queues it again.
    unnamed: dict[str, int] = field(default_factory=dict)
    # Records HubSpot no longer had (archived or deleted there), by type: queued to be
    # created again (cycle.gone).
    gone: dict[str, int] = field(default_factory=dict)
    # Records a person merged into another in HubSpot: followed to the merged record's id.
    merged: dict[str, int] = field(default_factory=dict)
    # Records HubSpot no longer had that only HubSpot named: not created again (cycle.gone).
    forgotten: dict[str, int] = field(default_factory=dict)
    # After the push, in the whole workspace (``Pusher.drain``): the records it cannot create
    # yet, by type, and the links of objects HubSpot has that wait for them.
    waiting_records: dict[str, int] = field(default_factory=dict)
    waiting_links: int = 0
    # The failures and reports this push recorded that are still open at its end (a
    # refusal of an object HubSpot no longer had is closed once it is created again).
    left_open: int = 0
    busy: bool = False  # another pusher holds the lease

    def count(self, table: dict[str, int], key: str, n: int = 1) -> None:
        table[key] = table.get(key, 0) + n

    def add(self, other: PushResult) -> None:
        self.cycles += other.cycles
        self.changes += other.changes
        self.requests += other.requests
        for mine, theirs in (
            (self.created, other.created),
            (self.updated, other.updated),
            (self.matched, other.matched),
            (self.unnamed, other.unnamed),
            (self.gone, other.gone),
            (self.merged, other.merged),
            (self.forgotten, other.forgotten),
        ):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v
        self.associations += other.associations
        self.archived += other.archived
        self.failures += other.failures
        self.missing_property += other.missing_property
        self.not_sent += other.not_sent
        self.refused += other.refused
        self.values_refused += other.values_refused
        self.owner_checks += other.owner_checks
        self.owner_redecided += other.owner_redecided
        self.busy = other.busy

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class ResultsMixin(CycleBase):
    """Recording answers: saved objects and failures."""

    def not_sent(self, obj: PushObject, operation: str, message: str) -> None:
        """An input leadsync's own check keeps from being sent: a push failure with no HTTP
        status (HubSpot never saw it), category ``LEADSYNC_PRECONDITION``."""
        self._failed(obj)
        self.result.not_sent += 1
        row = failure_row(obj, operation, push_store.PRECONDITION, message, now_ts())
        log.warning("not sent: %s %s %s: %s", operation, obj.type, obj.id, message)
        self.write(lambda c: push_store.add_failures(c, [row]))

    def report(self, obj: PushObject, operation: str, category: str, message: str) -> None:
        """A value of an object it pushed that leadsync did not send (leadsync's own report,
        no HTTP status; counted as not sent — or, a value HubSpot refused, as such):
        recorded once — not again while the same report is open, nor once a person
        dismissed it."""

        def record(c: Connection) -> None:
            if push_store.reported(c, obj.kind, obj.id, category, message):
                return
            if category == push_store.VALUE_REFUSED:
                self.result.values_refused += 1
            else:
                self.result.not_sent += 1
            log.warning("pushed %s %s without a value: %s", obj.type, obj.id, message)
            push_store.add_failures(c, [failure_row(obj, operation, category, message, now_ts())])

        self.write(record)

    def _failed(self, obj: PushObject) -> None:
        self.failed.add((obj.kind, obj.id))
        self.open_failures.add((obj.kind, obj.id))
        self.result.failures += 1

    def fail(
        self, obj: PushObject, operation: str, answer: Answer, error: Mapping[str, Any]
    ) -> None:
        self._failed(obj)
        self.result.refused += 1
        self.refused_now.append(obj)  # HubSpot's refusal: what it names may be gone there
        row = {
            "kind": obj.kind,
            "local_id": obj.id,
            "object_type": obj.type,
            "operation": operation,
            "status": _input_status(answer.status, error.get("category")),
            "category": str(error.get("category") or answer.body.get("category") or "")[:64]
            or None,
            "message": refused_in_words(error, str(error.get("message") or answer.error_text()))[
                :2000
            ],
            "correlation_id": str(
                error.get("correlationId")
                or answer.body.get("correlationId")
                or answer.header("x-hubspot-correlation-id")
                or ""
            )[:64]
            or None,
            "at": now_ts(),
        }
        if MISSING_PROPERTY in str(row["message"]) or row["category"] == MISSING_PROPERTY:
            self.result.missing_property += 1
        log.warning("HubSpot refused %s %s %s: %s", operation, obj.type, obj.id, row["message"])
        self.write(lambda c: push_store.add_failures(c, [row]))

    def save(
        self,
        objs: Sequence[PushObject],
        owners: Mapping[int, str | None],
        *,
        owner_known: bool = True,
        followed: Mapping[int, str | None] | None = None,
        written: bool = False,
        properties_sent: bool = False,
    ) -> None:
        """Record HubSpot ids (and the owner HubSpot now has, and the properties leadsync's
        writes left there) in one transaction; new records also get identities for the
        workspace's HubSpot integrations. ``written``: the owners given are leadsync's writes
        HubSpot applied (a create's, an update's), dated when they were sent
        (:func:`~leadsync.store.push.save_pushed`). ``properties_sent``: their properties
        went with it (a create, an update): a value none of the portal's options names is
        reported then (:meth:`_not_options`). ``followed``: the owners HubSpot keeps that
        leadsync did not write (with ``owner_known`` False: the owner leadsync last wrote is
        kept for its echoes, and known not to be HubSpot's)."""
        if not objs:
            return
        at = now_ts()
        rows = []
        identities = []
        for obj in objs:
            previous = (obj.pushed or {}).get("pushed_owner_id")
            owner = owners.get(obj.id, previous) if owner_known else previous
            # HubSpot has leadsync's owner where the save gives it; else as the row was.
            if followed is not None and obj.id in followed:
                follows = followed[obj.id] or ""
            elif owner_known and obj.id in owners:
                follows = None
            else:
                follows = (obj.pushed or {}).get("followed_owner_id")
            hubspot_id = self.ids[(obj.kind, obj.id)]
            rows.append(
                {
                    "kind": obj.kind,
                    "local_id": obj.id,
                    "object_type": obj.type,
                    "hubspot_id": hubspot_id,
                    "pushed_at": at,
                    "pushed_owner_id": owner,
                    "followed_owner_id": follows,
                    "owner_written_at": at if written and obj.id in owners else None,
                    "create_sent_at": None,
                    # What leadsync's writes left in HubSpot, as the cycle holds it
                    # (cycle.clears): confirmed here with the write that confirms it.
                    "pushed_properties": (obj.pushed or {}).get("pushed_properties"),
                    "properties_sent": (obj.pushed or {}).get("properties_sent"),
                }
            )
            obj.pushed = {
                **(obj.pushed or {}),
                "pushed_owner_id": owner,
                "followed_owner_id": follows,
            }
            if obj.kind == push_store.RECORD:
                for integration in self.hubspot_integrations:
                    identities.append(
                        {
                            "integration": integration,
                            "type": obj.type,
                            "external_id": hubspot_id,
                            "record_id": obj.id,
                        }
                    )
        kind = objs[0].kind
        keys = [o.id for o in objs if (kind, o.id) in self.open_failures]

        def record(c: Connection) -> None:
            push_store.save_pushed(c, rows)
            push_store.add_identities(c, identities)
            keep, reports = (
                self._not_options(c, objs, at, properties_sent) if self.not_options else ((), [])
            )
            free = [k for k in keys if (kind, k) not in self.value_held]
            push_store.resolve_failures(c, kind, free, at, "pushed", keep=keep)
            # Pushed without a value (the email another contact holds, one HubSpot refused):
            # that report stays.
            held: dict[frozenset[str], list[int]] = defaultdict(list)
            for k in keys:
                if (kind, k) in self.value_held:
                    held[frozenset(self.value_held[(kind, k)])].append(k)
            for categories, ids in held.items():
                push_store.resolve_failures(
                    c, kind, ids, at, "pushed", keep=keep, keep_categories=categories
                )
            push_store.add_failures(c, reports)  # after: the save closes none of them
            self.result.not_sent += len(reports)

        self.write(record)

    def _not_options(
        self, c: Connection, objs: Sequence[PushObject], at: str, sent: bool
    ) -> tuple[set[int], list[dict[str, Any]]]:
        """The reports of these records' values none of the portal's options names (one a
        property, category NOT_AN_OPTION, known by the property and the value): the ids of
        the open ones that still hold (a save closes the rest of its objects' failures), and
        the rows of new ones — where their properties were ``sent`` and the same value's
        report is neither open nor dismissed."""
        now: dict[int, dict[str, str]] = {}  # record -> report key -> message
        for obj in objs:
            for name, value in self.not_options.get((obj.kind, obj.id), {}).items():
                choices = self.options[obj.type][name]
                message = not_an_option_message(obj.type, name, value, choices)
                now.setdefault(obj.id, {})[not_an_option_key(name, value)] = message
        if not now:
            return set(), []
        earlier = push_store.not_an_option_failures(c, list(now))

        def still(rid: int, message: str) -> str | None:
            return next((k for k in now.get(rid, {}) if message.startswith(k)), None)

        keep = {f for f, rid, message, res in earlier if res is None and still(rid, message)}
        known = {(rid, still(rid, message)) for _f, rid, message, _res in earlier}
        if not sent:
            return keep, []
        by_id = {obj.id: obj for obj in objs}
        rows = [
            failure_row(by_id[rid], "write", push_store.NOT_AN_OPTION, message, at)
            for rid, reports in sorted(now.items())
            for key, message in sorted(reports.items())
            if (rid, key) not in known
        ]
        for row in rows:
            log.warning("pushed %s %s without a value: %s", row["object_type"], row["local_id"],
                        row["message"])  # fmt: skip
        return keep, rows


def failure_row(
    obj: PushObject,
    operation: str,
    category: str,
    message: str,
    at: str,
    status: int | None = None,
) -> dict[str, Any]:
    """A push failure leadsync records about ``obj`` (``status`` None: leadsync's own, HubSpot
    never saw what it is about)."""
    return {
        "kind": obj.kind,
        "local_id": obj.id,
        "object_type": obj.type,
        "operation": operation,
        "status": status,
        "category": category,
        "message": message,
        "correlation_id": None,
        "at": at,
    }


def untold_error(answer: Answer) -> dict[str, Any]:
    """The failure of an input HubSpot's answer names neither among the done nor among the
    refused (HubSpot does not promise an error's ``context``)."""
    return {
        "message": f"HubSpot's answer ({answer.status}) names this input neither among the "
        "done nor among the refused: not known whether it was applied; a retry sends it again"
    }


_CATEGORY_STATUS = {"VALIDATION_ERROR": 400, "CONFLICT": 409, "OBJECT_NOT_FOUND": 404}


def _input_status(status: int, category: Any) -> int:
    if status >= 400:
        return status
    return _CATEGORY_STATUS.get(str(category), 400)


# HubSpot's words for a validation error: "Property values were not valid: [{...}]", each
# element naming the property ("name") and the code ("error").
_NOT_VALID = "Property values were not valid: "


def refused_values(error: Mapping[str, Any]) -> dict[str, str]:
    """The properties a VALIDATION_ERROR refuses a value of, with HubSpot's code and words
    (none: not such an error, or only for properties the portal lacks). Read from the
    error's ``errors`` (``context.propertyName``) and from the list its message carries."""
    if str(error.get("category")) != "VALIDATION_ERROR":
        return {}
    found: dict[str, str] = {}
    for item in error.get("errors") or []:
        if isinstance(item, Mapping):
            names = (item.get("context") or {}).get("propertyName") or []
            for name in names if isinstance(names, list) else [names]:
                found[str(name)] = f"{item.get('code')}: {item.get('message')}"
    message = str(error.get("message") or "")
    if _NOT_VALID in message:
        try:
            listed = json.loads(message.split(_NOT_VALID, 1)[1])
        except ValueError:
            listed = []
        for item in listed if isinstance(listed, list) else []:
            if isinstance(item, Mapping) and item.get("name"):
                found.setdefault(str(item["name"]), f"{item.get('error')}: {item.get('message')}")
    if any(why.startswith(MISSING_PROPERTY) for why in found.values()):
        return {}
    return found


def taken(error: Mapping[str, Any], name: str) -> bool:
    """Whether HubSpot refused ``name``'s value as one another object holds already (a
    unique property: ``CONFLICTING_UNIQUE_VALUE``, a 400 VALIDATION_ERROR naming no object,
    where a contact's email taken is a 409 naming it)."""
    return refused_values(error).get(name, "").startswith(UNIQUE_TAKEN)


def values_left_out(
    object_type: str, hubspot_id: str, props: Mapping[str, Any], values: Mapping[str, str]
) -> str:
    """The report of values HubSpot refused that an object was written without (its create
    or its update sent again without them): one wording for both, so that the report of
    one value stays one."""
    told = "; ".join(f"{name} {str(props[name])!r} ({why})" for name, why in sorted(values.items()))
    return (
        f"HubSpot refused {told}: {object_type} {hubspot_id} is in HubSpot without "
        f"{'it' if len(values) == 1 else 'them'}. Correct the value at its source (or the "
        "property's settings in HubSpot); the next change sends it"
    )


def refused_in_words(error: Mapping[str, Any], message: str) -> str:
    """A refusal's message for people: a VALIDATION_ERROR's values one by one (property:
    code: words) instead of HubSpot's JSON list, and what to do about an owner HubSpot does
    not have; any other message as it is."""
    values = refused_values(error)
    if not values:
        return message
    said = "; ".join(f"{name}: {why}" for name, why in sorted(values.items()))
    if any(why.startswith("INVALID_OWNER_ID") for why in values.values()):
        said += (
            " — the owner is none of the portal's: map the rep to an owner HubSpot has, or run "
            "leadsync owners pull (owners: {source: hubspot}), then leadsync push failures "
            "retry --all"
        )
    return f"HubSpot refused the values: {said}"

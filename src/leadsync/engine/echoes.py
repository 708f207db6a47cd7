"""The owners leadsync wrote to the tools (the outbox), as a batch reads their echoes.

Per identity (the record as the tool names it: the key its events carry), the writes it
awaits back: the stored ones the load found, then the batch's own owner changes of its
record as the batch makes them — the rows the write step will add to the outbox for it —
so a change and its echo decide the same in one batch as in two. Each report of the tool
goes through :func:`leadsync.rules.echoes.read_report`; what changed is written with the
batch (:func:`rows`: stored rows updated, the batch's own rows inserted so).

Also the owner as the outbox names it to a tool (:func:`external_owner`), shared with
:mod:`leadsync.engine.write` so that the two never differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from leadsync.engine.state import RecordState, SourceKey, named_at
from leadsync.model import (
    CRM_SOURCE,
    CRM_STRATEGY,
    Event,
    ExternalUserRef,
    Outcome,
    OwnerDecision,
    RecordType,
    change_source,
)
from leadsync.rules.echoes import OwnerWritten, echo_reason, read_report
from leadsync.rules.mapping import external_owner_id
from leadsync.rules.ownership import (
    GivenRep,
    Verdict,
    echo_verdict,
    late_crm_verdict,
    rep_key,
)
from leadsync.rules.workspace import WorkspaceRules

if TYPE_CHECKING:
    from leadsync.engine.decide import BatchDecider

# A write of the batch itself: (the index of its owner change, integration, external id).
NewWrite = tuple[int, str, str]


def external_owner(rules: WorkspaceRules, integration: str, owner_id: str | None) -> str | None:
    """The owner as ``integration`` names it: a CRM's owner ids are the owners' own (as
    ``apply_crm`` reads them), another tool's the user that maps to the owner."""
    settings = rules.integrations[integration]
    if settings.is_crm:
        return owner_id
    return external_owner_id(settings.users, owner_id, rules.directory)


class Echoes:
    """One batch's writes awaited back, per identity, as its owner changes add to them."""

    __slots__ = (
        "awaited", "by_record", "indexed", "known_from", "listed", "log", "new", "receivers",
        "rules",
    )  # fmt: skip

    def __init__(self, rules: WorkspaceRules, awaited: dict[SourceKey, list[OwnerWritten]]):
        self.rules = rules
        # Per record type, the integrations the outbox writes to (asked for every report).
        self.receivers = {t: rules.bidirectional_integrations(t) for t in RecordType}
        self.awaited = awaited  # per identity, in the order written (stored ones first)
        self.indexed = 0  # owner changes of the batch seen so far
        self.by_record: dict[int, list[int]] = {}  # their indexes, per record
        # Per identity, the batch's changes listed (those before this index).
        self.listed: dict[SourceKey, int] = {}
        # What the identities the batch changes name, from which change on (the decider's
        # ``identity_log``): an identity is written a change of the record it named then.
        self.log: dict[SourceKey, list[tuple[int, int | None]]] = {}
        self.new: dict[NewWrite, OwnerWritten] = {}
        # Identities the batch makes, from which of its owner changes on: one made after a
        # change did not know the record then, and is sent none of it (in one batch as in
        # several).
        self.known_from: dict[SourceKey, int] = {}

    def writes(
        self, key: SourceKey, record: RecordState, changes: Sequence[OwnerDecision]
    ) -> list[OwnerWritten]:
        """What ``key``'s integration has been written for the record: stored, then the
        batch's changes of the record so far that the outbox sends it."""
        for index in range(self.indexed, len(changes)):
            self.by_record.setdefault(changes[index].record_id, []).append(index)
        self.indexed = len(changes)
        writes = self.awaited.setdefault(key, [])
        start, log = self.listed.get(key, 0), self.log.get(key)
        if log is None:
            made = [i for i in self.by_record.get(record.id, ()) if i >= start]
        else:  # (made, merged away or moved by a join in this batch)
            named = {r for _, r in log if r is not None}
            made = sorted(
                i
                for r in named
                for i in self.by_record.get(r, ())
                if i >= start and named_at(log, i) == changes[i].record_id
            )
        integration, _, external_id = key
        known_from = self.known_from.get(key, 0)
        for index in made:
            change = changes[index]
            if index < known_from or integration not in self.receivers[change.record_type]:
                continue
            rep = external_owner(self.rules, integration, change.owner_id)
            if rep is not None and integration != change.integration:
                row = (index, integration, external_id)
                source = change_source(change.integration, change.strategy)
                written = OwnerWritten(rep, change.owner_id, change.at, source, row)
                writes.append(written)
                self.new[row] = written
        self.listed[key] = len(changes)
        return writes


def report(
    decider: BatchDecider,
    key: SourceKey,
    record: RecordState,
    event: Event,
    given: GivenRep | None,
) -> OwnerWritten | None:
    """A tool's record event naming its owner (``given``: the rep the tool gave last time):
    the write of leadsync's it echoes, or None. Only an integration the outbox writes to
    (``bidirectional`` for the record's type) has writes to echo."""
    if event.owner is None or key[0] not in decider.echoes.receivers[record.type]:
        return None
    writes = decider.echoes.writes(key, record, decider.owner_changes)
    if not writes:
        return None
    own = not event.owner_unchanged and (given is None or given.rep != rep_key(event.owner))
    return read_report(writes, event.owner, event.occurred_at, own, event.id, event.manual)


def crm_echo(decider: BatchDecider, event: Event, record: RecordState, owner: str | None) -> bool:
    """The CRM reports ``owner`` for its record: recorded as leadsync's own write coming back
    (ignored) when it is the owner its push last wrote there (``pushed_owners``) or one its
    outbox wrote and awaits (the CRM as a ``bidirectional`` integration), or as a change the
    push's later write replaced there (ignored: told late); False for a change made in the
    CRM."""
    last_push = decider.state.pushed_owners.get(record.id)
    # A person's change, as the CRM tells (HubSpot's CRM_UI), is never leadsync's own write
    # coming back, whatever owner it names.
    pushed = not event.manual and last_push is not None and owner in last_push.owners
    subject = event.subject_ref()
    written = None
    if owner is not None and subject is not None and subject.external_id is not None:
        key = (event.integration, subject.type._value_, subject.external_id)
        if key[0] in decider.echoes.receivers[record.type]:
            writes = decider.echoes.writes(key, record, decider.owner_changes)
            ref = ExternalUserRef(owner)
            written = read_report(
                writes, ref, event.occurred_at, not pushed, event.id, event.manual
            )
    if pushed:
        verdict = echo_verdict(record.owner_id, owner, event.integration)
    elif written is not None:
        reason = echo_reason(event.integration, f"owner {owner}", written, record.owner_id)
        verdict = Verdict(Outcome.IGNORED, record.owner_id, owner, reason)
    else:
        changed_at = event.changed_at or event.occurred_at
        written_at = last_push.written_at if last_push is not None else None
        late = late_crm_verdict(record.owner_id, owner, event.integration, changed_at, written_at)
        if late is None:
            return False
        verdict = late
    decider.record_verdict(record, event, verdict, CRM_STRATEGY, CRM_SOURCE)
    return True


def rows(
    decider: BatchDecider,
) -> tuple[list[dict[str, Any]], dict[NewWrite, dict[str, Any] | None]]:
    """What the batch's reports changed: stored outbox rows to update (by id, in id order),
    and the batch's own rows' echo columns by :data:`NewWrite` — None for a row not to
    write: an identity the batch made after the change."""
    echoes = decider.echoes
    stored = [
        {"id": w.row, **echo_columns(w)}
        for writes in echoes.awaited.values()
        for w in writes
        if w.changed and isinstance(w.row, int)
    ]
    stored.sort(key=lambda row: int(row["id"]))
    new: dict[NewWrite, dict[str, Any] | None] = {
        row: echo_columns(w) for row, w in echoes.new.items() if w.changed
    }
    changes = decider.owner_changes
    receivers = echoes.receivers
    written_to = set().union(*receivers.values())  # integrations the outbox writes to
    # Identities the batch made after one of its changes, of an integration written to.
    late = [
        (key, known_from)
        for key, known_from in echoes.known_from.items()
        if known_from and key[0] in written_to
    ]
    if late:
        by_record: dict[int, list[int]] = {}
        for index, change in enumerate(changes):
            by_record.setdefault(change.record_id, []).append(index)
        for (integration, rtype, external_id), known_from in late:
            for index in by_record.get(decider.identity[(integration, rtype, external_id)], ()):
                if index < known_from and integration in receivers[changes[index].record_type]:
                    new[(index, integration, external_id)] = None
    return stored, new


def echo_columns(written: OwnerWritten) -> dict[str, Any]:
    return {
        "echo": written.state,
        "echo_event_id": written.event_id,
        "echo_at": written.event_at,
        "awaited_until": written.until,
    }

"""Which owner a tool reports is leadsync's own write coming back (its echo), and which is a
change made in the tool.

Under ``bidirectional`` leadsync sends owner changes made elsewhere to the tool (the outbox:
each row one owner written to one record of the tool), and the tool then reports its record
with that owner, like any change of its own. Each write is **awaited** until the tool
reports it back. The rule, for a report of rep R at the tool's time T:

1. An awaited write the tool has moved past before T (awaited only until a time before T,
   below) is **passed**: the tool reported something else since, so a report of its rep
   now is no echo of it.
2. The first write of rep R still awaited is **echoed** by this report: leadsync's own change
   coming back, never a change made in the tool — whatever else the tool did meanwhile, and
   however many writes are awaited (echoes come in any order: the tool's webhooks are
   retried and delivered out of order).
3. What the report tells of the other awaited writes, by the tool's clock:

   - it echoes a later write: the tool has applied that one, so an earlier write it never
     reported came before it (a write is sent in order) or never reached it (it failed, or
     the sender sent only the latest). Its echo, if it comes, is from T or before: it is
     still its echo; a report of its rep after T is a change made in the tool (a person
     chose that rep again after leadsync's later write);
   - it is the tool's own change (a rep the tool did not give last time, not awaited): the
     writes made at T or before are awaited only until T. One that reaches the tool later
     than its own change is what the tool then has, and when it comes back it is taken as
     the tool's — the two sides then agree on it, rather than keeping, silently, an owner
     the tool no longer shows.

   The same rep again (a tool that sends the current owner with every edit, before a write
   has reached it) says nothing of the writes: they stay awaited.

The one case no report can settle: a tool that never reports leadsync's writes (it does not
echo them, or a write failed there and nothing later was echoed) and a person there then
choosing a rep leadsync wrote. That report reads as the echo — the safe reading: taking a
late echo as a change reverts the person's change made elsewhere and sends it on to every
side, while reading a person's choice as an echo leaves one record as it was, with a reason
saying so, until the tool reports another change.

Pure: the writes and the report are passed in; the writes' states change in place (the
engine keeps them for the batch and writes what changed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from leadsync.model import CRM_SOURCE, UNDO_SOURCE, ExternalUserRef, display_ts

AWAITED = "awaited"
ECHOED = "echoed"
PASSED = "passed"


@dataclass(slots=True)
class OwnerWritten:
    """An owner leadsync wrote to a tool's record (one outbox row) and what became of it."""

    # The external user written (the outbox row's ``external_owner_id``).
    rep: str
    owner_id: str | None
    # When the change was made (its ``changed_at``), and whose it was: an integration's
    # name, or ``CRM_SOURCE`` for a person's change told to leadsync.
    at: str
    source: str
    # Where the engine keeps it: a stored outbox row's id, or a write of the batch itself
    # (the index of its owner change, the integration, the external id).
    row: Any
    # Awaited only for reports up to this time, by the tool's clock (None: any report).
    until: str | None = None
    state: str = AWAITED
    # The report that echoed or passed it: its event and its time.
    event_id: str | None = None
    event_at: str | None = None
    # Changed by this batch (to be written).
    changed: bool = False

    def settle(self, state: str, event_id: str, at: str) -> None:
        self.state, self.event_id, self.event_at, self.changed = state, event_id, at, True

    def await_until(self, at: str) -> None:
        if self.until is None or at < self.until:
            self.until, self.changed = at, True


def names_rep(reported: ExternalUserRef, written: str) -> bool:
    """Whether the rep a tool reports is the external user leadsync wrote: by its id, or by
    its email where the user was written by email (a map keyed by email, for a tool that
    names its users so), trimmed, in any case."""
    if reported.id is not None and reported.id == written:
        return True
    email = reported.email
    return email is not None and email.strip().lower() == written.strip().lower()


def read_report(
    writes: Sequence[OwnerWritten],
    reported: ExternalUserRef,
    at: str,
    own_change: bool,
    event_id: str,
    by_a_person: bool = False,
) -> OwnerWritten | None:
    """A tool reports ``reported`` as its record's owner at ``at`` (its clock) in event
    ``event_id``: the write (of ``writes``, the record's in the order written) this echoes,
    or None; the writes' states follow the module's rule. ``own_change``: the report is no
    echo and not the rep the tool gave last time (the tool's own change, if no write
    matches). ``by_a_person``: the tool says a person made the change (HubSpot's
    ``CRM_UI``): never leadsync's write coming back, whatever owner it names (leadsync's
    own report may never have come: one its app made is dropped by the adapter)."""
    for written in writes:
        if written.state == AWAITED and written.until is not None and written.until < at:
            written.settle(PASSED, event_id, at)
    awaited = [w for w in writes if w.state == AWAITED]
    candidates = [] if by_a_person else awaited
    echoed = next((w for w in candidates if names_rep(reported, w.rep)), None)
    if echoed is not None:
        echoed.settle(ECHOED, event_id, at)
        for earlier in awaited[: awaited.index(echoed)]:
            earlier.await_until(at)
    elif own_change or by_a_person:
        for written in awaited:
            if written.at <= at:
                written.await_until(at)
    return echoed


def stays(owner_id: str | None) -> str:
    """The owner a decision leaves, in words: "the owner stays 101", or "it stays without an
    owner" ("the owner stays no owner" read oddly)."""
    return f"the owner stays {owner_id}" if owner_id is not None else "it stays without an owner"


def echo_reason(integration: str, reported: str, written: OwnerWritten, current: str | None) -> str:
    """Why a report that echoes ``written`` changes nothing, in words."""
    # The CRM's change (a person's, or HubSpot's owner taken by the push: CRM_SOURCE), an
    # undo: no integration's name.
    whose = {CRM_SOURCE: "the CRM's change", UNDO_SOURCE: "the undo"}.get(
        written.source, f"{written.source}'s change"
    )
    return (
        f"ignored: {integration} reports {reported}, which leadsync itself wrote to it as "
        f"{written.owner_id or 'no owner'} ({whose} at {display_ts(written.at)}): its own "
        f"change echoed back, not a change made in {integration}; {stays(current)}"
    )

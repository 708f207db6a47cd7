"""Ownership strategies: whether an integration's owner replaces the CRM's, and why.

Pure: the record's state, the event's time, the strategy and the mapping are passed in; the
answer is a :class:`Verdict` with a reason a RevOps admin can read.

The checks, in order (the first that applies decides):
1. the event names no owner: ignored — an event without an owner never clears one;
   an owner leadsync itself wrote to the integration coming back (its echo,
   :mod:`leadsync.rules.echoes`): ignored — leadsync's own change, not the integration's;
2. the event is older than the record's owner as last given — the change that set it, or a
   later event of the same source giving that owner again — and that came from the same
   integration (an event arriving out of order) or the strategy is ``bidirectional`` (most
   recent change wins): ignored (stale);
3. the rep maps to nobody and the policy leaves it so: ignored, flagged;
4. a person set the owner in the CRM less than ``protect_manual_days`` before the event: kept;
5. the strategy: a new record always takes the owner; on an existing record
   ``integration_wins`` and ``bidirectional`` set it, ``fill_if_empty`` only when it has none,
   ``never_overwrite`` never (not even an empty one);
6. the proposed owner is already the owner (for a round robin: an active member of the team
   owns the record already): kept;
7. under ``bidirectional``, on a record that has an owner, an integration giving the same rep
   it last gave for the record (:class:`GivenRep`), or an event older than that, makes no owner
   change: ignored — the tools that send the current owner with every edit would else undo
   every change made elsewhere since.
"""

from __future__ import annotations

from dataclasses import dataclass

from leadsync.model import (
    CRM_SOURCE,
    ExternalUserRef,
    MappingResult,
    Outcome,
    RecordType,
    Strategy,
    add_days,
    display_ts,
)
from leadsync.rules.echoes import OwnerWritten, echo_reason, stays


@dataclass(slots=True)
class OwnerContext:
    """The record as the ownership rules see it, before the event."""

    record_type: RecordType
    is_new: bool
    owner_id: str | None
    owner_changed_at: str | None = None
    owner_source: str | None = None
    manual_owner_at: str | None = None
    # When the owner source last gave the owner, by its clock (None: owner_changed_at).
    owner_source_at: str | None = None


@dataclass(frozen=True, slots=True)
class GivenRep:
    """The rep an integration last gave as a record's owner (:func:`rep_key`) and when, by
    the integration's clock; kept per identity (the record as that integration names it)."""

    rep: str
    at: str


def rep_key(rep: ExternalUserRef | None) -> str | None:
    """Who a rep is, to compare what an integration gives with what it gave: its id, else
    its email (an email sent along with the id some times and not others changes nothing)."""
    return None if rep is None else rep.id or rep.email


@dataclass(slots=True)
class Verdict:
    outcome: Outcome
    owner_id: str | None
    proposed_owner_id: str | None
    reason: str
    flagged: bool = False


def _who(owner_id: str | None) -> str:
    return owner_id if owner_id is not None else "no owner"


def manual_protection_until(
    ctx: OwnerContext, occurred_at: str, protect_manual_days: float
) -> str | None:
    """When a person's owner choice stops being protected, if it still is at ``occurred_at``."""
    if protect_manual_days <= 0 or ctx.owner_source != CRM_SOURCE or ctx.manual_owner_at is None:
        return None
    until = add_days(ctx.manual_owner_at, protect_manual_days)
    return until if occurred_at < until else None


def decide_owner(
    ctx: OwnerContext,
    occurred_at: str,
    strategy: Strategy,
    protect_manual_days: float,
    mapping: MappingResult | None,
    round_robin_candidate: str | None = None,
    integration: str | None = None,
    round_robin_members: tuple[str, ...] = (),
    rule: str | None = None,
    rep: str | None = None,
    given: GivenRep | None = None,
    echoed: OwnerWritten | None = None,
) -> Verdict:
    """Decide one record's owner for one event from ``integration``.

    ``round_robin_candidate`` is the owner whose turn it is when the mapping sends the rep to a
    round robin, ``round_robin_members`` the team's active owners: a record one of them owns
    already stays theirs (round robin deals a record to its team once; it never takes it
    from one member for the next). The caller turns the rotation only when the verdict is
    ``set``. ``rule`` names what weighs the owner in the reason when it is not the strategy
    itself (``assign_on_activity``, weighed as ``strategy``). ``rep`` is the event's rep
    (:func:`rep_key`), ``given`` what ``integration`` last gave for the record (check 7),
    ``echoed`` the owner leadsync wrote to it that this event reports back (check 1).
    """
    current = ctx.owner_id
    kind = ctx.record_type.value
    if mapping is None:
        what = f"the new {kind} has no owner" if ctx.is_new else f"{stays(current)}"
        return Verdict(
            Outcome.IGNORED,
            current,
            None,
            f"ignored: the event names no owner, so {what}; an event without an owner never "
            "clears one",
        )
    proposed = mapping.owner_id if mapping.round_robin_team is None else round_robin_candidate
    if echoed is not None:
        reason = echo_reason(integration or "the integration", f"rep {rep}", echoed, current)
        return Verdict(Outcome.IGNORED, current, proposed, reason)
    # A record one of the team's active owners has is the team's already: no turn is taken.
    with_team = not ctx.is_new and current is not None and current in round_robin_members
    if mapping.round_robin_team is not None and with_team:
        proposed = current
    if not ctx.is_new and ctx.owner_changed_at is not None and occurred_at < ctx.owner_changed_at:
        if strategy is Strategy.BIDIRECTIONAL:
            return Verdict(
                Outcome.IGNORED,
                current,
                proposed,
                f"ignored: stale under bidirectional: the event happened at "
                f"{display_ts(occurred_at)}, before the owner was last given, at "
                f"{display_ts(ctx.owner_changed_at)}; {stays(current)}",
            )
        given_at = ctx.owner_source_at or ctx.owner_changed_at
        ours = integration is not None and ctx.owner_source == integration
        before = f"the owner {integration} gave at {display_ts(given_at)}"
        if not ours and given is not None:
            # Its owner replaced since, or never taken (kept out by the strategy): its own
            # later word stands, taken or not.
            ours, given_at = integration is not None, given.at
            before = f"{integration}'s own later word, rep {given.rep} at {display_ts(given.at)}"
        if ours and occurred_at < given_at:
            return Verdict(
                Outcome.IGNORED,
                current,
                proposed,
                f"ignored: stale: the event happened at {display_ts(occurred_at)}, before "
                f"{before} (it arrived out of order); {stays(current)}",
            )
    if proposed is None:
        return Verdict(
            Outcome.IGNORED,
            current,
            None,
            f"ignored: {mapping.how}; {stays(current)}",
            flagged=True,
        )
    if not ctx.is_new:
        until = manual_protection_until(ctx, occurred_at, protect_manual_days)
        if until is not None and proposed != current:
            return Verdict(
                Outcome.KEPT,
                current,
                proposed,
                f"kept {_who(current)}: a person {'set' if current else 'cleared'} the owner "
                f"in the CRM at {display_ts(ctx.manual_owner_at)}, protected for "
                f"{protect_manual_days:g} days until {display_ts(until)}; {mapping.kept_out()}",
                flagged=mapping.flagged,
            )
        refusal = _strategy_refusal(ctx, strategy)
        if refusal is not None:  # with the owner it kept out, and why that one was proposed
            return Verdict(
                Outcome.KEPT,
                current,
                proposed,
                f"{refusal}; {mapping.kept_out()}",
                flagged=mapping.flagged,
            )
    if proposed == current:
        already = (
            f"the {kind} is with {current} of team {mapping.round_robin_team} already, and "
            "round robin never takes a record from one member for the next (no turn is taken)"
            if mapping.round_robin_team is not None
            else "already the owner"
        )
        return Verdict(
            Outcome.KEPT,
            current,
            proposed,
            f"kept {_who(current)}: {already}; {mapping.kept_out()}",
            flagged=mapping.flagged,
        )
    if strategy is Strategy.BIDIRECTIONAL and not ctx.is_new and current is not None:
        unchanged = _no_change(rep, given, occurred_at, integration)
        if unchanged is not None:
            return Verdict(
                Outcome.IGNORED,
                current,
                proposed,
                f"ignored: {unchanged}; the owner stays {current}; {mapping.kept_out()}",
                mapping.flagged,
            )
    name = strategy.value if rule is None else f"{rule} (weighed as {strategy.value})"
    if ctx.is_new:
        why = f"{name} and the {kind} is new"
    elif current is None:
        why = f"{name} and the {kind} had no owner"
    elif strategy is Strategy.BIDIRECTIONAL:
        why = f"bidirectional and this is the most recent change (was {current})"
    else:
        why = f"{strategy.value} replaces {current}"
    return Verdict(
        Outcome.SET, proposed, proposed, f"set {proposed}: {why}; {mapping.how}", mapping.flagged
    )


def _no_change(
    rep: str | None, given: GivenRep | None, occurred_at: str, integration: str | None
) -> str | None:
    """Why the owner an event gives is no owner change under bidirectional (check 7): the
    integration gave that rep last time (even if the rep maps to another owner since: a
    ``users.map`` change moves no record), or it has given a rep for the record since this
    event happened. None: a change (the integration's first owner for the record, or
    another rep)."""
    if rep is None or given is None:
        return None
    who = integration or "the integration"
    if rep == given.rep:
        return (
            f"{who} gave the same rep as before (rep {rep}): not an owner change, and under "
            "bidirectional only a change moves the owner"
        )
    if occurred_at < given.at:
        return (
            f"stale: {who} gave rep {given.rep} at {display_ts(given.at)}, after this event "
            f"at {display_ts(occurred_at)} (it arrived out of order)"
        )
    return None


def _strategy_refusal(ctx: OwnerContext, strategy: Strategy) -> str | None:
    """Why the strategy keeps an existing record's owner, or None when it may change it."""
    kind = ctx.record_type.value
    current = ctx.owner_id
    if strategy is Strategy.FILL_IF_EMPTY and current is not None:
        return f"kept {current}: fill_if_empty and the {kind} already has an owner"
    if strategy is Strategy.NEVER_OVERWRITE:
        if current is None:
            return (
                f"kept no owner: never_overwrite and the {kind} already existed; an owner is "
                f"set only by the event that creates the {kind}, and a {kind} that was created "
                "without one stays so"
            )
        return f"kept {current}: never_overwrite and the {kind} already existed"
    return None


def decide_crm_change(
    ctx: OwnerContext,
    occurred_at: str,
    owner_id: str | None,
    known_owner: bool,
    source: str | None,
    by_person: bool = False,
    active_owner: bool = True,
) -> Verdict:
    """The CRM itself (``source``, e.g. a HubSpot integration) reports an owner change; with
    no source, a person's change was told to leadsync directly (``records set-owner``).

    The CRM is the record of truth for its own changes, so a change is taken as it is,
    unless a more recent owner change is already known (most recent change wins). An owner
    the workspace does not know is still taken, and flagged; so is one it holds inactive
    (``active_owner`` False: archived in the CRM, or ``active: false``). A person
    (``by_person``) who chooses the owner the record has makes it their choice all the same
    (kept, and the caller starts ``protect_manual_days`` from it).
    """
    current = ctx.owner_id
    if ctx.owner_changed_at is not None and occurred_at < ctx.owner_changed_at:
        told = (
            f"{source} reports a change made"
            if source is not None
            else "the person's change was made"
        )
        return Verdict(
            Outcome.IGNORED,
            current,
            owner_id,
            f"ignored: stale: {told} at {display_ts(occurred_at)}, before the last owner "
            f"change at {display_ts(ctx.owner_changed_at)}; {stays(current)}",
        )
    if owner_id == current:
        same = (
            f"{source} reports the same owner{' chosen by a person' if by_person else ''}"
            if source is not None
            else "a person chose the owner it already had"
        )
        if by_person:  # protect_manual_days counts from here (as for a change)
            same += ", which counts as their choice from now"
        return Verdict(Outcome.KEPT, current, owner_id, f"kept {_who(current)}: {same}")
    unknown = (
        ""
        if owner_id is None or (known_owner and active_owner)
        else f"; {owner_id} is {'inactive' if known_owner else 'not a known owner'}"
    )
    if source is None:
        changed = f"a person changed the owner in the CRM (was {_who(current)})"
    else:
        changed = (
            f"the owner was changed in the CRM{' by a person' if by_person else ''} "
            f"({source}; was {_who(current)})"
        )
    return Verdict(
        Outcome.SET,
        owner_id,
        owner_id,
        f"set {_who(owner_id)}: {changed}" + unknown,
        flagged=bool(unknown),
    )


def decide_against_crm(
    ctx: OwnerContext,
    crm_owner: str | None,
    seen_at: str,
    strategy: Strategy,
    protect_manual_days: float,
    matched: bool,
    last_written: str | None = None,
    crm_changed_at: str | None = None,
) -> Verdict:
    """Before an owner is written to the CRM, the CRM's own owner turned out different from
    what leadsync last wrote (a person changed it there and its webhook has not arrived), or
    the record already existed in the CRM (``matched``: found by email or domain).

    The pending change (``ctx.owner_id``, made at ``ctx.owner_changed_at``) is decided again
    by :func:`decide_owner` against the record as the CRM has it: the CRM's owner is dated
    ``crm_changed_at`` when the CRM says when it was assigned (HubSpot's
    ``hubspot_owner_assigneddate``) — under bidirectional a newer change of leadsync's then
    replaces it and an older one does not, whether the record was matched or created by
    leadsync and changed there since — else ``seen_at`` (the most recent change, then). The
    verdict's ``owner_id`` is the owner to keep.
    """
    ours = ctx.owner_id
    if matched and crm_owner is None and crm_changed_at is None and ours is not None:
        # The record was in the CRM before leadsync knew it, and no owner was ever assigned
        # there: nothing to weigh — an owner that was never given clears none.
        return Verdict(
            Outcome.KEPT,
            ours,
            ours,
            f"the {ctx.record_type.value} already existed in the CRM with no owner, never "
            f"assigned there: leadsync's owner {ours} is written to it",
        )
    crm = OwnerContext(
        record_type=ctx.record_type,
        is_new=False,
        owner_id=crm_owner,
        owner_changed_at=crm_changed_at or seen_at,
        owner_source="crm-side",
    )
    mapping = (
        None
        if ours is None
        else MappingResult(owner_id=ours, mapped=True, how=f"{ours} is the owner leadsync had")
    )
    verdict = decide_owner(
        crm, ctx.owner_changed_at or seen_at, strategy, protect_manual_days, mapping
    )
    if matched:
        why = f"the {ctx.record_type.value} already existed in the CRM with owner {_who(crm_owner)}"
    else:
        was = f"; leadsync last wrote {_who(last_written)}" if last_written != crm_owner else ""
        when = (
            f"changed there at {display_ts(crm_changed_at)}"
            if crm_changed_at
            else f"seen at {display_ts(seen_at)}"
        )
        why = (
            f"before the push, the CRM's owner had been changed to {_who(crm_owner)} ({when}{was})"
        )
    if verdict.owner_id != ours:  # the CRM's owner stays: leadsync's record takes it
        return Verdict(
            Outcome.SET,
            verdict.owner_id,
            ours,
            f"{why}: {verdict.reason}; so leadsync's owner becomes {_who(verdict.owner_id)} "
            f"(was {_who(ours)})",
            verdict.flagged,
        )
    return Verdict(
        verdict.outcome, verdict.owner_id, ours, f"{why}: {verdict.reason}", verdict.flagged
    )


def activity_fills_owner(assign_on_activity: bool, mapping: MappingResult | None) -> bool:
    """Whether an activity's rep may fill a named record's empty owner: the settings say
    ``assign_on_activity`` and the rep is mapped (not sent to a fallback owner or a round
    robin, which deal records, not activities)."""
    return assign_on_activity and mapping is not None and mapping.mapped


def assign_on_activity_strategy(strategy: Strategy) -> Strategy:
    """The strategy an activity's rep is weighed under when it fills a named record's empty
    owner (``assign_on_activity``): ``never_overwrite`` stays so (only a record the
    activity creates gets an owner); every other strategy becomes ``fill_if_empty`` — an
    activity never replaces an owner."""
    return (
        Strategy.NEVER_OVERWRITE if strategy is Strategy.NEVER_OVERWRITE else Strategy.FILL_IF_EMPTY
    )


def echo_verdict(current_owner: str | None, reported: str | None, source: str) -> Verdict:
    """The CRM (``source``) reports an owner leadsync itself wrote there: its own change
    echoed back, ignored — neither a person's change (no protection starts) nor a change to
    send on."""
    return Verdict(
        Outcome.IGNORED,
        current_owner,
        reported,
        f"ignored: {source} reports {reported or 'no owner'}, the owner "
        "leadsync itself wrote to the CRM (its own change echoed back)",
    )


def late_crm_verdict(
    current_owner: str | None,
    reported: str | None,
    source: str,
    changed_at: str,
    written_at: str | None,
) -> Verdict | None:
    """The CRM (``source``) tells a change of the owner to ``reported`` made at
    ``changed_at``, before leadsync's last owner write there, sent at ``written_at``: that
    write replaced it in the CRM, so it is not the owner the CRM has (a webhook delivered
    late — an earlier write of leadsync's echoed, or a change someone made before): ignored.
    None when it happened after (or leadsync's write time is not known)."""
    if written_at is None or changed_at >= written_at:
        return None
    return Verdict(
        Outcome.IGNORED,
        current_owner,
        reported,
        f"ignored: {source} reports {reported or 'no owner'} as of {display_ts(changed_at)}, "
        f"before leadsync's owner write to it at {display_ts(written_at)}, which replaced it "
        f"there: a webhook delivered late, not the owner {source} has now; the owner stays "
        f"{_who(current_owner)}",
    )


def decide_join_owner(
    kept: OwnerContext,
    absorbed_owner: str | None,
    merged: str,
    kept_name: str,
    source: str,
    merged_at: str,
) -> Verdict | None:
    """A tool (``source``) merged two records leadsync held as two, at ``merged_at``: the
    one named ``merged`` (``contact 12``, its owner ``absorbed_owner``) is joined into the
    kept one (``kept_name``, whose owner is ``kept``'s). The kept record's owner stays: a
    merge is no owner change, and the kept record's is what the tool shows on the record it
    kept. Only a kept record with no owner takes the absorbed one's — the person its tools
    gave the absorbed record is still the person's owner, and nothing else names one. None:
    nothing to decide (the same owner, or neither has one)."""
    when = display_ts(merged_at)
    if kept.owner_id == absorbed_owner or absorbed_owner is None:
        return None
    if kept.owner_id is None:
        return Verdict(
            Outcome.SET,
            absorbed_owner,
            absorbed_owner,
            f"set {absorbed_owner}: {source} merged {merged} into {kept_name} at {when}; "
            f"{kept_name} had no owner, so it takes {merged}'s",
        )
    return Verdict(
        Outcome.KEPT,
        kept.owner_id,
        absorbed_owner,
        f"kept {kept.owner_id}: {source} merged {merged} (owner {absorbed_owner}) into "
        f"{kept_name} at {when}; the kept record's owner stays",
    )


def merged_away_verdict(
    current: str | None, integration: str, merged: str, merged_at: str, occurred_at: str
) -> Verdict:
    """An event of ``merged``, an id ``integration`` merged into another at ``merged_at``,
    that happened before the merge (a redelivery, a late delivery): its owner is that of a
    record the tool no longer has — the record it kept says its own, as of the merge."""
    return Verdict(
        Outcome.IGNORED,
        current,
        None,
        f"ignored: stale: {integration} merged {merged} into another at "
        f"{display_ts(merged_at)}, after this event ({display_ts(occurred_at)}): its owner was "
        f"the merged-away record's; {stays(current)}",
    )

"""The owner compare-and-set: before an owner is written where HubSpot's own may stand (a
matched object, or a strategy that does not always overwrite), HubSpot's current owner is read;
where it is not the one leadsync last wrote, the engine's rule decides again, and the decision
is recorded with its reason and passed on to the bidirectional integrations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.engine import Connection

from leadsync.destinations.hubspot.cycle.results import ResultsMixin
from leadsync.destinations.hubspot.cycle.slice import BATCH, PushObject, in_chunks
from leadsync.destinations.hubspot.objects import OWNER_ASSIGNED, from_hubspot_time
from leadsync.engine import WorkspaceRules, write_owner_changes
from leadsync.model import CRM_SOURCE, OwnerDecision, RecordType, Strategy, epoch_ts
from leadsync.rules.ownership import OwnerContext, decide_against_crm
from leadsync.store import batch as batch_store


class OwnersMixin(ResultsMixin):
    """Comparing HubSpot's owners before writing ours."""

    def compare_owners(
        self,
        objs: Sequence[PushObject],
        hubspot_owners: dict[int, str | None],
        wanted: dict[int, str | None],
        matched: set[tuple[str, int]],
    ) -> None:
        """Compare-and-set: read HubSpot's owners, and where HubSpot's owner is not the one
        leadsync last wrote, decide again with the engine's rule."""
        unknown = [o for o in objs if o.id not in hubspot_owners]
        assigned = self.owner_assigned  # when HubSpot's owner was assigned, if it says
        chunks = [list(c) for c in in_chunks(unknown, BATCH)]
        answers = self.send_all(
            [
                (
                    "POST",
                    self.p.paths.batch(chunk[0].type, "read"),
                    {
                        "inputs": [{"id": self.ids[(o.kind, o.id)]} for o in chunk],
                        "properties": ["hubspot_owner_id", OWNER_ASSIGNED],
                    },
                )
                for chunk in chunks
            ]
        )
        for chunk, answer in zip(chunks, answers, strict=True):
            by_hs = {self.ids[(o.kind, o.id)]: o for o in chunk}
            for item in answer.body.get("results") or []:
                obj = by_hs.get(str(item["id"]))
                if obj is not None:
                    properties = item.get("properties") or {}
                    hubspot_owners[obj.id] = properties.get("hubspot_owner_id") or None
                    assigned[obj.id] = from_hubspot_time(properties.get(OWNER_ASSIGNED))
        self.result.owner_checks += len(objs)
        decisions: list[OwnerDecision] = []
        updates: list[dict[str, Any]] = []
        confirmed: list[PushObject] = []
        confirmed_owners: dict[int, str | None] = {}
        now = epoch_ts(self.p.clock())
        for obj in objs:
            assert obj.row is not None
            if obj.id not in hubspot_owners:
                continue
            hubspot = hubspot_owners[obj.id]
            last = (obj.pushed or {}).get("pushed_owner_id")
            ours = obj.row.get("owner_id")
            is_matched = (obj.kind, obj.id) in matched
            if hubspot == ours:
                wanted.pop(obj.id, None)
                hubspot_owners[obj.id] = hubspot
                continue
            pushed = obj.pushed or {}
            ours_before = {last}
            if pushed.get("owner_sent_at") is not None:
                ours_before.add(pushed.get("owner_sent_id"))
            # HubSpot's owner the push kept before (a person's): known, decided against then
            followed = pushed.get("followed_owner_id")
            if not is_matched and followed is not None and hubspot == (followed or None):
                continue  # leadsync's owner changed since, knowing it: written over it
            if not is_matched and hubspot in ours_before:
                if hubspot != last:
                    # Our unconfirmed write had landed: confirm it before the next intent
                    # replaces it (else a second crash would leave neither on record).
                    confirmed.append(obj)
                    confirmed_owners[obj.id] = hubspot
                continue  # HubSpot has what we wrote: write the new owner
            strategy = self.owner_source_strategy(obj) or Strategy.FILL_IF_EMPTY
            settings = self.rules.integrations.get(str(obj.row.get("owner_source")))
            protect = settings.ownership.protect_manual_days if settings else 0.0
            verdict = decide_against_crm(
                OwnerContext(
                    record_type=RecordType(obj.type),
                    is_new=False,
                    owner_id=ours,
                    owner_changed_at=obj.row.get("owner_changed_at"),
                    owner_source=obj.row.get("owner_source"),
                    manual_owner_at=obj.row.get("manual_owner_at"),
                ),
                crm_owner=hubspot,
                seen_at=now,
                strategy=strategy,
                protect_manual_days=protect,
                matched=is_matched,
                last_written=last,
                crm_changed_at=assigned.get(obj.id),
            )
            self.result.owner_redecided += 1
            final = verdict.owner_id
            # The owner it replaces: leadsync's where HubSpot's is kept (the record follows
            # it), HubSpot's where leadsync's is written over it ("102 -> 102" said nothing)
            decisions.append(
                OwnerDecision(
                    record_id=obj.id,
                    record_type=RecordType(obj.type),
                    event_id=None,
                    integration=None,
                    strategy=strategy.value,
                    at=now,
                    decided_at=now,  # decided at the push, as it is dated
                    previous_owner_id=ours if final == hubspot else hubspot,
                    proposed_owner_id=verdict.proposed_owner_id,
                    owner_id=final,
                    outcome=verdict.outcome,
                    reason=verdict.reason,
                    flagged=verdict.flagged,
                )
            )
            if final == hubspot:
                wanted.pop(obj.id, None)
                hubspot_owners[obj.id] = hubspot
                if final != ours:
                    updates.append(
                        {
                            "id": obj.id,
                            "owner_id": final,
                            # when HubSpot says it was assigned: a change of the tool's
                            # made after it, arriving later, is the most recent one
                            "owner_changed_at": assigned.get(obj.id) or now,
                            "owner_source": CRM_SOURCE,
                        }
                    )
                    obj.row["owner_id"] = final
            else:
                wanted[obj.id] = final
        if confirmed:
            self.save(confirmed, confirmed_owners, written=True)
        theirs = {int(u["id"]) for u in updates}  # the records that follow HubSpot's owner
        if decisions:
            # Their decisions change the owner: not those writing leadsync's over HubSpot's,
            # which name HubSpot's as the owner they replace.
            changed = [d for d in decisions if d.record_id in theirs]

            def record(c: Connection) -> None:
                batch_store.insert_owner_decisions(c, decisions)
                # HubSpot's owner kept: whoever chose it there, it is not the choice a
                # person made earlier, whose protection ends with it.
                batch_store.set_owners(c, updates, end_protection=True)
                # HubSpot's owner goes on to the bidirectional integrations; not to the push.
                write_owner_changes(c, _without_push(self.rules), changed)

            self.write(record)
        # Objects whose owner HubSpot keeps: remember that HubSpot has it — as leadsync's own
        # write only where it is (HubSpot has what leadsync has). An owner someone else gave
        # there and the push kept is not: its webhook, arriving after, is that change told
        # (a person's starts the person's protection), never leadsync's write echoed back;
        # nor is leadsync's last write what HubSpot has then (a change back to it is sent).
        kept = [o for o in objs if o.id not in wanted and o.id in hubspot_owners]
        self.save(
            [o for o in kept if o.id not in theirs], {o.id: hubspot_owners[o.id] for o in kept}
        )
        followed = [o for o in kept if o.id in theirs]
        self.save(
            followed, {}, owner_known=False, followed={o.id: hubspot_owners[o.id] for o in followed}
        )


def _without_push(rules: WorkspaceRules) -> WorkspaceRules:
    """The rules with pushing off: HubSpot's own owner is not pushed back to it (the rest,
    dedupe rules and free-mail domains included, as they are)."""
    return replace(rules, push=False)

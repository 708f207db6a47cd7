"""Records and activities a person archived or deleted in HubSpot. leadsync still holds
them, and their tools still speak of them: an update of one is refused (``OBJECT_NOT_FOUND``),
and so is every activity created with a link to a record gone. Once a cycle has had refusals,
the objects they involve (the refused object itself, the records a refused activity or link
names) are read back from HubSpot in one batch read per type; those HubSpot does not return
are gone there. Their HubSpot ids are forgotten and they are queued to be created again, with
their links (a record's timeline of activities HubSpot has, an activity's records), as are
the refused objects that named them; a push failure on each says so, closed once it is
created again. Nothing is read when nothing was refused.

A record a person merged into another in HubSpot is not gone: a read of its id returns the
merged record, under that record's id, with the ids merged into it (``hs_merged_object_ids``;
HubSpot's merge of contacts and companies makes a new record). The push follows it there —
that id is the record's from now on, and it and the refused objects that named it are queued
again — rather than creating it again, which would undo the person's merge.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from leadsync.destinations.hubspot.client import Answer
from leadsync.destinations.hubspot.cycle.results import ResultsMixin, failure_row
from leadsync.destinations.hubspot.cycle.slice import BATCH, PushObject, in_chunks
from leadsync.destinations.hubspot.objects import MERGED_IDS
from leadsync.model import now_ts
from leadsync.store import push as push_store
from leadsync.store import push_gone

log = logging.getLogger("leadsync.push")


class GoneMixin(ResultsMixin):
    """Finding, after a cycle's refusals, the records HubSpot no longer has."""

    def find_gone(self) -> None:
        if not self.refused_now or self.p.dry_run:
            return
        # (kind, type, HubSpot id) -> local id; local (kind, id) -> refused objects naming it
        named: dict[tuple[str, str, str], int] = {}
        naming: dict[tuple[str, int], list[PushObject]] = {}
        for obj in self.refused_now:
            involved = [(obj.kind, obj.id)] + [(k, i) for k, i, _p in self.links_of(obj)]
            for kind, local_id in involved:
                hubspot_id = self.ids.get((kind, local_id))
                otype = obj.type if (kind, local_id) == (obj.kind, obj.id) else None
                otype = otype or self.other_type(kind, local_id)
                if hubspot_id is None or otype is None:
                    continue
                named[(kind, otype, hubspot_id)] = local_id
                naming.setdefault((kind, local_id), []).append(obj)
        gone: dict[tuple[str, int], tuple[str, str]] = {}
        merged: dict[tuple[str, int], tuple[str, str, str]] = {}  # (type, old id, new id)
        by_type: dict[tuple[str, str], list[str]] = {}
        for kind, otype, hubspot_id in named:
            by_type.setdefault((kind, otype), []).append(hubspot_id)
        for (kind, otype), ids in sorted(by_type.items()):
            for chunk in in_chunks(sorted(set(ids)), BATCH):
                answer = self.send(
                    "POST",
                    self.p.paths.batch(otype, "read"),
                    {"inputs": [{"id": i} for i in chunk], "properties": [MERGED_IDS]},
                )
                into = _merged_into(answer, chunk)
                for hubspot_id in _missing(answer, chunk):
                    key = (kind, named[(kind, otype, hubspot_id)])
                    if hubspot_id in into:
                        merged[key] = (otype, hubspot_id, into[hubspot_id])
                    else:
                        gone[key] = (otype, hubspot_id)
        if merged:
            self._follow(merged, naming)
        gone = self._only_hubspots(gone, naming)
        if gone:
            self._forget(gone, naming)

    def _only_hubspots(
        self,
        gone: dict[tuple[str, int], tuple[str, str]],
        naming: dict[tuple[str, int], list[PushObject]],
    ) -> dict[tuple[str, int], tuple[str, str]]:
        """``gone`` less the records only HubSpot ever named — its webhooks made them, no
        tool's event, no activity, no refused object of this cycle names them: a person
        deleted one there, and created again it came back empty (found by a probe). Their
        HubSpot ids are forgotten and nothing is queued; the rest is returned."""
        alone = [
            local_id
            for (kind, local_id) in gone
            if kind == push_store.RECORD
            and all((o.kind, o.id) == (kind, local_id) for o in naming[(kind, local_id)])
        ]
        if not alone:
            return gone
        hubspots = [n for n, s in self.rules.integrations.items() if s.kind == "hubspot"]
        with self.p.reading() as connection:
            named = push_gone.named_by_tools(connection, alone, hubspots)
        dropped = {
            (push_store.RECORD, i): gone[(push_store.RECORD, i)] for i in alone if i not in named
        }
        if not dropped:
            return gone
        for (_kind, local_id), (otype, hubspot_id) in sorted(dropped.items()):
            log.warning(
                "%s %s: HubSpot no longer has %s %s (archived or deleted there), and only "
                "HubSpot named it: leadsync forgot that id and does not create it again",
                otype, local_id, otype, hubspot_id,
            )  # fmt: skip
            self.ids.pop((push_store.RECORD, local_id), None)
            self.result.count(self.result.forgotten, otype)
        self.write(lambda c: push_gone.forget_hubspots(c, [i for _k, i in dropped]))
        return {key: value for key, value in gone.items() if key not in dropped}

    def _follow(
        self,
        merged: dict[tuple[str, int], tuple[str, str, str]],
        naming: dict[tuple[str, int], list[PushObject]],
    ) -> None:
        """Records a person merged into another in HubSpot: the merged record's id is theirs
        from now on; they and the refused objects naming them are queued again."""
        at = now_ts()
        again = {(o.kind, o.id): o for key in merged for o in naming[key]}
        for (kind, local_id), (otype, old, new) in sorted(merged.items()):
            log.info(
                "%s %s: HubSpot merged %s %s into %s %s; leadsync writes to %s from now on",
                otype, local_id, otype, old, otype, new, new,
            )  # fmt: skip
            self.ids[(kind, local_id)] = new
            self.result.count(self.result.merged, otype)

        def record(c: Connection) -> None:
            push_gone.follow_merged(c, merged)
            push_store.requeue(
                c,
                [{"kind": o.kind, "local_id": o.id, "object_type": o.type} for o in again.values()],
                at,
            )

        self.write(record)

    def _forget(
        self,
        gone: dict[tuple[str, int], tuple[str, str]],
        naming: dict[tuple[str, int], list[PushObject]],
    ) -> None:
        at = now_ts()
        again = {
            (o.kind, o.id): o for key in gone for o in naming[key] if (o.kind, o.id) not in gone
        }
        rows: list[dict[str, Any]] = []
        for (kind, local_id), (otype, hubspot_id) in sorted(gone.items()):
            linked = "its activities" if kind == push_store.RECORD else "its records"
            message = (
                f"HubSpot no longer has {otype} {hubspot_id} (archived or deleted there): "
                f"leadsync forgot that id and creates the {otype} again with what it holds, "
                f"linked to {linked}"
            )
            log.warning("%s %s: %s", otype, local_id, message)
            self.ids.pop((kind, local_id), None)
            gone_object = PushObject(kind, local_id, otype, None, None)
            rows.append(failure_row(gone_object, "read", "OBJECT_NOT_FOUND", message, at, 404))
            self.result.count(self.result.gone, otype)

        def record(c: Connection) -> None:
            push_gone.forget_gone(c, gone, self.hubspot_integrations, at)
            push_store.add_failures(c, rows)
            push_store.requeue(
                c,
                [{"kind": o.kind, "local_id": o.id, "object_type": o.type} for o in again.values()],
                at,
            )

        self.write(record)


def _merged_into(answer: Answer, asked: Sequence[str]) -> dict[str, str]:
    """The ids of a batch read that HubSpot answered with the record they are merged into:
    asked id -> that record's id (a result not asked for, whose ``hs_merged_object_ids``
    names it)."""
    if answer.status not in (200, 207):
        return {}
    wanted = set(asked)
    into: dict[str, str] = {}
    for result in answer.body.get("results") or []:
        if not isinstance(result, dict) or str(result.get("id")) in wanted:
            continue
        listed = str((result.get("properties") or {}).get(MERGED_IDS) or "")
        for old in listed.split(";"):
            if old.strip() in wanted:
                into[old.strip()] = str(result["id"])
    return into


def _missing(answer: Answer, asked: Sequence[str]) -> set[str]:
    """The ids of a batch read HubSpot does not have: those a 200 or 207 does not return,
    or those an error of category OBJECT_NOT_FOUND names (HubSpot may answer 404 when it
    has none); nothing on any other answer (a doubt forgets nothing)."""
    if answer.status in (200, 207):
        found = {str(r.get("id")) for r in answer.body.get("results") or [] if isinstance(r, dict)}
        return {i for i in asked if i not in found}
    named: set[str] = set()
    for error in answer.body.get("errors") or [answer.body]:
        if isinstance(error, dict) and error.get("category") == "OBJECT_NOT_FOUND":
            for ids in (error.get("context") or {}).values():
                named.update(str(i) for i in ids or () if isinstance(ids, list))
    return named & set(asked)

"""``leadsync demo``: the whole path on the bundled sample, in a workspace of its own.

It never opens the user's workspace (``--db``, ``LEADSYNC_DB`` or ``./leadsync.db``): it
works in its own file, which it makes anew each run and marks as the demo's; a file of that
name that is not a demo workspace is refused, never overwritten. HubSpot is a local stand-in
(:mod:`leadsync.destinations.hubspot.fake`) on a free port, for the length of the demo.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console

from leadsync.destinations.hubspot import portal
from leadsync.destinations.hubspot.fake import HubSpotDouble, serving
from leadsync.destinations.hubspot.objects import Paths
from leadsync.errors import WorkspaceError
from leadsync.model import display_ts
from leadsync.settings import config_from_dict, config_to_dict, load_config
from leadsync.store import config as config_store
from leadsync.store.database import begin_writing
from leadsync.workspace import Workspace

DEMO_MARK = "demo_workspace"
TOKEN_ENV = "LEADSYNC_DEMO_HUBSPOT_TOKEN"
# The stand-in's token: a demo value, not a secret (the stand-in is local and temporary).
DEMO_TOKEN = "demo-stand-in-token"


def _fresh_workspace(path: Path) -> Workspace:
    if path.exists():
        probe = Workspace(f"sqlite:///{path}", auto_migrate=False)
        try:
            with probe.engine.connect() as connection:
                marked = config_store.read_setting(connection, DEMO_MARK)
        except Exception:
            marked = None
        finally:
            probe.close()
        if not marked:
            raise WorkspaceError(
                f"{path} exists and is not a leadsync demo workspace; the demo does not touch "
                "it (choose another file with --file)"
            )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    ws = Workspace(f"sqlite:///{path}")
    with begin_writing(ws.engine) as connection:
        config_store.write_setting(connection, DEMO_MARK, {"file": str(path)})
    return ws


def _sample_config(base_url: str) -> dict[str, Any]:
    samples = resources.files("leadsync") / "samples"
    config = load_config(
        (samples / "workspace.yaml").read_text(encoding="utf-8"), "samples/workspace.yaml"
    )
    data = config_to_dict(config)
    data["owners"] = {"source": "hubspot"}
    data.pop("teams", None)
    data["teams"] = {"sdr": ["101", "102"]}
    data["destination"] = {
        "kind": "hubspot",
        "token_env": TOKEN_ENV,
        "base_url": base_url,
        "api_version": "2026-03",
    }
    return data


def run_demo(path: Path, out: Console) -> None:
    samples = resources.files("leadsync") / "samples"
    sample = load_config(
        (samples / "workspace.yaml").read_text(encoding="utf-8"), "samples/workspace.yaml"
    )
    double = HubSpotDouble(DEMO_TOKEN)
    for owner in sample.owner_specs:
        double.add_owner(
            owner.email,
            owner.first_name,
            owner.last_name,
            owner_id=owner.id,
            archived=not owner.active,
            teams=["sdr"] if owner.id in ("101", "102") else (),
        )
    os.environ[TOKEN_ENV] = DEMO_TOKEN
    ws = _fresh_workspace(path)
    try:
        with serving(double) as base_url:
            out.print(f"demo workspace: {path} (its own file; your workspace is untouched)")
            out.print(f"HubSpot: a local STAND-IN at {base_url} (not HubSpot)")
            data = _sample_config(base_url)
            # Owners come from HubSpot: the destination first, then the pull, then the rest.
            ws.apply_config(
                config_from_dict(
                    {"owners": data["owners"], "destination": data["destination"]}, "demo"
                )
            )
            ws.hubspot_setup()
            changes = ws.pull_owners()
            out.print(f"owners pulled from HubSpot: {', '.join(changes.owners_added)}")
            ws.apply_config(config_from_dict(data, "demo"))
            events = (samples / "events.jsonl").read_bytes().splitlines()
            summary = ws.ingest("dialer", events, source="samples/events.jsonl")
            applied = summary.applied
            out.print(
                f"ingested {summary.lines} events: {applied.records_created} records, "
                f"{applied.activities_created} activities, "
                f"{applied.activities_skipped} skipped by the filters"
            )
            result = ws.push()
            created = ", ".join(f"{n} {t}" for t, n in sorted(result.created.items()))
            out.print(f"pushed in {result.requests} requests: {created}")
            found = ws.find(email="kim@globex.test")
            if not found:
                return
            record = ws.record("contact", found[0]["id"])
            hubspot = record.get("hubspot") or {}
            with ws.hubspot_client() as client:
                contact = portal.read_contact_timeline(
                    client, Paths("2026-03"), str(hubspot.get("id"))
                )
            _print_contact(out, contact, record, ws.owner_names())
    finally:
        ws.close()


def _print_contact(
    out: Console, contact: dict[str, Any], record: dict[str, Any], names: dict[str, str]
) -> None:
    def owner(owner_id: str | None) -> str:  # as the CLI shows an owner: id and name
        return f"{owner_id} {names[owner_id]}" if owner_id in names else owner_id or "-"

    props = contact["properties"]
    out.print()
    out.print(
        f"[bold]HubSpot contact {contact['id']}[/] {props.get('email')} "
        f"(leadsync contact {record['id']})",
        markup=True,
    )
    out.print(f"owner: {owner(props.get('hubspot_owner_id'))}")
    reasons = [h for h in record["owner_history"] if h["outcome"] == "set"]
    if reasons:
        out.print(f"  why: {reasons[-1]['reason']}", markup=False)
    for to_type, ids in contact["associations"].items():
        if ids:
            out.print(f"{to_type}: {', '.join(ids)}")
    out.print(f"timeline ({len(contact['timeline'])} activities):")
    for item in contact["timeline"]:
        p = item["properties"]
        title = (
            p.get("hs_call_title")
            or p.get("hs_call_body")
            or p.get("hs_meeting_title")
            or p.get("hs_task_subject")
            or p.get("hs_email_subject")
            or p.get("hs_note_body")
            or ""
        )
        extra = []
        if p.get("hs_call_duration"):
            extra.append(f"{int(p['hs_call_duration']) // 1000} s")
        if p.get("hs_call_status"):
            extra.append(p["hs_call_status"])
        out.print(
            f"  {display_ts(p.get('hs_timestamp'))}  {item['type']:<8} {item['id']:<6} "
            f"owner {owner(p.get('hubspot_owner_id'))}  {title} {' '.join(extra)}".rstrip(),
            markup=False,
        )

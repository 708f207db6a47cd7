"""An integration keeps its kind while the inbox holds its events: each kind reads only its
own vendor's, so a kind changed by a file or the admin API made every stored event of it
unreadable — replays counted them "unreadable", retries failed — and was saved without a
word (found by a probe). Refused where it is written, saying what is allowed; an
integration with no events yet may still change its kind."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from leadsync.settings import config_to_dict
from leadsync.workspace import Workspace
from tests.helpers import KIM_CONTACT, settings, workspace_config
from tests.live import serve
from tests.test_admin_api import problem_of
from tests.test_cli import Cli

REFUSED = (
    "integrations.dialer.kind: 'aircall' would change the kind of an integration holding 1 "
    "inbox event of kind generic, which no other kind reads; allowed: generic (for aircall, "
    "add an integration under another name)"
)


def _file(tmp_path: Path, kind: str) -> Path:
    data = config_to_dict(workspace_config({"dialer": settings(), "quiet": settings()}))
    data["integrations"]["dialer"] = {"kind": kind, "secret_env": "DIALER_SECRET"}
    data["integrations"]["quiet"] = {"kind": "aircall", "secret_env": "QUIET_SECRET"}
    file = tmp_path / "leadsync.yaml"
    file.write_text(yaml.safe_dump(data, sort_keys=False))
    return file


def test_a_file_changing_the_kind_of_an_integration_with_events_is_refused_at_its_line(
    tmp_path: Path, db_url: str
) -> None:
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config({"dialer": settings(), "quiet": settings()}))
        assert ws.ingest("dialer", [json.dumps(KIM_CONTACT)]).ok
        before = config_to_dict(ws.export_config())
    file = _file(tmp_path, "aircall")
    line = 1 + file.read_text().splitlines().index("    kind: aircall")
    refused = Cli(db_url)("apply", str(file))
    assert refused.exit_code == 2, refused.output
    assert f"{file}:{line}: {REFUSED}" in refused.stderr
    with Workspace(db_url) as ws:
        assert config_to_dict(ws.export_config()) == before  # nothing half-applied
    # "quiet" holds no event: its kind may change (in a file that keeps dialer's).
    kept = _file(tmp_path, "generic")
    assert Cli(db_url)("apply", str(kept)).exit_code == 0
    with Workspace(db_url) as ws:
        assert ws.integration("quiet").kind == "aircall"


def test_the_admin_api_refuses_it_too(workspace: Workspace) -> None:
    workspace.apply_config(workspace_config({"dialer": settings()}))
    assert workspace.ingest("dialer", [json.dumps(KIM_CONTACT)]).ok
    with serve(workspace) as live:
        changed = {"kind": "aircall", "secret_env": "DIALER_SECRET"}
        response = live.client.put("/api/integrations/dialer/settings", json=changed)
        problem = problem_of(response, 422)
    assert problem["problems"] == [f"<api>: {REFUSED}"]
    assert workspace.integration("dialer").kind == "generic"

"""The OpenAPI document is the API: schemathesis (its CLI, as a user would run it) generates
requests for every operation from the document served at /openapi.json and checks every
answer against it — documented status codes, bodies matching their schemas, content types,
`Allow` on 405, no server errors — on a live server.

The operations on the paths of ``LOOSE`` below accept or refuse input by rules a JSON Schema
cannot hold, so the two checks that compare the schema's idea of valid input with the
server's are off for them (and only for them): a webhook body is whatever its vendor sends,
authenticated by a signature; integration settings (replaced, or given to a new integration)
are checked like the YAML file, which accepts shorthands (`meeting: true`, numeric ids) and
needs owners and teams that exist; retrying a dead letter answers 422 when the stored letter
still cannot be read; preview and replay take proposed settings, checked like the file; a
report's and a rollout's `since` is read by `since_ts` (30d, a date, an ISO time: no JSON
Schema pattern says which strings are times); a list's `integration` filter (the inbox, dead
letters and their count, the review queue) names an integration the workspace knows, else
400 naming the configured ones (the names change with the configuration: no schema holds
them); a lookup by email or domain takes text that reads as one, as `leadsync records
find` does, else 400 (the forms are the values module's, not a schema's). Those rules have
their own tests (test_service.py, test_admin_api.py,
test_faces_integration_filter.py); every other check still runs on them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from leadsync.workspace import Workspace
from tests.helpers import KIM_CONTACT
from tests.live import ADMIN_TOKEN, LiveServer, configure, serve

SCHEMATHESIS = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
LOOSE = [
    "/webhooks/{integration}",
    "/api/integrations",
    "/api/integrations/{name}/settings",
    "/api/dead-letters/{letter_id}/retry",
    "/api/preview",
    "/api/replay",
    "/api/report",
    "/api/integrations/{name}/rollout",  # since: a duration, date or time (values.since_ts)
    # integration: a name the workspace knows (ops.listings.check_filter), else 400
    "/api/inbox",
    "/api/dead-letters",
    "/api/dead-letters/count",
    "/api/review",
    # an email (one @ with text on both sides, no spaces) or a domain, read as records find
    # reads them (ops.listings.check_lookup), else 400 saying what is allowed
    "/api/lookup/email/{email}",
    "/api/lookup/domain/{domain}",
]
INPUT_CHECKS = "positive_data_acceptance,negative_data_rejection"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    path: Path = tmp_path_factory.mktemp("openapi") / "leadsync.db"
    with Workspace(f"sqlite:///{path}") as ws:
        configure(ws)
        contact = KIM_CONTACT
        ws.ingest("dialer", [json.dumps(contact), "not json"])  # a record and a dead letter
        # schemathesis sends wrong tokens on purpose: no wait for this address after ten
        with serve(ws, max_failed_sign_ins=0) as server:
            yield server


def run_schemathesis(live: LiveServer, *options: str) -> subprocess.CompletedProcess[str]:
    assert SCHEMATHESIS is not None, "schemathesis is a dev dependency"
    command = [
        SCHEMATHESIS,
        "run",
        f"{live.base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {ADMIN_TOKEN}",
        "--checks",
        "all",
        "--max-examples",
        "15",
        "--seed",
        "1",
        "--no-color",
        *options,
    ]
    # Run elsewhere: schemathesis keeps a cache folder in its working directory.
    return subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=tempfile.gettempdir()
    )


def test_every_operation_answers_as_documented(live: LiveServer) -> None:
    excluded = [option for path in LOOSE for option in ("--exclude-path", path)]
    result = run_schemathesis(live, *excluded)
    assert result.returncode == 0, result.stdout[-6000:]
    total, loose = operation_counts(live)
    assert operations_tested(result.stdout) == total - loose


def test_operations_with_vendor_or_file_rules_answer_as_documented(live: LiveServer) -> None:
    included = [option for path in LOOSE for option in ("--include-path", path)]
    result = run_schemathesis(live, *included, "--exclude-checks", INPUT_CHECKS)
    assert result.returncode == 0, result.stdout[-6000:]
    assert operations_tested(result.stdout) == operation_counts(live)[1]


def operation_counts(live: LiveServer) -> tuple[int, int]:
    """Operations in the document, and those on the LOOSE paths."""
    paths = live.client.get("/openapi.json").json()["paths"]
    count = {path: len(item) for path, item in paths.items()}
    return sum(count.values()), sum(count[path] for path in LOOSE)


def operations_tested(output: str) -> int:
    """How many operations schemathesis tested (its summary's "Tested: N")."""
    found = re.search(r"Tested:\s+(\d+)", output)
    assert found is not None, output[-2000:]
    return int(found.group(1))

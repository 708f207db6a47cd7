"""The OpenAPI document declares what ``GET /metrics`` takes: ``name[]``, an array of series
names in the query string, exploded (``?name[]=a&name[]=b``), as prometheus_client's own
listener reads it — and the service answers the request the document describes with those
series only."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from leadsync.workspace import Workspace
from tests.live import serve


def test_the_document_declares_name_and_the_service_answers_it(ws: Workspace) -> None:
    with serve(ws, worker=False, console=None) as live:
        operation = live.client.get("/openapi.json").json()["paths"]["/metrics"]["get"]
        [parameter] = operation["parameters"]
        names = ["leadsync_inbox_pending", "leadsync_database_up"]
        # The request the document describes: the parameter once per name.
        query = [(parameter["name"], name) for name in names]
        scraped = live.client.get("/metrics", params=query).text
    assert {k: parameter[k] for k in ("name", "in", "required", "style", "explode")} == {
        "name": "name[]",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": True,
    }
    assert parameter["schema"] == {"type": "array", "items": {"type": "string"}}
    samples = {s.name for f in text_string_to_metric_families(scraped) for s in f.samples}
    assert samples == set(names)

"""An authentic body that is not UTF-8 text is kept as its bytes: it was kept decoded with
replacement characters, so its retry applied the replacement (a contact named "Jos\ufffd"
instead of refusing what still could not be read) and the bytes were gone."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest

from leadsync.errors import EventError
from leadsync.pipeline.rejected import holds_bytes
from leadsync.workspace import Workspace
from tests.live import generic_signature, serve


def test_a_body_not_in_utf8_is_kept_as_bytes_and_its_retry_refused(ws: Workspace) -> None:
    event = {"id": "latin-1", "occurred_at": "2026-12-07T01:00:00Z", "type": "record",
             "object": "contact", "external_id": "p-latin",
             "properties": {"firstname": "José", "email": "jose@latin.test"}}  # fmt: skip
    body = json.dumps(event, ensure_ascii=False).encode("latin-1")
    headers = {"content-type": "application/json", **generic_signature(body)}
    with serve(ws) as live:
        answer = live.client.post("/webhooks/dialer", content=body, headers=headers)
    assert answer.status_code == 400 and "not valid UTF-8" in answer.json()["detail"]
    [letter] = ws.dead_letters()
    kept = json.loads(ws.dead_letter(letter["id"])["raw"])
    assert base64.b64decode(kept["body_base64"]) == body  # every byte, as sent
    with pytest.raises(EventError, match="its body is not UTF-8 text"):
        ws.retry_dead_letter(letter["id"])
    assert ws.find(external="dialer:p-latin") == []


def test_a_compressed_body_is_refused_by_its_content_encoding(ws: Workspace) -> None:
    """A relay that gzips the body got "bad signature" (401), sending its operator after a
    wrong secret: Content-Encoding is named instead, and nothing is kept."""
    event = {"id": "gz", "occurred_at": "2026-12-07T01:00:00Z", "type": "record",
             "object": "contact", "external_id": "p-gz", "properties": {"email": "g@z.test"}}  # fmt: skip
    plain = json.dumps(event).encode()
    headers = {"content-type": "application/json", "content-encoding": "gzip",
               **generic_signature(plain)}  # fmt: skip
    with serve(ws) as live:
        answer = live.client.post("/webhooks/dialer", content=gzip.compress(plain), headers=headers)
    assert answer.status_code == 415
    assert (
        "header Content-Encoding: gzip is not accepted; allowed: identity"
        in answer.json()["detail"]
    )
    assert ws.dead_letters() == []


def test_a_kept_body_is_bytes_only_by_its_envelope_not_by_its_text() -> None:
    """A body whose text mentions the key is still text: a retry reads it."""
    text = json.dumps({"headers": {}, "body": json.dumps({"body_base64": "x"})})
    assert not holds_bytes(text)
    assert holds_bytes(json.dumps({"headers": {}, "body_base64": "eA=="}))
    assert not holds_bytes("not json")


def test_a_line_not_in_utf8_keeps_its_bytes_written_out_and_its_retry_is_refused(
    ws: Workspace, tmp_path: Path
) -> None:
    """The same from a file: the line was kept decoded with replacement characters, and
    `dead-letters retry` applied them (a contact named "Jos\\ufffd"); the good line beside
    it goes through (found by a probe)."""
    good = {"id": "utf8", "occurred_at": "2026-12-07T01:00:00Z", "type": "record",
            "object": "contact", "external_id": "p-ok", "properties": {"firstname": "Zoë"}}  # fmt: skip
    bad = good | {"id": "latin-1", "external_id": "p-latin", "properties": {"firstname": "José"}}
    path = tmp_path / "events.jsonl"
    path.write_bytes(
        json.dumps(good, ensure_ascii=False).encode()
        + b"\n"
        + json.dumps(bad, ensure_ascii=False).encode("latin-1")
        + b"\n"
    )
    with path.open("rb") as lines:
        summary = ws.ingest("dialer", lines, source=str(path))
    assert summary.accepted == 1
    [letter] = ws.dead_letters()
    assert letter["error"].startswith("not valid UTF-8 at byte ")
    kept = ws.dead_letter(letter["id"])["raw"]
    assert '"firstname": "Jos\\xe9"' in kept and "\ufffd" not in kept  # the byte, written out
    with pytest.raises(EventError, match="the line is not UTF-8 text") as refused:
        ws.retry_dead_letter(letter["id"])
    assert "iconv -f WINDOWS-1252 -t UTF-8" in str(refused.value)
    assert ws.find(external="dialer:p-latin") == []
    assert len(ws.find(external="dialer:p-ok")) == 1

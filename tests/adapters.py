"""The shared harness of the vendor adapter tests: fixtures, requests, signing, reading.

Every ``tests/test_source_<kind>.py`` drives its adapter the way leadsync does — a
:class:`WebhookRequest` cut into pieces on receipt (:meth:`Adapter.pieces`), each piece's
stored payload converted later by a worker (:meth:`Adapter.events_of`) — through the
functions here, and keeps only what is its vendor's own (its signature recipe, its edge
cases). ``tests/test_sources_contract.py`` runs every fixture through :func:`outcome` and
compares it with the fixture's golden file (:func:`golden_path`).

Golden files
------------
Each fixture ``tests/fixtures/webhooks/<kind>/<name>.<ext>`` has
``tests/fixtures/webhooks/<kind>/golden/<name>.json``: the dedupe keys of its pieces and the
canonical events (``event_to_dict``) of each, or the error it is refused with. After a change
that is meant to change an adapter's output, regenerate them and review the diff::

    LEADSYNC_UPDATE_GOLDEN=1 .venv/bin/pytest -q tests/test_sources_contract.py -k golden

Without that variable a missing or different golden file fails the test.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from leadsync.errors import EventError
from leadsync.model import Event
from leadsync.pipeline.inbox import vendor_line_request
from leadsync.sources import KINDS, adapter_for
from leadsync.sources.base import Adapter, Piece, WebhookRequest
from leadsync.sources.canonical import event_to_dict

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"
UPDATE_GOLDEN = os.environ.get("LEADSYNC_UPDATE_GOLDEN") == "1"

# The vendor options a fixture needs to be read (HubSpot's app id drops echoes; Salesforce's
# organization id lets an Outbound Message in).
OPTIONS: dict[str, dict[str, Any]] = {
    "hubspot": {"app_id": "777"},
    "salesforce": {"organization_id": "00D000000000001AAA"},
}

CASES: list[tuple[str, Path]] = sorted(
    (kind, path)
    for kind in KINDS
    if (FIXTURES / kind).is_dir()
    for path in (FIXTURES / kind).iterdir()
    if path.suffix in (".json", ".xml")
)
"""Every published vendor payload: (kind, fixture file)."""

CASE_IDS = [f"{kind}/{path.name}" for kind, path in CASES]


# ------------------------------------------------------------------ fixtures


def envelope(kind: str, name: str) -> dict[str, Any]:
    """A JSON fixture as stored: ``{"body": …}`` or ``{"headers": {…}, "body": …}``."""
    data: dict[str, Any] = json.loads((FIXTURES / kind / f"{name}.json").read_text("utf-8"))
    return data


def body(kind: str, name: str) -> Any:
    """The body of a JSON fixture (``name`` without ``.json``)."""
    return envelope(kind, name)["body"]


def line_of(path: Path) -> str:
    """A fixture as a line of ``leadsync ingest`` (an XML body travels as a JSON string)."""
    if path.suffix == ".xml":
        return json.dumps({"body": path.read_text("utf-8")})
    return json.dumps(json.loads(path.read_text("utf-8")))


# ------------------------------------------------------------------ requests


def encode(value: Any) -> bytes:
    """A body as sent: bytes stay as they are, anything else is JSON."""
    return value if isinstance(value, bytes) else json.dumps(value).encode()


def json_request(
    url: str, value: Any, headers: dict[str, str] | None = None, *, content_type: bool = True
) -> WebhookRequest:
    """A POST of ``value`` (bytes, or anything JSON) to ``url``; ``headers`` are added to a
    JSON ``content-type`` (``content_type=False``: ``headers`` are all there is)."""
    base = {"content-type": "application/json"} if content_type else {}
    return WebhookRequest("POST", url, {**base, **(headers or {})}, encode(value))


def hmac_hex(secret: str, message: bytes, digest: Any = hashlib.sha256) -> str:
    """The hex HMAC most vendors sign with (each test builds its vendor's header from it)."""
    return hmac.new(secret.encode(), message, digest).hexdigest()


def with_value(value: dict[str, Any], path: str, new: Any) -> dict[str, Any]:
    """A deep copy of ``value`` with ``new`` at the dotted ``path`` (list indexes as numbers;
    missing or null objects on the way are created)."""
    changed = copy.deepcopy(value)
    set_value(changed, path, new)
    return changed


def set_value(value: Any, path: str, new: Any) -> None:
    """Put ``new`` at the dotted ``path`` of ``value``, in place."""
    *steps, last = path.split(".")
    node = value
    for step in steps:
        if isinstance(node, list):
            node = node[int(step)]
            continue
        if node.get(step) is None:
            node[step] = {}
        node = node[step]
    node[last] = new


def setter(path: str, new: Any) -> Callable[[dict[str, Any]], None]:
    """A change that puts ``new`` at ``path`` (for parametrized tables of edits)."""
    return lambda value: set_value(value, path, new)


# ------------------------------------------------------------------ reading


def receive(adapter: Adapter, request: WebhookRequest) -> Piece:
    """The one piece a request is cut into (fails on any other number)."""
    pieces = adapter.pieces(request)
    assert len(pieces) == 1, pieces
    return pieces[0]


def convert(adapter: Adapter, piece: Piece, seq: int, where: str | None = None) -> list[Event]:
    """A stored piece converted by a worker, as the ``seq``-th inbox row."""
    return adapter.events_of(piece.payload(), piece.key, seq, where or f"inbox:{seq}", None)


def deliver(adapter: Adapter, request: WebhookRequest) -> list[tuple[Piece, list[Event]]]:
    """Receipt then worker: every piece of a request with its events (row ``seq`` 1, 2, …);
    each event belongs to the adapter's integration and its row."""
    out = []
    for seq, piece in enumerate(adapter.pieces(request), start=1):
        found = convert(adapter, piece, seq)
        assert all(e.integration == adapter.integration and e.seq == seq for e in found)
        out.append((piece, found))
    return out


def as_dicts(
    piece: Piece, events: list[Event], key: str | None = None, changed_at: bool = False
) -> list[dict[str, Any]]:
    """Events in the canonical shape; ``key`` replaces the piece's key in their ids, and
    ``changed_at`` (the vendor's time of the change, pinned by the tests of event times) is
    left out unless asked for."""
    out = []
    for event in events:
        data = event_to_dict(event)
        if key is not None:
            data["id"] = data["id"].replace(piece.key, key)
        if not changed_at:
            data.pop("changed_at", None)
        out.append(data)
    return out


def owner_dict(event: Event) -> dict[str, str | None] | None:
    return None if event.owner is None else {"id": event.owner.id, "email": event.owner.email}


# ------------------------------------------------------------------ every fixture


def fixture_adapter(kind: str) -> Adapter:
    return adapter_for(kind, kind, OPTIONS.get(kind))


def read(kind: str, line: str) -> tuple[list[Piece], list[list[Event]]]:
    """Pieces and their events, as intake and a worker would make them."""
    a = fixture_adapter(kind)
    pieces = a.pieces(vendor_line_request(line, a))
    events = [a.events_of(p.payload(), p.key, 1, "contract", None) for p in pieces]
    return pieces, events


def outcome(kind: str, line: str) -> dict[str, Any]:
    """What reading a line gives — its keys and canonical events, or the error's text;
    anything but EventError fails the test."""
    try:
        pieces, events = read(kind, line)
    except EventError as exc:
        return {"error": exc.detail}
    return {
        "keys": [p.key for p in pieces],
        "events": [[event_to_dict(e) for e in group] for group in events],
    }


def golden_path(path: Path) -> Path:
    return path.parent / "golden" / f"{path.stem}.json"


def check_golden(kind: str, path: Path) -> None:
    """The fixture's outcome equals its golden file (written when LEADSYNC_UPDATE_GOLDEN=1)."""
    found = outcome(kind, line_of(path))
    golden = golden_path(path)
    if UPDATE_GOLDEN:
        golden.parent.mkdir(exist_ok=True)
        text = json.dumps(found, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        golden.write_text(text, "utf-8")
        return
    assert golden.is_file(), (
        f"{golden} is missing: run LEADSYNC_UPDATE_GOLDEN=1 .venv/bin/pytest "
        "tests/test_sources_contract.py -k golden, and review it"
    )
    assert found == json.loads(golden.read_text("utf-8")), (
        f"{path.name} no longer gives {golden.name}; if the change is meant, regenerate it "
        "(LEADSYNC_UPDATE_GOLDEN=1) and review the diff"
    )

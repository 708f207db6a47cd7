"""``GET /audit``: who changed the configuration, what and when, newest first, a page at a
time (:meth:`Workspace.audit_log`). An entry links to its integration's settings while it is
configured; one removed since is named, marked removed, without a link — and stays in the
filter while it has entries.

An entry's summary is stored as the workspace wrote it (``path: old → new; …``); the page
shows each change on a line of its own in the spelling of the workspace file (``true``, not
Python's ``True``) and an owner by name with its id where the workspace knows the owner
(:func:`changes`, also used by the settings page's preview)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query, Response
from pydantic import BeforeValidator

from leadsync.values import LARGEST_ID, digits_only

from .console import Viewing, filter_integrations, page_router

router = page_router()

#: ``path: old → new`` (the key path has no space; the old value none of the arrows).
# (A path may hold a space: a rep's id in a user map, ``users.map.a b[0]``.)
CHANGE = re.compile(r"^(?P<path>[^:]+?): (?P<old>.*?) → (?P<new>.*)$")
#: Key paths whose values are owner ids: the user map's targets and the fallback owner (of
#: the settings or of a rollout's).
OWNER_PATH = re.compile(r"(^|\.)users\.(map(\.|\[).*|unmapped\.owner)$")
#: A whole-workspace entry's part that lists owner ids (``owners added: 101, 102``).
OWNERS_PART = re.compile(r"^(?P<what>owners (?:added|updated|archived)): (?P<ids>.+)$")
#: Python's spellings of the values, as the workspace file writes them.
YAML_WORDS = {"True": "true", "False": "false", "None": "null"}
CREATED = "created: "


@dataclass(frozen=True)
class Change:
    """One line of a summary: a key path with its value before and after, or (``path``
    None) a sentence of a whole-workspace entry in ``new``."""

    path: str | None
    old: str
    new: str


def _value(text: str, owner: bool, owners: Mapping[str, str]) -> str:
    text = YAML_WORDS.get(text, text)
    if owner and text in owners and owners[text] != text:
        return f"{owners[text]} ({text})"
    return text


def changes(summary: str, owners: Mapping[str, str]) -> list[Change]:
    """A stored summary as lines to show; ``owners`` names owners by id."""
    lines: list[Change] = []
    if summary.startswith(CREATED):
        lines.append(Change(None, "", "Created with these settings:"))
        summary = summary.removeprefix(CREATED)
    for part in summary.split("; "):
        found = CHANGE.match(part)
        listed = OWNERS_PART.match(part)
        if found:
            owner = OWNER_PATH.search(found["path"]) is not None
            old, new = (_value(found[k], owner, owners) for k in ("old", "new"))
            lines.append(Change(found["path"], old, new))
        elif listed:
            ids = ", ".join(_value(i, True, owners) for i in listed["ids"].split(", "))
            lines.append(Change(None, "", f"{listed['what']}: {ids}"))
        else:
            lines.append(Change(None, "", part))
    return lines


@router.get("/audit")
def audit_log_page(
    page: Viewing,
    before: Annotated[int | None, Query(ge=1, le=LARGEST_ID), BeforeValidator(digits_only)] = None,
    integration: str | None = None,
) -> Response:
    ws = page.workspace
    log = ws.audit_log(before, integration or None)
    return page.render(
        "audit_log.html",
        log=log,
        before=before,
        integration=integration or "",
        configured=set(ws.rules().integrations),
        integrations=filter_integrations(ws, "audit_log"),
        changes=changes,
        owners=ws.owner_names(),
    )

"""The admin API's list of an integration's own lines: ``GET /api/integrations/{name}/lines``
— what ``leadsync lines list --integration NAME --json`` prints (:mod:`leadsync.ops.own_lines`).

Added to the admin router by :func:`add_routes` (its token, its problem answers).
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from leadsync.ops.own_lines import own_lines
from leadsync.workspace import Workspace


class OwnLine(BaseModel):
    integration: str
    number: str = Field(description="The line's number in E.164 (+442079460100).")
    name: str | None = Field(description="The line's name at the tool, when it gave one.")
    line_id: str | None = Field(description="The line's id at the tool, when it gave one.")
    declared: bool = Field(description="Listed in the integration's own_numbers setting.")
    learned: bool = Field(
        description="Named by the tool (Aircall's line of a call, a number.* event, a "
        "canonical line event or a call's line_number); kept once learned."
    )
    learned_at: str | None = Field(
        description="Learned: when the event that named it first happened (UTC)."
    )
    event_id: str | None = Field(description="Learned: the id of the event that named it first.")
    how: str = Field(
        description='How leadsync knows it, in words: "declared in phone\'s own_numbers", '
        '"learned from phone\'s events (first named 2026-11-01T10:00:00Z)", or both (the '
        "event that named it is event_id)."
    )
    internal_calls: int = Field(
        description="Activities that are internal calls because of this line: on no contact "
        "or lead, never held, asked about or made a contact of (a call naming two of the "
        "company's lines counts under the first)."
    )


def add_routes(router: APIRouter, workspace: Workspace) -> None:
    """The own-lines endpoint on the admin API's ``router``."""

    @router.get("/integrations/{name}/lines", summary="An integration's own phone lines")
    def list_lines(name: str) -> list[OwnLine]:
        """The company's own lines of the integration, by number: declared in its
        `own_numbers`, or learned from its tool's events (the event that named each first,
        and when), with how many calls are internal because of each — `leadsync lines list
        --integration NAME --json`. An integration not configured is 404."""
        rules = workspace.rules()
        workspace.integration(name, rules)
        return [OwnLine(**row) for row in own_lines(workspace.engine, rules, name)]

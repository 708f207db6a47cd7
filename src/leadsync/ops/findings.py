"""What one check of the health report returns (:class:`Finding`), shared by the modules that
make the checks (:mod:`leadsync.ops.monitor`, :mod:`leadsync.ops.monitor_activities`) and the
faces that show them (the console's cards and Integrations page)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import Field

from leadsync.results import ResultModel

SHOWN = 50  # rows listed per finding; counts are always complete


class Finding(ResultModel):
    """One check of the report: whether it fires, in a sentence, and the rows behind it
    (their keys depend on the check)."""

    check: str
    alert: bool
    summary: str
    rows: list[dict[str, Any]] = Field(default_factory=list)
    parts: dict[str, str] = Field(default_factory=dict, exclude=True)
    """Each integration's own part of a check counted per integration, in the summary's words
    with that integration's numbers (the console's Integrations page shows a row its own);
    empty for a check that is not counted per integration. Not in the JSON."""
    workspace_part: str | None = Field(default=None, exclude=True)
    """The part of a check counted per integration that is no integration's (a deactivated
    owner's open records). Not in the JSON."""


def names_in(row: Mapping[str, Any]) -> Iterable[str]:
    """The integrations a finding's row names, in the keys the checks use."""
    for key in ("integration", "first", "merged", "fallback_of"):
        if isinstance(row.get(key), str):
            yield row[key]
    mapped_from = row.get("still_mapped_from")
    if isinstance(mapped_from, str):
        yield mapped_from.partition(":")[0]
    for name in row.get("integrations") or ():
        if isinstance(name, str):
            yield name
    for source in row.get("from") or ():
        if isinstance(source, Mapping) and isinstance(source.get("integration"), str):
            yield source["integration"]


def show(record_type: str, record_id: int) -> str:
    """The command that shows a record a finding names."""
    return f"leadsync records show {record_type} {record_id}"

"""The one renderer of the command line: everything a command prints goes through here.

- ``--json`` prints :func:`json_of` the result, indented: a result model's own
  serialization (``model_dump(mode="json")``), an object's ``to_dict()``, or lists and dicts
  of those. A result's shape is thus declared once, by its type, and the CLI, the admin API
  and the console print the same JSON.
- Text for people is lines (:func:`line`), tables (:func:`table`) and values in plain words
  (:func:`leadsync.results.plain`, :func:`owner`); progress, notes and errors go to stderr (:data:`err`) so
  that stdout stays what ``--json`` promises.

Text is printed without Rich markup unless a caller asks for it (``markup=True``, for a bold
heading): the values shown come from users and vendors, and a ``[`` in a name must print as
itself.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from leadsync.results import counted

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def json_of(value: Any) -> Any:
    """``value`` as JSON-ready data: pydantic models by ``model_dump(mode="json")``, objects
    with a ``to_dict()`` by it, other dataclasses field by field, and lists, tuples and dicts
    of any of these. Other values are returned as they are (:func:`print_json` prints what
    JSON has no type for, such as a datetime, as its string)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return json_of(to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_of(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {key: json_of(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_of(item) for item in value]
    return value


def print_json(value: Any) -> None:
    """Print :func:`json_of` ``value`` on stdout, indented, one document."""
    sys.stdout.write(json.dumps(json_of(value), indent=2, default=str) + "\n")


def document(text: str) -> None:
    """Print a document (the YAML of ``export``) on stdout exactly as it is."""
    sys.stdout.write(text)


def csv_rows(fields: Sequence[str]) -> csv.DictWriter[str]:
    """A CSV writer on stdout with its header printed: one row per ``writerow``."""
    writer = csv.DictWriter(sys.stdout, fields, lineterminator="\n")
    writer.writeheader()
    return writer


def line(text: str = "", *, markup: bool = False) -> None:
    """One line on stdout, as it is (Rich markup only when asked)."""
    out.print(text, markup=markup)


def note(text: str) -> None:
    """One line on stderr: what happened beside the result (progress, a file written);
    stdout first flushed, so that in one pipe the result's lines stay whole."""
    sys.stdout.flush()
    err.print(text, markup=False)


def error(message: str) -> None:
    """An ``error:`` line on stderr (stdout flushed first, as :func:`note`)."""
    sys.stdout.flush()
    err.print(Text.assemble(("error:", "bold red"), " ", message))


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    fold: bool = False,
    right: Collection[str] = (),
    whole: Collection[str] = (),
    title: str | None = None,
    empty: str | None = None,
) -> None:
    """A table on stdout: ``columns`` are the headings, each row a cell per column (text as
    it is, never markup). Cells wrap at word boundaries; a word longer than its column is
    folded onto the next line with ``fold``, else cut with an ellipsis. ``right`` names the
    columns aligned right (numbers); ``whole`` the columns never wrapped nor narrowed (ids,
    counts, short names; a cell may hold lines of its own), so that the others, long text,
    get the width left.

    A table wider than the terminal (or ``COLUMNS``) is narrowed without cutting a short
    value: a time (``2026-11-01T09:10:00Z``) is shown as its date with the time below it, and
    a column of short single words (ids, names, types, states, counts) is kept whole, so
    that the long text takes the width left and wraps between its words — or, where that
    would leave it narrower than :data:`MIN_TEXT`, as a block per row (:func:`_blocks`). A
    table that fits, and one printed into a pipe, keeps each row on one line.

    With no rows, ``empty`` (say ``no dead letters``) is printed instead of a table of
    headings alone, which reads as if the list had failed to load."""
    cells = [list(row) for row in rows]
    if not cells and empty is not None:
        line(empty)
        return
    if not _fitted():  # as wide as its cells
        console = Console(file=out.file, width=PIPED_WIDTH, highlight=False)
        console.print(_grid(columns, cells, fold, right, whole, title))
        return
    grid = _grid(columns, cells, fold, right, whole, title)
    if out.measure(grid, options=out.options.update_width(PIPED_WIDTH)).maximum > out.width:
        cells = [[_stacked_time(cell) for cell in row] for row in cells]
        kept = {c for i, c in enumerate(columns) if _short_words(row[i] for row in cells)}
        widths = _word_widths(columns, cells, {*whole, *kept}, out.width)
        if _cramped(columns, cells, {*whole, *kept}, widths):
            _blocks(columns, cells, {*whole, *kept}, title)
            return
        grid = _grid(columns, cells, fold, right, {*whole, *kept}, title, widths)
    out.print(grid)


# A column of long text narrower than this reads as a word per line: the table is printed as
# blocks instead (:func:`_blocks`).
MIN_TEXT = 30


def _cramped(
    columns: Sequence[str],
    cells: Sequence[Sequence[str]],
    whole: Collection[str],
    widths: Mapping[str, int] | None,
) -> bool:
    """Whether some long text would wrap in a column narrower than :data:`MIN_TEXT`."""
    for i, column in enumerate(columns):
        if column in whole:
            continue
        width = (widths or {}).get(column, 0)
        widest = max((len(part) for row in cells for part in row[i].split("\n")), default=0)
        if width < MIN_TEXT and widest > width:
            return True
    return False


def _blocks(
    columns: Sequence[str],
    cells: Sequence[Sequence[str]],
    short: Collection[str],
    title: str | None,
) -> None:
    """A table too narrow for its long text, as a block per row: its short values on one
    line (the headings first, once), then each long text below, indented, at the full width."""
    if title:
        out.print(Text(title, style="italic"))
    heads = [c for c in columns if c in short]
    out.print(Text("  ".join(heads), style="bold"))
    for row in cells:
        values = [
            _STACKED.sub(r"\1T\2", cell).replace("\n", " ")  # a time whole again
            for c, cell in zip(columns, row, strict=True)
            if c in short
        ]
        out.print(Text(""))
        out.print(Text("  ".join(v or "-" for v in values)), soft_wrap=False)
        for column, cell in zip(columns, row, strict=True):
            if column not in short and cell:
                out.print(
                    Padding(Text(f"{column}: {cell}"), (0, 0, 0, 4), expand=False), soft_wrap=False
                )


def _grid(
    columns: Sequence[str],
    cells: Sequence[Sequence[str]],
    fold: bool,
    right: Collection[str],
    whole: Collection[str],
    title: str | None,
    widths: Mapping[str, int] | None = None,
) -> Table:
    grid = Table(title=title)
    for column in columns:
        grid.add_column(
            column,
            overflow="fold" if fold else "ellipsis",
            justify="right" if column in right else "left",
            no_wrap=column in whole,
            width=(widths or {}).get(column),
        )
    for row in cells:
        grid.add_row(*(Text(cell) for cell in row))
    return grid


_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)")
_STACKED = re.compile(
    r"(\d{4}-\d{2}-\d{2})\n(\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)"
)  # its date over its time
# The widest value a column may hold to be kept whole when a table is narrowed: an external
# id, an integration's name, a state; longer text wraps.
SHORT_WORD = 16


def _stacked_time(cell: str) -> str:
    """A cell that is a time alone, as its date with the time below it."""
    found = _TIME.fullmatch(cell)
    return f"{found[1]}\n{found[2]}" if found else cell


def _word_widths(
    columns: Sequence[str], cells: Sequence[Sequence[str]], whole: Collection[str], width: int
) -> dict[str, int] | None:
    """The widths of the columns that wrap, when the table fits ``width`` with each of them
    at least as wide as its longest word: that much each, and the width left shared by how
    much wider each would be on one line. None when it cannot (Rich then folds words)."""
    lines = {
        column: [part for text in (column, *(row[i] for row in cells)) for part in text.split("\n")]
        for i, column in enumerate(columns)
    }
    widest = {column: max(len(part) for part in parts) for column, parts in lines.items()}
    longest_word = {
        column: max((len(word) for part in parts for word in part.split()), default=1)
        for column, parts in lines.items()
    }
    wrapping = [column for column in columns if column not in whole]
    left = width - (3 * len(columns) + 1) - sum(widest[c] for c in columns if c in whole)
    left -= sum(longest_word[c] for c in wrapping)
    if left < 0 or not wrapping:
        return None
    wants = {c: widest[c] - longest_word[c] for c in wrapping}
    total = sum(wants.values()) or 1
    return {c: longest_word[c] + min(wants[c], left * wants[c] // total) for c in wrapping}


def _short_words(cells: Iterable[str]) -> bool:
    """Whether every line of every cell is one short word (no blank inside)."""
    return all(
        len(part) <= SHORT_WORD and " " not in part for cell in cells for part in cell.split("\n")
    )


# A table printed into a pipe or a file keeps each row on one line (grep, awk, sort), however
# wide: a terminal's width is a person's, and a pipe has none (Rich would assume 80).
PIPED_WIDTH = 10_000


def _fitted() -> bool:
    """Whether tables fit a width: a terminal's, or ``COLUMNS`` when set."""
    return out.is_terminal or bool(os.environ.get("COLUMNS"))


def nothing(what: str, *filters: object) -> str:
    """What an empty list says (:func:`table`'s ``empty``): ``no dead letters``, and, when a
    filter was given, that none match it (an empty answer to a filter is not an empty
    workspace)."""
    return f"no {what}" + (" match the filters given" if any(filters) else "")


def cut(rows: list[Any], limit: int) -> tuple[list[Any], bool]:
    """The rows of a list asked for one past ``limit``: the first ``limit``, and whether
    there were more (:func:`more_note` says so under the list)."""
    return rows[:limit], len(rows) > limit


def more_note(limit: int, what: str, hint: str = "") -> None:
    """Under a list its limit cut: that more there are, and how to see them (``hint``: where
    they are counted)."""
    note(f"… the newest {limit} {what} shown, and more there are: --limit N lists more{hint}")


def owner(owner_id: str | None, names: Mapping[str, str]) -> str:
    """An owner for people: the id and the name beside it (``101 Ana Ng``), from the
    workspace's owners (:meth:`Workspace.owner_names`); ``-`` for no owner."""
    if owner_id is None:
        return "-"
    name = names.get(owner_id)
    return f"{owner_id} {name}" if name else owner_id


def escape(text: str) -> str:
    """``text`` with Rich markup made literal, for a line that also has markup."""
    return text.replace("[", r"\[")


def counterparts(
    found: Mapping[str, int], indent: str = "", label: str = "counterparts", zero: bool = False
) -> None:
    """The counterpart counts of an ingest, a preview or one run of a replay, in one line
    (nothing when all are zero, unless ``zero``; internal calls only when there are some)."""
    if zero or any(found.values()):
        line(
            f"{indent}{label}: {found['matched_by_number']:,} matched by number, "
            f"{found['held']:,} held for an unknown number, "
            f"{counted(found['attached_later'], 'held one')} attached, "
            f"{counted(found['queued_for_review'], 'question')} for the review queue"
            + (f", {counted(internal, 'internal call')}" if (internal := found["internal"]) else "")
        )


def dead_letters(summary: Mapping[str, Any]) -> None:
    """The dead letters of an ingest or an inbox run (the JSON of an ingest summary), on
    stderr, and how many more there are than the summary kept."""
    shown = summary["dead_letters"] + summary["failed"]
    for dead in shown:
        note(f"dead letter: {dead['where']}: {dead['error']}")
    hidden = summary["dead_letter_count"] + summary["failed_count"] - len(shown)
    if hidden > 0:
        note(f"… and {hidden} more: leadsync dead-letters list")

"""The CLI's one renderer (leadsync.cli.render): JSON of any result, tables, values in words."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import Field, computed_field

from leadsync.cli import render
from leadsync.results import ResultModel, plain


class Counted(ResultModel):
    """A result model as the ops modules declare them: an alias, an excluded field, a
    computed key."""

    where: str = Field(alias="line")
    items: list[int] = Field(default_factory=list)
    scratch: str = Field("", exclude=True)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def count(self) -> int:
        return len(self.items)


@dataclass
class CountedByHand:
    """The same result before its model: a hand-written ``to_dict``."""

    where: str
    items: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.where, "items": self.items, "count": len(self.items)}


@dataclass
class Plain:
    name: str
    at: Counted


def test_a_model_and_a_hand_to_dict_of_the_same_shape_print_the_same_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = Counted(line="a.jsonl:3", items=[1, 2], scratch="not shown")
    by_hand = CountedByHand("a.jsonl:3", [1, 2])
    assert render.json_of(model) == {"line": "a.jsonl:3", "items": [1, 2], "count": 2}
    render.print_json([model])
    from_model = capsys.readouterr().out
    render.print_json([by_hand])
    assert capsys.readouterr().out == from_model
    assert json.loads(from_model) == [{"line": "a.jsonl:3", "items": [1, 2], "count": 2}]


def test_json_of_reaches_into_lists_dicts_and_dataclasses() -> None:
    inner = Counted(line="x", items=[])
    assert render.json_of({"rows": (Plain("kim", inner),), "n": 1}) == {
        "rows": [{"name": "kim", "at": {"line": "x", "items": [], "count": 0}}],
        "n": 1,
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "none"),
        (True, "yes"),
        (False, "no"),
        (3.0, "3"),
        (2.5, "2.5"),
        ({"type": "contact", "id": 12}, "contact 12"),
        (["a", 1, None], "a, 1, none"),
        ("[b]x", "[b]x"),
    ],
)
def test_plain_words_never_a_python_repr(value: Any, text: str) -> None:
    assert plain(value) == text


def test_owner_names_beside_ids() -> None:
    names = {"101": "Ana Ng"}
    assert [render.owner(o, names) for o in ("101", "999", None)] == ["101 Ana Ng", "999", "-"]


def test_lines_and_tables_print_brackets_as_themselves(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Values come from users and vendors: a ``[`` is text, never Rich markup."""
    render.line("owner: [bold]Kim[/bold]")
    render.table(("name", "n"), [("[red]x[/red]", "12")], right=("n",))
    shown = capsys.readouterr().out
    assert "owner: [bold]Kim[/bold]" in shown
    assert "[red]x[/red]" in shown

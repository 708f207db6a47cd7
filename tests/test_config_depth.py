"""The workspace YAML is read within the limits every reader of outside JSON keeps
(``sources.jsontext.MAX_DEPTH``): a document nested deeper than 128 levels of mappings and
lists is refused with the file, the line and the limit — also when an alias stands for the
depth, and far deeper than Python recurses — and so is an alias bomb ("billion laughs"),
refused while it is composed, before it is built or expanded; aliases that share a block are
read as before. ``leadsync apply`` and proposed settings files read YAML the same way
(``settings.loading.parse_yaml``)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.errors import ConfigError
from leadsync.settings import load_config_file
from leadsync.settings.proposed import load_proposed_file

TOO_DEEP = (
    "nested deeper than 128 levels; allowed: at most 128 levels of mappings and lists, "
    "aliases expanded where they are used"
)
# The top mapping is level 1, the owners list 2, an owner's mapping 3.
OWNER = 'owners:\n  - id: "101"\n    email: ana@acme.test\n    first_name: '
OWNER_LEVELS = 3


def nested_flow(levels: int) -> str:
    """``first_name`` as lists nested to make the document ``levels`` deep, on one line (5)."""
    n = levels - OWNER_LEVELS
    return OWNER + "[" * n + "]" * n + "\nintegrations: {}\n"


def nested_block(levels: int) -> tuple[str, int]:
    """The same in block style, one level per line; and the line of the deepest list."""
    lines = OWNER.splitlines()
    for i in range(levels - OWNER_LEVELS):
        lines.append("      " + "  " * i + "-")
    lines[-1] += " x"
    return "\n".join(lines) + "\nintegrations: {}\n", len(lines)


def refusal(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        load_config_file(path)
    return refused.value.problems


def test_129_levels_are_refused_with_the_file_the_line_and_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "leadsync.yaml"
    path.write_text(nested_flow(129))
    assert refusal(path) == [f"{path}:4: {TOO_DEEP}"]
    text, deepest = nested_block(129)
    path.write_text(text)
    assert refusal(path) == [f"{path}:{deepest}: {TOO_DEEP}"]


def test_128_levels_are_not_refused_for_their_depth(tmp_path: Path) -> None:
    """128 levels are read; the schema then says what it takes there (text, not a list)."""
    path = tmp_path / "leadsync.yaml"
    for text in (nested_flow(128), nested_block(128)[0]):
        path.write_text(text)
        assert refusal(path) == [f"{path}:4: owners[0].first_name: expected a string; got a list"]


def test_far_deeper_than_python_recurses_is_the_same_refusal_not_a_crash(
    tmp_path: Path,
) -> None:
    path = tmp_path / "leadsync.yaml"
    path.write_text(nested_flow(20_000))
    assert refusal(path) == [f"{path}:4: {TOO_DEEP}"]


def test_an_alias_counts_the_depth_it_stands_for_where_it_is_used(tmp_path: Path) -> None:
    """A block 126 levels deep is read where it is anchored (at level 2: 127 levels) and
    refused where an alias puts it at level 4 (129)."""
    deep = "[" * 126 + "]" * 126
    anchored = f"teams:\n  deep: &deep {deep}\n"
    path = tmp_path / "leadsync.yaml"
    path.write_text(anchored + "  sdr: [*deep]\n")
    assert refusal(path) == [f"{path}:3: {TOO_DEEP}"]
    path.write_text(anchored + "  sdr: *deep\n")
    assert all("nested deeper" not in problem for problem in refusal(path))


def billion_laughs() -> str:
    lines = ['laughs: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "teams:\n" + "\n".join(f"  {line}" for line in lines) + "\n"


def test_an_alias_bomb_is_refused_while_composed_and_a_shared_block_is_read(
    tmp_path: Path,
) -> None:
    """Nine levels of nine aliases each: a billion values once expanded. Refused at the
    alias where the values repeated pass 100,000 (the first of line 7), having held less
    than a megabyte; a block shared by two integrations through aliases and a merge
    key is read as if written twice."""
    path = tmp_path / "leadsync.yaml"
    path.write_text(billion_laughs())
    tracemalloc.start()
    try:
        problems = refusal(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert problems == [
        f"{path}:7: aliases repeat more than 100,000 values; allowed: at most 100,000 values "
        "repeated by aliases in all (write a shared block once per place it is needed, or "
        "fewer aliases of aliases)"
    ]
    assert peak < 1_000_000
    path.write_text(
        'owners:\n  - {id: "101", email: ana@acme.test}\n'
        "integrations:\n"
        "  dialer: &shared\n"
        "    kind: generic\n"
        "    users: {unmapped: {policy: leave}}\n"
        "    activities: {call: {enabled: true, min_duration_s: 10}}\n"
        "  phone: *shared\n"
        "  crm:\n"
        "    <<: *shared\n"
        "    activities: {call: false}\n"
    )
    config = load_config_file(path)
    dialer, phone, crm = (config.integrations[name] for name in ("dialer", "phone", "crm"))
    assert dialer == phone
    assert crm.users == dialer.users and crm.activities != dialer.activities


def test_a_value_that_contains_itself_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "leadsync.yaml"
    path.write_text('teams:\n  sdr: &sdr ["101", *sdr]\n')
    assert refusal(path) == [
        f"{path}:2: an alias inside the node its anchor names (a value that contains "
        "itself); allowed: an alias of a node written before it, outside it"
    ]


def test_apply_and_proposed_settings_refuse_it_alike(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "leadsync.yaml"
    path.write_text(nested_flow(129))
    result = CliRunner().invoke(app, ["--db", db_url, "apply", str(path), "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["errors"] == [{"place": f"{path}:4", "message": TOO_DEEP}]
    proposed = tmp_path / "proposed.yaml"
    proposed.write_text("users:\n  map: " + "[" * 127 + "]" * 127 + "\n")
    with pytest.raises(ConfigError) as refused:
        load_proposed_file(proposed, "dialer", None)
    assert refused.value.problems == [f"{proposed}:2: {TOO_DEEP}"]

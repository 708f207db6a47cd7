"""Two ``users.map`` entries naming one rep are refused at the second one's key path: the
same id but for spaces around it, one email in two cases, a Salesforce id in its 15- and
18-character forms. They applied silently, one entry overriding the other (the export kept
one of the ids; both emails were kept, mapping one rep to two owners)."""

from __future__ import annotations

import pytest

from leadsync.errors import ConfigError
from leadsync.settings import load_config

HEAD = """owners:
  - {id: "101", email: ana@acme.test}
  - {id: "102", email: bo@acme.test}
integrations:
  tool:
"""


@pytest.mark.parametrize(
    ("kind", "first", "second"),
    [
        ("generic", "u-1", " u-1 "),
        ("generic", "rep@out.test", "REP@Out.test"),
        ("salesforce", "005000000000001", "005000000000001AAA"),
    ],
)
def test_two_map_keys_naming_one_rep_are_refused_at_the_second(
    kind: str, first: str, second: str
) -> None:
    text = (
        HEAD + f'    kind: {kind}\n    users:\n      map: {{"{first}": "101", "{second}": "102"}}\n'
    )
    with pytest.raises(ConfigError) as refused:
        load_config(text, "ws.yaml")
    [problem] = refused.value.problems
    assert problem.startswith("ws.yaml:8: integrations.tool.users.map"), problem
    assert f"names the same rep as map key {first!r}; allowed: one entry per rep" in problem


def test_different_reps_and_a_salesforce_id_of_another_user_pass() -> None:
    text = HEAD + (
        "    kind: salesforce\n    users:\n"
        '      map: {"005000000000001": "101", "005000000000002": "102", "a@x.test": "101"}\n'
    )
    assert len(load_config(text, "ws.yaml").integrations["tool"].users.map) == 3

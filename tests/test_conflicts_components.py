"""``conflicts.components``: rows that share a key, directly or through the database's pairs,
get one number — the index of their component's first row — checked against a plain
breadth-first search over the same graph on random rows, keys and pairs."""

from __future__ import annotations

from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from leadsync.engine.conflicts import Key, components

_KEY = st.tuples(st.sampled_from(["e", "r", "p"]), st.integers(0, 12).map(str))


def _by_search(row_keys: list[list[Key]], pairs: list[tuple[Key, Key]]) -> list[int]:
    neighbours: dict[object, set[object]] = {}
    for index, keys in enumerate(row_keys):
        for key in keys:
            neighbours.setdefault(("row", index), set()).add(key)
            neighbours.setdefault(key, set()).add(("row", index))
    for a, b in pairs:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    out = [-1] * len(row_keys)
    for first in range(len(row_keys)):
        if out[first] != -1:
            continue
        queue: deque[object] = deque([("row", first)])
        seen = {("row", first)}
        while queue:
            node = queue.popleft()
            if isinstance(node, tuple) and node[0] == "row":
                out[int(node[1])] = first
            for other in neighbours.get(node, ()):
                if other not in seen:
                    seen.add(other)
                    queue.append(other)
    return out


@settings(max_examples=200, deadline=None)
@given(
    row_keys=st.lists(st.lists(_KEY, max_size=4), max_size=25),
    pairs=st.lists(st.tuples(_KEY, _KEY), max_size=15),
)
def test_components_are_the_connected_rows_numbered_by_their_first(
    row_keys: list[list[Key]], pairs: list[tuple[Key, Key]]
) -> None:
    assert components(row_keys, pairs) == _by_search(row_keys, pairs)

"""How a window's components are packed into parts (pure): a component never split, every
row once, in order; the router's own part lighter by the rows the others apply while it
routes the next window (what :class:`leadsync.pipeline.drain._Pace` measures)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from leadsync.pipeline.drain import _Pace
from leadsync.pipeline.routing import pack


@given(
    component=st.lists(st.integers(0, 30), min_size=1, max_size=120),
    parts=st.integers(1, 5),
    light=st.integers(0, 150),
)
def test_every_row_once_and_no_component_split(
    component: list[int], parts: int, light: int
) -> None:
    bins = pack(component, parts, light)
    assert 1 <= len(bins) <= parts
    assert sorted(i for b in bins for i in b) == list(range(len(component)))
    assert all(b == sorted(b) and b for b in bins)
    home = {component[i]: n for n, b in enumerate(bins) for i in b}
    assert all(home[component[i]] == n for n, b in enumerate(bins) for i in b)


@given(rows=st.integers(2, 200), light=st.integers(0, 250))
def test_the_last_part_is_lighter_by_the_light_rows(rows: int, light: int) -> None:
    """Rows that meet nothing (one component each), two parts: the router's part and the
    other differ by ``light`` rows, within one, or the router's is left out."""
    sizes = [len(b) for b in pack(list(range(rows)), 2, light)]
    other, mine = sizes[0], sum(sizes[1:])
    assert other + mine == rows
    if mine:
        assert abs(other - (mine + light)) <= 1
    else:  # the router's part would be empty: the others take every row
        assert rows <= light + 1


def test_without_light_the_parts_are_as_equal_as_the_components_allow() -> None:
    assert [len(b) for b in pack([0] * 6 + list(range(6, 12)), 2)] == [6, 6]
    assert [len(b) for b in pack(list(range(9)), 3)] == [3, 3, 3]
    # The light bin counts as holding two rows already: 5 rows against 2 (+ 2).
    assert pack([0, 0, 0, 3, 4, 5, 6], 2, light=2) == [[0, 1, 2, 4, 6], [3, 5]]


def test_the_light_rows_are_what_the_worker_applies_while_it_routes() -> None:
    pace = _Pace()
    assert pace.light(8000) == 0  # nothing measured yet: equal parts
    pace.applied(5000, 1.0)
    pace.read_ahead = 0.25
    pace.routed(0.35)
    assert pace.light(8000) == 3000 and pace.read_ahead == 0
    assert pace.light(2000) == 2000  # never more than the window
    pace.applied(0, 0.0)  # a part taken over with nothing left: the rate stands
    assert pace.light(8000) == 3000

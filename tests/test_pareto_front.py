"""moo.pareto_front against a brute-force O(n^2) dominance check, on tied and random values."""

import numpy as np
import pytest

from molgfn.moo import pareto_front

hypothesis = pytest.importorskip("hypothesis", reason="pip install hypothesis (the dev extra)")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _brute_front_rows(Y):
    """The distinct rows of Y that no row dominates (>= everywhere, > somewhere): O(n^2), no ordering."""
    rows = {tuple(map(float, y)) for y in np.asarray(Y, dtype=np.float64)}


    def dominates(b, a):
        return all(x >= y for x, y in zip(b, a, strict=True)) and any(x > y for x, y in zip(b, a, strict=True))

    return {a for a in rows if not any(dominates(b, a) for b in rows)}


def test_pareto_front_with_equal_floating_point_sums():
    # 0 + 1 == 1e-20 + 1 in floating point: an order by sum may visit the dominated (0, 1) first
    Y = np.array([[0.0, 1.0], [1e-20, 1.0]])
    assert {tuple(r) for r in pareto_front(Y)} == {(1e-20, 1.0)}
    assert {tuple(r) for r in pareto_front(Y[::-1])} == {(1e-20, 1.0)}


# values that tie and nearly tie: sums of rows collide often (1e-20 vanishes next to 1)
_vals = st.sampled_from([0.0, 1e-20, 2e-20, 1e-300, 0.5, 1.0, 1.0 + 2**-52, 2.0, -1e-20, -1.0])


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 3).flatmap(lambda k: st.lists(st.lists(_vals, min_size=k, max_size=k), min_size=1,
                                                    max_size=12)))
def test_pareto_front_matches_brute_force_on_tied_values(rows):
    assert {tuple(r) for r in pareto_front(np.array(rows))} == _brute_front_rows(rows)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 4), st.integers(1, 60))
def test_pareto_front_matches_brute_force_on_random_values(seed, k, n):
    rng = np.random.default_rng(seed)
    Y = np.round(rng.random((n, k)), int(rng.integers(1, 4)))  # rounded: many equal coordinates
    assert {tuple(r) for r in pareto_front(Y)} == _brute_front_rows(Y)

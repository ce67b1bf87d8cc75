"""The replay buffer's heaps are updated lazily: a buffer that is only sampled now and then ends in
exactly the state (heap layouts, draws) of one whose heaps were updated at every insertion."""

from __future__ import annotations

import torch

from molgfn.replay import ReplayBuffer


def test_lazy_heaps_equal_eager_ones_with_growth_and_interleaved_draws():
    g = torch.Generator().manual_seed(3)
    logr = torch.randn(700, generator=g, dtype=torch.float64)
    logr[::13] = 0.5  # ties: broken by insertion order in both buffers
    objs = torch.arange(700).repeat(2, 1).T
    eager, lazy = ReplayBuffer((2,), capacity=8), ReplayBuffer((2,), capacity=8)  # both grow several times
    i = 0
    for n, draw in [(5, False), (40, True), (1, False), (300, False), (17, True), (337, True)]:
        for j in range(i, i + n):  # one object at a time, heaps inspected after each
            eager.add(objs[j : j + 1], logr[j : j + 1])
            eager.top_indices()
        lazy.add(objs[i : i + n], logr[i : i + n])  # one batch, heaps untouched until a draw
        i += n
        assert lazy.size == eager.size == i
        if draw:
            a = eager.sample(50, torch.Generator().manual_seed(i))
            b = lazy.sample(50, torch.Generator().manual_seed(i))
            assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
            assert lazy._top == eager._top and lazy._rest == eager._rest
    # the top set is the best tenth by (log R, insertion index), as a full sort says
    k = round(0.1 * 700)
    best = sorted(range(700), key=lambda j: (logr[j].item(), j), reverse=True)[:k]
    assert sorted(lazy.top_indices()) == sorted(best)

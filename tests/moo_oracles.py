"""Two-objective oracles for the multi-objective tests (imported as tests.moo_oracles:NAME),
and the brute-force Pareto ranks the tests compare with."""

import numpy as np


def a_and_alternation(seqs):
    """(fraction of A, (number of B + number of letter changes) / (2L - 1)): conflicting, in [0, 1]."""
    return [[s.count("A") / len(s), (s.count("B") + sum(s[i] != s[i + 1] for i in range(len(s) - 1)))
             / (2 * len(s) - 1)] for s in seqs]


def wrong_shape(seqs):
    return [[0.5] for _ in seqs]


def size_and_nitrogen(smiles):
    """(heavy atoms / 50, fraction of heavy atoms that are N) of each molecule: a size / polarity trade-off."""
    from rdkit import Chem

    out = []
    for s in smiles:
        m = Chem.MolFromSmiles(s)
        n = m.GetNumHeavyAtoms()
        out.append([n / 50, sum(a.GetSymbol() == "N" for a in m.GetAtoms()) / max(n, 1)])
    return out


def brute_pareto_ranks(Y):
    """Peel non-dominated sets one by one, checking every pair directly."""
    left, ranks, r = set(range(len(Y))), np.zeros(len(Y), int), 1
    while left:
        front = {i for i in left if not any(all(Y[j] >= Y[i]) and any(Y[j] > Y[i]) for j in left)}
        for i in front:
            ranks[i] = r
        left -= front
        r += 1
    return ranks


# -- vector oracles that fail on objects starting with "A" (the rest get (GC fraction, AT fraction)) ----
def gc_at(seqs):
    return [[sum(c in "GC" for c in s) / len(s), sum(c in "AT" for c in s) / len(s)] for s in seqs]


def _vec_each(fault):
    def oracle(seqs):
        if any(s.startswith("A") for s in seqs):
            fault()
        return gc_at(seqs)
    oracle.__name__ = "vec_" + fault.__name__.strip("_")
    return oracle


def _sleep():
    import time

    time.sleep(3600)


def _exit0():
    import sys

    sys.exit(0)


def _segfault():
    import os
    import signal

    os.kill(os.getpid(), signal.SIGSEGV)


vec_sleepy, vec_exit0, vec_segfault = (_vec_each(f) for f in (_sleep, _exit0, _segfault))

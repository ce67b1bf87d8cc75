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

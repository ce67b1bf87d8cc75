"""Oracles of tests/test_bounds.py (imported as tests.bounds_oracles:NAME)."""

from molgfn.oracle import Invalid


def invalid_a(seqs):
    """Objects starting with A are invalid (as xtb-gap's "10 heavy atoms"); others score by their Bs."""
    return [Invalid("starts with A") if s.startswith("A") else 0.2 + s.count("B") / len(s) for s in seqs]


def huge(seqs):
    return [1e200 for _ in seqs]


def two_objectives(seqs):
    return [[s.count("A") / len(s), s.count("B") / len(s)] for s in seqs]


def chars(smiles):
    return [0.1 + min(len(s), 50) / 100 for s in smiles]

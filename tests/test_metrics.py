"""Metrics against hand-computable cases."""

import itertools

import pytest
from rapidfuzz.distance import Levenshtein

from molgfn.metrics import diverse_modes, mean_pairwise_levenshtein, mean_pairwise_tanimoto_distance, top_k_report


def test_mean_pairwise_levenshtein_is_the_true_mean():
    seqs = ["AAAA", "AAAT", "TTTT", "ACGT"]
    pairs = list(itertools.combinations(seqs, 2))
    expected = sum(Levenshtein.distance(a, b) for a, b in pairs) / len(pairs)
    assert mean_pairwise_levenshtein(seqs) == pytest.approx(expected)


def test_tanimoto_distance_of_identical_molecules_is_zero():
    assert mean_pairwise_tanimoto_distance(["CCO", "OCC"]) == 0.0
    d = mean_pairwise_tanimoto_distance(["CCO", "c1ccccc1"])
    assert d == 1.0  # no shared Morgan bits


def test_top_k_uses_distinct_objects():
    rep = top_k_report(["A", "A", "B", "C"], [3.0, 3.0, 2.0, 1.0], k=2)
    assert rep["top_k"] == 2 and rep["top_k_mean_raw"] == 2.5


def test_diverse_modes_counts_dissimilar_molecules_above_threshold():
    smiles = ["c1ccccc1CCN", "NCCc1ccccc1", "CCCCCCCCO", "O=C(O)c1ccncc1", "CC"]
    scores = [8.0, 7.9, 7.6, 7.7, 7.0]
    # the first two are the same molecule (similarity 1): counted once; 'CC' is below 7.5
    assert diverse_modes(smiles, scores, 7.5) == 3
    assert diverse_modes(smiles, scores, 7.75) == 1

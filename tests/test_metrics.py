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


def test_best_means_lowest_for_a_score_to_minimise():
    """A task whose raw score is minimised (Vina's kcal/mol): metrics.csv's best_raw, evaluate's
    best_raw_seen and top-k are the lowest scores, not the highest."""
    import torch

    from molgfn.config import TrainConfig
    from molgfn.evaluation import evaluate_trainer
    from molgfn.metrics import top_k_unique
    from molgfn.trainer import Trainer
    from tests.helpers import TableTask

    class LowIsBest(TableTask):
        higher_is_better = False

        def log_reward(self, raw):
            return -3.0 * torch.as_tensor(raw, dtype=torch.float64)  # lower raw, higher reward

    assert top_k_unique(["a", "b", "c", "a"], [2.0, -1.0, 5.0, 2.0], 2, higher_is_better=False)[0] == ["b", "a"]
    assert top_k_unique(["a", "b", "c"], [2.0, -1.0, 5.0], 2)[0] == ["c", "a"]
    task = LowIsBest(length=4)
    tr = Trainer(TrainConfig(task="low", rounds=3, batch_size=6, replay_size=0, hidden=8, device="cpu"), task)
    tr.train()
    best = [row["best_raw"] for row in tr.metrics]
    assert best[-1] == min(tr.seen.raw.values()) < max(tr.seen.raw.values())
    assert all(b >= a for a, b in zip(best[1:], best[:-1], strict=True))  # never gets worse
    res = evaluate_trainer(tr, n=64, k=3)
    assert res["best_raw_seen"] == min(tr.seen.raw.values())
    # 64 draws cover the 16 strings (seeded), so the top 3 are the table's 3 lowest scores
    assert res["top_k_mean_raw"] == pytest.approx(sum(sorted(tr.task.table.tolist())[:3]) / 3)

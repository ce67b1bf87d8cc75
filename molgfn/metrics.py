"""The papers' metrics: modes discovered, top-k score and diversity.

Diversity is the true mean pairwise distance over the n(n-1)/2 unordered pairs. (The
LS-GFN reference code divides the pair sum by n(n-1), i.e. reports half of it.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def top_k_unique(objects: Sequence[str], raw: Sequence[float], k: int = 100,
                 higher_is_better: bool = True) -> tuple[list[str], np.ndarray]:
    """The k best distinct objects and their raw scores (lowest first for a score to minimise)."""
    best: dict[str, float] = {}
    for o, r in zip(objects, raw, strict=True):
        best[o] = r
    order = sorted(best, key=lambda o: best[o], reverse=higher_is_better)[:k]
    return order, np.array([best[o] for o in order], dtype=np.float64)


def mean_pairwise_levenshtein(seqs: Sequence[str]) -> float:
    from rapidfuzz.distance import Levenshtein
    from rapidfuzz.process import cdist

    n = len(seqs)
    if n < 2:
        return float("nan")
    d = cdist(seqs, seqs, scorer=Levenshtein.distance, dtype=np.int32)
    return float(d.sum() / (n * (n - 1)))  # diagonal is zero; each unordered pair counted twice


def morgan_fingerprints(smiles: Sequence[str], n_bits: int | None = None):
    """The project's one fingerprint (``molgfn.chem.descriptors``: Morgan radius 2, 1024 bits)."""
    from .chem.descriptors import FP_BITS, fingerprints

    return fingerprints(smiles, n_bits or FP_BITS)


def mean_pairwise_tanimoto_distance(smiles: Sequence[str]) -> float:
    from rdkit import DataStructs

    fps = morgan_fingerprints(smiles)
    n = len(fps)
    if n < 2:
        return float("nan")
    total = 0.0
    for i in range(n - 1):
        sims = DataStructs.BulkTanimotoSimilarity(fps[i], fps[i + 1 :])
        total += float(np.sum(1.0 - np.asarray(sims)))
    return total / (n * (n - 1) / 2)


def diverse_modes(smiles: Sequence[str], scores: Sequence[float], threshold: float, max_sim: float = 0.7) -> int:
    """Modes as the TB and Bengio et al. papers count them for molecules: molecules scoring
    above ``threshold``, kept greedily in order of score when their Tanimoto similarity
    (Morgan radius 2, 2048 bits) to every kept one is below ``max_sim``."""
    from rdkit import DataStructs

    order = [i for i in np.argsort(np.asarray(scores))[::-1] if scores[i] > threshold]
    kept: list = []
    for fp in morgan_fingerprints([smiles[i] for i in order], n_bits=2048):
        if not kept or max(DataStructs.BulkTanimotoSimilarity(fp, kept)) < max_sim:
            kept.append(fp)
    return len(kept)


def top_k_report(objects: Sequence[str], raw: Sequence[float], k: int = 100,
                 smiles_fn=None, molecules: bool = False, higher_is_better: bool = True) -> dict:
    """Mean raw score of the k best distinct objects and their mean pairwise distance:
    Levenshtein for strings, 1 - Tanimoto for molecules (``molecules``: objects are SMILES).
    ``higher_is_better=False``: the best are the lowest scores (Vina)."""
    top, scores = top_k_unique(objects, raw, k, higher_is_better)
    out = {"top_k": len(top), "top_k_mean_raw": float(scores.mean()) if len(top) else float("nan")}
    if molecules:
        out["top_k_diversity_tanimoto"] = mean_pairwise_tanimoto_distance(top)
        return out
    out["top_k_diversity_levenshtein"] = mean_pairwise_levenshtein(top)
    if smiles_fn is not None:
        smi = smiles_fn(top)
        if smi is not None:
            out["top_k_diversity_tanimoto"] = mean_pairwise_tanimoto_distance(smi)
    return out

"""Mode definitions that need computation: Hamming-1 local optima above a reward quantile.

Used where no published mode set exists (RNA binding). A sequence is a mode when its raw
score is at least the task's estimated top-q quantile *and* no Hamming-1 neighbour scores
higher. The quantile of the raw score under the uniform distribution over sequences is
estimated from ``n`` uniform samples with a fixed seed (an order statistic; with n = 20,000
and q = 0.995 the 100th-largest sample, whose rank uncertainty is about +-10 samples).
"""

from __future__ import annotations

import torch


def estimate_quantile(task, q: float = 0.995, n: int = 20_000, seed: int = 0) -> float:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(task.env.A, (n, task.env.length), generator=g)
    raw = task.score_tokens(x)
    return float(torch.quantile(raw.double(), q))


def hamming1_neighbours(tokens: torch.Tensor, A: int) -> torch.Tensor:
    """(B, L*(A-1), L) all sequences at Hamming distance 1."""
    B, L = tokens.shape
    pos = torch.arange(L).repeat_interleave(A - 1)
    shift = torch.arange(1, A).repeat(L)
    nb = tokens[:, None, :].repeat(1, L * (A - 1), 1)
    idx = torch.arange(L * (A - 1))
    nb[:, idx, pos] = (nb[:, idx, pos] + shift) % A
    return nb


def local_optimum_mask(task, tokens: torch.Tensor, raw: torch.Tensor, threshold: float) -> torch.Tensor:
    """Which sequences are above ``threshold`` and not beaten by any Hamming-1 neighbour."""
    above = raw >= threshold
    out = torch.zeros_like(above)
    if above.any():
        cand = tokens[above]
        nb = hamming1_neighbours(cand, task.env.A)
        nb_raw = task.score_tokens(nb.reshape(-1, tokens.shape[1])).reshape(nb.shape[:2])
        out[above] = (nb_raw <= raw[above].to(nb_raw)[:, None]).all(1)
    return out

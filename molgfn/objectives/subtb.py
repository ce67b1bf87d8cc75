"""SubTB(lambda) (Madan et al., ICML 2023, "Learning GFlowNets from partial episodes for
improved convergence and stability").

For every sub-trajectory s_i -> ... -> s_j (0 <= i < j <= T) of a trajectory,

    delta_ij = log F(s_i) + sum_{t=i}^{j-1} [log P_F(s_t+1|s_t) - log P_B(s_t|s_t+1)] - log F(s_j)

    L(tau) = sum_{i<j} lambda^(j-i) delta_ij^2 / sum_{i<j} lambda^(j-i)

with log F(s_0) = log Z, log F(x) = beta * log R(x) (so (0, T) is the TB residual and
length-one sub-trajectories are DB residuals), j - i counted in real transitions; the loss
is the batch mean. All O(T^2) pairs are formed at once from prefix sums (no Python loop).
"""

from __future__ import annotations

import torch

from ..trajectories import TrajectoryScores
from .common import boundary_flow


def subtb_residuals(s: TrajectoryScores, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """delta_ij (B, T+1, T+1) for every pair of states and its weight lambda^(j-i) (0 where
    (i, j) is not a sub-trajectory of real transitions)."""
    if s.log_flow is None:
        raise ValueError("SubTB needs a policy with a flow head")
    m = s.mask.to(s.log_pf.dtype)
    lf = boundary_flow(s, s.log_flow, s.log_z, s.log_reward)
    zero = torch.zeros_like(lf[:, :1])
    c = torch.cat([zero, ((s.log_pf - s.log_pb) * m).cumsum(1)], 1)  # (B, T+1)
    n = torch.cat([zero, m.cumsum(1)], 1)
    delta = (lf - c)[:, :, None] + (c - lf)[:, None, :]  # [b, i, j] = lf_i - c_i + c_j - lf_j
    length = n[:, None, :] - n[:, :, None]  # real transitions between i and j
    # padding repeats a state (s_0 before a shorter backward-sampled trajectory, x after a
    # stop): count each state once, as the copy that a real transition leaves (or the last)
    once = torch.cat([s.mask, torch.ones_like(s.mask[:, :1])], 1)
    valid = (length > 0) & once[:, :, None] & once[:, None, :]  # length > 0 implies i < j
    w = torch.where(valid, lam ** length.clamp(min=0), torch.zeros_like(length))
    return delta, w


class SubTB:
    def __init__(self, lam: float = 0.9) -> None:
        if not lam > 0:
            raise ValueError(f"--subtb-lambda must be > 0, got {lam}")
        self.lam = float(lam)

    def __call__(self, s: TrajectoryScores) -> tuple[torch.Tensor, dict]:
        delta, w = subtb_residuals(s, self.lam)
        per_traj = (w * delta**2).sum((1, 2)) / w.sum((1, 2)).clamp(min=1e-30)
        return per_traj.mean(), {}

"""Detailed balance (Bengio et al., JMLR 2023, "GFlowNet Foundations").

Per transition s -> s':

    L = ( log F(s) + log P_F(s'|s) - log F(s') - log P_B(s|s') )^2

with log F from the policy's flow head, log F(s_0) = log Z and log F(x) = beta * log R(x).
The loss is the mean over all real transitions of the batch.
"""

from __future__ import annotations

import torch

from ..trajectories import TrajectoryScores
from .common import boundary_flow


def db_residuals(s: TrajectoryScores) -> torch.Tensor:
    if s.log_flow is None:
        raise ValueError("detailed balance needs a policy with a flow head")
    lf = boundary_flow(s, s.log_flow, s.log_z, s.log_reward)
    return lf[:, :-1] + s.log_pf - lf[:, 1:] - s.log_pb


def detailed_balance(s: TrajectoryScores) -> tuple[torch.Tensor, dict]:
    m = s.mask.to(s.log_pf.dtype)
    r = db_residuals(s)
    return (r**2 * m).sum() / m.sum().clamp(min=1), {}

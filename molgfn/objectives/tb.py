"""Trajectory balance (Malkin et al., NeurIPS 2022, "Trajectory balance: improved credit
assignment in GFlowNets").

    L(tau) = ( log Z + sum_t log P_F(s_t+1|s_t) - log R(x) - sum_t log P_B(s_t|s_t+1) )^2

with log R(x) the tempered log-reward beta * log R(x). The loss is the batch mean.
"""

from __future__ import annotations

import torch

from ..trajectories import TrajectoryScores


def tb_residual(s: TrajectoryScores) -> torch.Tensor:
    m = s.mask.to(s.log_pf.dtype)
    return s.log_z + ((s.log_pf - s.log_pb) * m).sum(1) - s.log_reward  # one masked sum: fewer autograd nodes


def trajectory_balance(s: TrajectoryScores) -> tuple[torch.Tensor, dict]:
    r = tb_residual(s)
    return (r**2).mean(), {}

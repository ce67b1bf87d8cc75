"""Forward-looking detailed balance, FL-DB (Pan et al., ICML 2023, "Better training of
GFlowNets with local credit and incomplete trajectories").

With an energy E(s) on every state (E(x) = -beta log R(x) at terminals; the task's
``energy`` hook, tempered by beta in ``score``) the flow is reparameterised as
log F(s) = -E(s) + log F~(s), the flow head predicting log F~, and per transition

    L = ( log F~(s) + log P_F(s'|s) - log F~(s') - log P_B(s|s') + E(s') - E(s) )^2

with log F~(x) = 0 at terminals (F(x) = R(x)) and log F~(s_0) = log Z + E(s_0). The loss
is the mean over real transitions. Each term needs only E of its two states, never the
terminal reward, so the loss is valid on incomplete trajectories: with ``partial=True``
(``--fldb-partial``) every trajectory is cut after a uniformly random number k in
{1..n} of its n transitions and only its first k transitions are trained on. (The trainer
still completes trajectories, so this shows the loss on incomplete trajectories; it saves
no reward calls here.)
"""

from __future__ import annotations

import torch

from ..trajectories import TrajectoryScores
from .common import boundary_flow


def fldb_residuals(s: TrajectoryScores) -> torch.Tensor:
    """(B, T) per-transition FL-DB residuals."""
    if s.log_flow is None:
        raise ValueError("FL-DB needs a policy with a flow head")
    if s.energy is None:
        raise ValueError("FL-DB needs state energies: the task defines none (SequenceTask.energy)")
    e = s.energy.to(s.log_flow)
    lft = boundary_flow(s, s.log_flow, s.log_z + e[:, 0], torch.zeros_like(s.log_reward))
    return lft[:, :-1] + s.log_pf - lft[:, 1:] - s.log_pb + e[:, 1:] - e[:, :-1]


class ForwardLookingDB:
    needs_energy = True

    def __init__(self, partial: bool = False) -> None:
        self.partial = bool(partial)

    def __call__(self, s: TrajectoryScores) -> tuple[torch.Tensor, dict]:
        r = fldb_residuals(s)
        m = s.mask
        if self.partial:
            pos = m.long().cumsum(1)  # 1-based index of each real transition
            n = pos[:, -1:]
            k = 1 + (torch.rand(n.shape, device=n.device) * n).long().clamp(max=n - 1)
            m = m & (pos <= k)
        m = m.to(r.dtype)
        return (r**2 * m).sum() / m.sum().clamp(min=1), {}

"""Reverse KL, KL(q || pi) (Zimmermann et al., TMLR 2023, "A variational perspective on
generative flow networks"; Malkin et al., ICLR 2023, "GFlowNets and variational inference").

q(tau) = P_F(tau), pi(tau) = R(x) P_B(tau|x) / Z, log w = log R(x) + log P_B(tau|x) - log q(tau).

    KL(q || pi) = E_q[-log w] + log Z
    grad KL     = E_q[ grad log q(tau) * (-log w(tau) - b) ]  -  E_q[ grad log P_B(tau|x) ]

for any b that does not depend on tau (E_q[grad log q] = 0). Surrogate on a batch from q:
mean_i[ stopgrad(-log w_i - b_i) log q_i - log P_B_i ]. P_B is trained by the same
divergence (the second term: P_B fits q's backward conditionals). Control variates b:
``loo`` mean_{j != i}(-log w_j); ``logz`` -log Z with log Z learned (regressed to E_q[log w]);
with ``logz`` the P_F part of the gradient equals, in expectation, half the on-policy TB
gradient with the same log Z. On-policy only: replayed rows are excluded.
"""

from __future__ import annotations

import torch

from .common import ScoreFunctionObjective, baseline


def rkl_surrogate(log_q, log_pb, log_w, log_z, cv: str) -> torch.Tensor:
    c = -log_w.detach()
    b = baseline(c, cv, -log_z.detach())
    return ((c - b) * log_q - log_pb).mean()


class ReverseKL(ScoreFunctionObjective):
    def surrogate(self, log_q, log_pb, log_w, log_z, groups=None):
        return rkl_surrogate(log_q, log_pb, log_w, log_z, self.cv)

"""Forward KL, KL(pi || q) (Zimmermann et al., TMLR 2023; Malkin et al., ICLR 2023).

pi(tau) = R(x) P_B(tau|x) / Z depends on P_B, q(tau) = P_F(tau), w = pi Z / q.

    grad KL(pi || q) = E_pi[ grad log P_B(tau|x) * (log w(tau) - b) ]  -  E_pi[ grad log q(tau) ]

(E_pi[grad log P_B] = 0 since Z = sum_x R(x) does not depend on P_B). E_pi is estimated
off-policy from a batch of q with self-normalised importance weights W_i = B w_i / sum_j w_j
(mean one; consistent, O(1/B) biased; under a temperature distribution W_i = w_i / Z(beta_i)
with the learned Z). Surrogate: mean_i[ (-W_i - b^q_i) log q_i + W_i (log w_i - b^B_i) log P_B_i ],
all coefficients detached. Control variates: for the q-term (valid because E_q[grad log q] = 0)
``loo`` mean_{j != i}(-W_j), ``logz`` -1 (W's value at the target); for the P_B-term ``loo``
the W-weighted mean of log w over j != i, ``logz`` the learned log Z. P_B is trained by the
same divergence, log Z by regression to E_q[log w]. On-policy only: replayed rows (P_B
rollouts from buffer objects drawn with an unknown prioritised distribution) are excluded.
"""

from __future__ import annotations

import torch

from .common import ScoreFunctionObjective, baseline, batch_weights


def fkl_surrogate(log_q, log_pb, log_w, log_z, cv: str) -> torch.Tensor:
    lw = log_w.detach()
    W = batch_weights(lw, log_z)
    cq = -W
    bq = baseline(cq, cv, -1.0)
    if cv == "loo" and lw.shape[0] > 1:
        sw = W.sum()
        bb = ((W * lw).sum() - W * lw) / (sw - W).clamp(min=1e-30)
    else:
        bb = baseline(lw, cv, log_z.detach())
    return ((cq - bq) * log_q + W * (lw - bb) * log_pb).mean()


class ForwardKL(ScoreFunctionObjective):
    def surrogate(self, log_q, log_pb, log_w, log_z, groups=None):
        return fkl_surrogate(log_q, log_pb, log_w, log_z, self.cv)

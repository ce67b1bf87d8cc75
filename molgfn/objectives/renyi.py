"""Renyi-alpha divergence (da Silva et al., NeurIPS 2024, "On divergence measures for
training GFlowNets"), in the direction D_alpha(q || pi), q = P_F, pi = R P_B / Z:

    D_alpha(q || pi) = 1/(alpha (alpha - 1)) log E_q[ (q/pi)^(alpha-1) ]
                     = 1/(alpha (alpha - 1)) log E_q[ w^(1-alpha) ] + log Z / alpha,   w = R P_B / q.

The factor 1/(alpha (alpha - 1)) (rather than Renyi's 1/(alpha - 1)) keeps D >= 0, with
equality only at q = pi, for every alpha not in {0, 1}: for alpha < 0 the log is >= 0 by
Jensen and so is alpha (alpha - 1). With the bare 1/(alpha - 1) the alpha < 0 "divergence" is
<= 0 and minimising it pushes q away from pi. For alpha > 0 the two differ by the positive
factor 1/alpha only (same minimiser). Z only shifts D, so no normaliser is needed.
alpha -> 1 gives KL(q || pi), alpha -> 0 KL(pi || q); alpha > 1 is mode-seeking, alpha < 0
mass-covering; alpha = 0.5 (default) is 4 x the negative log Bhattacharyya coefficient. The
gradient is

    grad D = E_q[ v (1/(alpha-1) grad log q - (1/alpha) grad log P_B) ],  v = w^(1-alpha) / E_q[w^(1-alpha)],

estimated with self-normalised weights W_i = B w_i^(1-alpha) / sum_j w_j^(1-alpha) (consistent,
O(1/B) biased; under a temperature distribution (w_i/Z(beta_i))^(1-alpha) with the learned Z).
Surrogate: mean_i[ (W_i/(alpha-1) - b_i) log q_i - (W_i/alpha) log P_B_i ]; control variates
``loo`` (mean of the coefficient over j != i, as in the paper) or ``logz`` 1/(alpha-1), the
coefficient at the target. P_B by the same divergence; log Z by regression to E_q[log w];
replayed rows are excluded. alpha = 0 and alpha = 1 are refused (use ``fkl`` / ``rkl``).
"""

from __future__ import annotations

from .common import AlphaDivergence, batch_weights


class Renyi(AlphaDivergence):
    def weights(self, log_w, log_z):
        return batch_weights(log_w, log_z, 1 - self.alpha)

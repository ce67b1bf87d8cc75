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
O(1/B) biased).

Under a temperature (or preference) distribution the objective is E_c[ D_alpha(q_c || pi_c) ]
over the conditioning c = beta (or [beta, w]); each c has its own normaliser E_{q_c}[w^(1-alpha)],
so the weights are self-normalised within each group of rows with the same c:
W_i = n_g w_i^(1-alpha) / sum_{j in g(i)} w_j^(1-alpha). The trainer therefore draws each
conditioning for ``rows_per_condition`` rows at a time (a row alone in its group has W = 1 and no
q-gradient). Replacing the normaliser by the learned Z(beta)^(1-alpha) instead would give the
Tsallis estimator exactly (``--objective tsallis``), not Renyi's.
Surrogate: mean_i[ (W_i/(alpha-1) - b_i) log q_i - (W_i/alpha) log P_B_i ]; control variates
``loo`` (mean of the coefficient over j != i, as in the paper) or ``logz`` 1/(alpha-1), the
coefficient at the target. P_B by the same divergence; log Z by regression to E_q[log w];
replayed rows are excluded. alpha = 0 and alpha = 1 are refused (use ``fkl`` / ``rkl``).
"""

from __future__ import annotations

import torch

from .common import AlphaDivergence, grouped_softmax_weights


class Renyi(AlphaDivergence):
    rows_per_condition = 16  # rows drawn at each beta / preference, so that each has its own normaliser

    def weights(self, log_w, log_z, groups=None):
        if groups is None:
            groups = torch.zeros_like(log_w, dtype=torch.long)
        return grouped_softmax_weights(log_w, groups, 1 - self.alpha)

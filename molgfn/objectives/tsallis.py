"""Tsallis-alpha divergence (da Silva et al., NeurIPS 2024, "On divergence measures for
training GFlowNets"), in the direction T_alpha(q || pi), q = P_F, pi = R P_B / Z:

    T_alpha(q || pi) = 1/(alpha (alpha - 1)) ( E_q[ (q/pi)^(alpha-1) ] - 1 )
                     = 1/(alpha (alpha - 1)) ( E_q[(w/Z)^(1-alpha)] - 1 ).

The factor 1/(alpha (alpha - 1)) keeps T >= 0 for every alpha not in {0, 1} (E_q[(q/pi)^(alpha-1)]
is >= 1 for alpha < 0 and alpha > 1, <= 1 for 0 < alpha < 1); Tsallis's bare 1/(alpha - 1) makes
it <= 0 for alpha < 0, where minimising it drives q away from pi. For alpha > 0 the two differ
by the factor 1/alpha only. Unlike Renyi it depends on Z's value: the estimator uses the learned
log Z (regressed to E_q[log w]) for Z, i.e. unnormalised weights W_i = (w_i / Z)^(1-alpha), and
is unbiased for the gradient of T_alpha when log Z is exact:

    grad T = E_q[ (w/Z)^(1-alpha) (1/(alpha-1) grad log q - (1/alpha) grad log P_B) ].

alpha -> 1 gives KL(q || pi), alpha -> 0 KL(pi || q); alpha = 0.5 (default) is 4 x the squared
Hellinger distance (4 - 4 sum sqrt(q pi)). Surrogate:
mean_i[ (W_i/(alpha-1) - b_i) log q_i - (W_i/alpha) log P_B_i ]; control variates ``loo`` or
``logz`` (1/(alpha-1)). P_B by the same divergence; replayed rows are excluded. alpha = 0 and
alpha = 1 are refused (use ``fkl`` / ``rkl``).
"""

from __future__ import annotations

import torch

from .common import AlphaDivergence


class Tsallis(AlphaDivergence):
    def weights(self, log_w, log_z, groups=None):
        # unnormalised: the Tsallis divergence uses (w/Z)^(1-alpha) itself, with the learned Z
        return torch.exp((1 - self.alpha) * (log_w.detach() - log_z.detach()))

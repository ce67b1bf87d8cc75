"""Tsallis-alpha divergence (da Silva et al., NeurIPS 2024, "On divergence measures for
training GFlowNets"), in the direction T_alpha(q || pi), q = P_F, pi = R P_B / Z:

    T_alpha(q || pi) = 1/(alpha - 1) ( E_q[ (q/pi)^(alpha-1) ] - 1 ) = 1/(alpha - 1) ( E_q[(w/Z)^(1-alpha)] - 1 ).

Unlike Renyi it depends on Z's value: the estimator uses the learned log Z (regressed to
E_q[log w]) for Z, i.e. unnormalised weights W_i = (w_i / Z)^(1-alpha), and is unbiased
for the gradient of T_alpha when log Z is exact:

    grad T = E_q[ (w/Z)^(1-alpha) (alpha/(alpha-1) grad log q - grad log P_B) ].

alpha -> 1 gives KL(q || pi); alpha = 0.5 (default) is 2 x the squared Hellinger distance
(2 - 2 sum sqrt(q pi)). Surrogate: mean_i[ (alpha/(alpha-1) W_i - b_i) log q_i - W_i log P_B_i ];
control variates ``loo`` or ``logz`` (alpha/(alpha-1)). P_B by the same divergence;
replayed rows are excluded. alpha = 1 is refused (use ``rkl``).
"""

from __future__ import annotations

import torch

from .common import AlphaDivergence


class Tsallis(AlphaDivergence):
    def weights(self, log_w, log_z):
        # unnormalised: the Tsallis divergence uses (w/Z)^(1-alpha) itself, with the learned Z
        return torch.exp((1 - self.alpha) * (log_w.detach() - log_z.detach()))

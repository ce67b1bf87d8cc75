"""Convex mix of the two KL directions: (1 - lambda) KL(q || pi) + lambda KL(pi || q)
(Zimmermann et al., TMLR 2023; Malkin et al., ICLR 2023).

The surrogate is (1 - lambda) times the reverse-KL surrogate (``rkl``) plus lambda times
the forward-KL surrogate (``fkl``) on the same on-policy batch, with the same control
variate; log Z by regression to E_q[log w]; replayed rows are excluded.
"""

from __future__ import annotations

from .common import ScoreFunctionObjective
from .fkl import fkl_surrogate
from .rkl import rkl_surrogate


class KLMix(ScoreFunctionObjective):
    def __init__(self, lam: float = 0.5, control_variate: str = "loo") -> None:
        super().__init__(control_variate)
        if not 0.0 <= lam <= 1.0:
            raise ValueError(f"--kl-mix-lambda must be in [0, 1], got {lam}")
        self.lam = float(lam)

    def surrogate(self, log_q, log_pb, log_w, log_z, groups=None):
        return ((1 - self.lam) * rkl_surrogate(log_q, log_pb, log_w, log_z, self.cv)
                + self.lam * fkl_surrogate(log_q, log_pb, log_w, log_z, self.cv))

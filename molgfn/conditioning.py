"""The conditioning tensor a policy is given with every state.

Temperature-conditional GFlowNets (Kim et al., ICML 2024) are given the inverse temperature,
a (B,) tensor ``beta``. A preference-conditioned multi-objective GFlowNet (Jain et al., ICML
2023, "Multi-Objective GFlowNets") is given ``cond = [beta, w]``, a (B, 1 + k) tensor: beta and
the preference vector w on the simplex (k objectives), and learns, for every (beta, w) at once,

    P(x | beta, w) = R(x | w)^beta / Z(beta, w),   R(x | w) = sum_i w_i y_i(x)   (the weighted sum)

(``molgfn.moo.conditional_log_reward``). Policies, samplers and objectives pass ``cond`` through
wherever a (B,) beta went before, so single-objective runs are unchanged; only the small
networks that read the conditioning (``molgfn.policies``, ``molgfn.gnn``) look inside it.
"""

from __future__ import annotations

import torch


def temperature(cond: torch.Tensor) -> torch.Tensor:
    """(B,) inverse temperatures of a (B,) beta or (B, 1 + k) [beta, w] conditioning."""
    return cond if cond.dim() == 1 else cond[:, 0]


def preferences(cond: torch.Tensor) -> torch.Tensor | None:
    """(B, k) preference vectors of a (B, 1 + k) conditioning; None for a plain beta."""
    return None if cond.dim() == 1 else cond[:, 1:]


def as_input(cond: torch.Tensor) -> torch.Tensor:
    """(B, 1 + k) network input: a (B,) beta becomes one column."""
    return cond[:, None] if cond.dim() == 1 else cond


def make_cond(beta: torch.Tensor, pref: torch.Tensor | None) -> torch.Tensor:
    """beta (B,) alone, or [beta, w] (B, 1 + k) when preference vectors are given."""
    if pref is None:
        return beta
    return torch.cat([beta[:, None], pref.to(beta)], dim=1)

"""Helpers shared by the objectives: boundary flows, on-policy rows, control variates.

Conventions used by every objective in this package:
  * log F(s_0) is the policy's log Z (so TB is the full-trajectory case of SubTB) and
    log F(x) = beta * log R(x) at the terminal state;
  * states that merely repeat s_0 (leading padding of a short backward rollout) or the
    terminal (trailing padding) take those boundary values;
  * ``TrajectoryScores.on_policy`` (B,) bool marks trajectories sampled from P_F; ``None``
    means all of them are.
"""

from __future__ import annotations

import torch

from ..choices import CONTROL_VARIATES  # defined once, for the library and the CLI
from ..trajectories import TrajectoryScores


def head_tail(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T+1) masks of states equal to s_0 (no real transition before) and to the terminal
    (no real transition after)."""
    m = mask.long()
    true = torch.ones_like(m[:, :1], dtype=torch.bool)
    head = torch.cat([true, m.cumsum(1) == 0], 1)
    tail = torch.cat([m.flip(1).cumsum(1).flip(1) == 0, true], 1)
    return head, tail


def boundary_flow(s: TrajectoryScores, log_flow: torch.Tensor, start: torch.Tensor,
                  end: torch.Tensor) -> torch.Tensor:
    """``log_flow`` (B, T+1) with ``start`` (B,) at s_0-states and ``end`` (B,) at terminal states."""
    head, tail = head_tail(s.mask)
    out = torch.where(head, start[:, None].to(log_flow), log_flow)
    return torch.where(tail, end[:, None].to(log_flow), out)


def traj_logs(s: TrajectoryScores) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per trajectory: log q(tau) = sum log P_F, log P_B(tau|x), log w = log R + log P_B - log q."""
    m = s.mask.to(s.log_pf.dtype)
    log_q = (s.log_pf * m).sum(1)
    log_pb = (s.log_pb * m).sum(1)
    return log_q, log_pb, s.log_reward.to(log_q) + log_pb - log_q


def select_on_policy(s: TrajectoryScores) -> TrajectoryScores:
    """The rows sampled from P_F (score-function estimators are valid only on them)."""
    op = getattr(s, "on_policy", None)
    if op is None or bool(op.all()):
        return s
    idx = op.nonzero()[:, 0]
    kw = {}
    for k, v in vars(s).items():
        kw[k] = v[idx] if isinstance(v, torch.Tensor) else v
    return type(s)(**kw)


def loo_mean(c: torch.Tensor) -> torch.Tensor:
    """Leave-one-out mean: b_i = mean_{j != i} c_j (independent of sample i)."""
    n = c.shape[0]
    if n < 2:
        return torch.zeros_like(c)
    return (c.sum() - c) / (n - 1)


def baseline(c: torch.Tensor, kind: str, at_target: torch.Tensor | float) -> torch.Tensor:
    """Control variate for a REINFORCE coefficient ``c`` (B,): ``none`` 0, ``loo`` the
    leave-one-out batch mean, ``logz`` the value ``c`` takes at the target (where
    w(tau) = Z for every tau), computed with the learned log Z where ``c`` involves Z."""
    if kind == "none":
        return torch.zeros_like(c)
    if kind == "loo":
        return loo_mean(c)
    if kind == "logz":
        return torch.as_tensor(at_target, dtype=c.dtype, device=c.device).expand_as(c)
    raise ValueError(f"control variate must be one of {CONTROL_VARIATES}, got {kind!r}")


def check_cv(kind: str) -> str:
    if kind not in CONTROL_VARIATES:
        raise ValueError(f"control variate must be one of {CONTROL_VARIATES}, got {kind!r}")
    return kind


def condition_groups(s: TrajectoryScores) -> torch.Tensor:
    """(B,) labels 0..G-1 of the rows' targets: rows with the same conditioning (beta, or [beta, w])
    target the same pi and share a label. Without ``s.cond``, rows with the same learned log Z."""
    key = s.log_z.detach() if s.cond is None else s.cond.detach()
    return torch.unique(key.reshape(key.shape[0], -1), dim=0, return_inverse=True)[1]


def grouped_softmax_weights(log_v: torch.Tensor, groups: torch.Tensor, power: float = 1.0) -> torch.Tensor:
    """Detached self-normalised weights within each group: W_i = n_g v_i^p / sum_{j in g} v_j^p
    (mean one in every group; a group of one row gets W = 1)."""
    lv = power * log_v.detach()
    g = groups.long()
    n = int(g.max()) + 1 if g.numel() else 0
    top = torch.full((n,), -torch.inf, dtype=lv.dtype, device=lv.device).scatter_reduce(0, g, lv, "amax")
    e = torch.exp(lv - top[g])
    tot = torch.zeros(n, dtype=lv.dtype, device=lv.device).index_add_(0, g, e)
    cnt = torch.zeros(n, dtype=lv.dtype, device=lv.device).index_add_(0, g, torch.ones_like(lv))
    return e / tot[g] * cnt[g]


def batch_weights(log_v: torch.Tensor, log_z: torch.Tensor, power: float = 1.0) -> torch.Tensor:
    """Detached importance weights of mean one, W_i = B * v_i^p / sum_j v_j^p (self-normalised).

    With a temperature distribution the rows target different pi_beta and cannot share a
    normaliser: then W_i = (v_i / Z(beta_i))^p with the learned log Z(beta)."""
    lv = log_v.detach()
    if log_z.numel() > 1 and not torch.allclose(log_z, log_z[:1].expand_as(log_z)):
        return torch.exp(power * (lv - log_z.detach()))
    return torch.softmax(power * lv, 0) * lv.shape[0]


class ScoreFunctionObjective:
    """Base of the divergence objectives (on-policy, REINFORCE-style surrogates).

    ``__call__`` keeps the on-policy rows, forms per-trajectory log q, log P_B, log w, and
    returns ``surrogate + (log Z - stopgrad(log w))^2``: the second term only trains log Z
    (to E_q[log w], the ELBO, which is log Z at the optimum; it is the ``logz`` control
    variate and the weight normaliser under a temperature distribution). The surrogate's
    gradient is the divergence's gradient for every network parameter (P_F and P_B share a
    trunk, so both parts are always included); log Z does not enter it.
    """

    on_policy_only = True

    def __init__(self, control_variate: str = "loo") -> None:
        self.cv = check_cv(control_variate)

    def surrogate(self, log_q, log_pb, log_w, log_z, groups=None) -> torch.Tensor:
        """``groups`` (B,): labels of the rows' targets (``condition_groups``)."""
        raise NotImplementedError

    def __call__(self, s: TrajectoryScores) -> tuple[torch.Tensor, dict]:
        s = select_on_policy(s)
        log_q, log_pb, log_w = traj_logs(s)
        log_z = s.log_z.to(log_q)
        sur = self.surrogate(log_q, log_pb, log_w, log_z, condition_groups(s))
        z_loss = ((log_z - log_w.detach()) ** 2).mean()
        with torch.no_grad():
            ess = float(torch.exp(2 * torch.logsumexp(log_w, 0) - torch.logsumexp(2 * log_w, 0)))
        return sur + z_loss, {"log_w_mean": float(log_w.detach().mean()), "ess": ess}


class AlphaDivergence(ScoreFunctionObjective):
    """Shared surrogate of the order-alpha divergences (Renyi, Tsallis), normalised by
    1/(alpha (alpha - 1)) so that both are >= 0 for every alpha not in {0, 1} (with the bare
    1/(alpha - 1) they are <= 0 for alpha < 0 and minimising them drives q away from pi).
    With detached weights W_i: mean_i[(W_i/(alpha-1) - b_i) log q_i - (W_i/alpha) log P_B_i];
    subclasses say how W is formed."""

    def __init__(self, alpha: float = 0.5, control_variate: str = "loo") -> None:
        super().__init__(control_variate)
        if alpha == 1.0:
            raise ValueError("alpha = 1 is the KL limit: use --objective rkl")
        if alpha == 0.0:
            raise ValueError("alpha = 0 is the forward-KL limit: use --objective fkl (alpha must not be 0 or 1)")
        self.alpha = float(alpha)

    def weights(self, log_w: torch.Tensor, log_z: torch.Tensor, groups: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def surrogate(self, log_q, log_pb, log_w, log_z, groups=None):
        a = self.alpha
        W = self.weights(log_w, log_z, groups)
        c = W / (a - 1)
        b = baseline(c, self.cv, 1 / (a - 1))
        return ((c - b) * log_q - W / a * log_pb).mean()

"""Calibration of a trained sampler: does it sample the distribution it claims, R^beta / Z?

A sampler can find many modes because it is sharper than its target (a log Z that has not
converged), so mode counts are reported beside a calibration measure:

* on enumerable tasks the exact L1 distance to R^beta / Z and the learned log Z's error
  (``molgfn.exact.distribution_report``);
* everywhere, an importance-sampled estimate of log Z from trajectories tau ~ P_F at beta:

      w(tau) = R(x)^beta P_B(tau | x) / P_F(tau),   Z_hat = mean_i w(tau_i),   log Z_hat = log Z_hat.

  Z_hat is unbiased for Z = sum_x R(x)^beta for every P_F whose support covers P_B's, because
  E_{P_F}[w] = sum_tau R(x)^beta P_B(tau | x) = sum_x R(x)^beta (P_B(. | x) sums to one); its log
  is biased low by about Var(w) / (2 n Z^2). The standard error of log Z_hat is the delta
  method's sd(w) / (sqrt(n) mean(w)), and the effective sample size (sum w)^2 / sum w^2 says how
  much to trust both: an ESS of a few out of hundreds means P_F misses mass that R^beta has, and
  the estimate (and its standard error) are then too low. At the target, w = Z for every
  trajectory: ESS = n, the standard error is 0 and the learned log Z equals log Z_hat.

``is_log_z_error`` = learned log Z - log Z_hat; positive values beyond a few standard errors (or a
low ESS) mean the sampler is not yet calibrated.
"""

from __future__ import annotations

import math

import torch

from .conditioning import make_cond
from .objectives.common import traj_logs
from .sampling import sample_forward
from .trajectories import Trajectories, score

IS_COLUMNS = ("is_log_z", "is_log_z_se", "is_ess")


def is_summary(log_w: torch.Tensor) -> dict:
    """log of the mean importance weight, its delta-method standard error and the ESS."""
    lw = log_w.detach().double().flatten()
    n = lw.numel()
    out = {"is_log_z": math.nan, "is_log_z_se": math.nan, "is_ess": 0.0, "is_samples": n}
    if n == 0:
        return out
    top = lw.max()
    if not bool(torch.isfinite(top)):  # every weight 0 (rewards at -inf), or an overflow
        return out
    w = torch.exp(lw - top)  # weights scaled by e^-top: the ratios below do not depend on the scale
    mean = w.mean()
    out["is_log_z"] = float(top + torch.log(mean))
    if n > 1:
        out["is_log_z_se"] = float(w.std(unbiased=True) / (math.sqrt(n) * mean))
    out["is_ess"] = float(w.sum() ** 2 / (w**2).sum())
    return out


@torch.no_grad()
def log_weights(env, policy, traj: Trajectories, chunk: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Per trajectory (carrying its untempered log R): log w = beta log R(x) + log P_B(tau|x) - log P_F(tau),
    and the learned log Z at its conditioning."""
    lws, lzs = [], []
    for i in range(0, len(traj), chunk):
        part = Trajectories(*(getattr(traj, f)[i : i + chunk] for f in ("states", "fwd_actions", "bwd_actions",
                                                                          "beta", "log_reward")))
        s = score(env, policy, part)
        lws.append(traj_logs(s)[2].double())
        lzs.append(s.log_z.detach().double())
    if not lws:
        return torch.zeros(0, dtype=torch.float64), torch.zeros(0, dtype=torch.float64)
    return torch.cat(lws), torch.cat(lzs)


def summary_of(env, policy, traj: Trajectories) -> dict:
    """``is_summary`` of trajectories sampled from P_F at one conditioning, with the learned log Z."""
    lw, lz = log_weights(env, policy, traj)
    out = is_summary(lw)
    learned = float(lz[0]) if lz.numel() else math.nan
    out["log_z_learned"] = learned
    out["is_log_z_error"] = learned - out["is_log_z"]
    return out


def _log_reward(trainer, terminals: torch.Tensor, pref: torch.Tensor | None) -> torch.Tensor:
    """log R of terminals as in training (log R(x | w) with preferences), without counting reward calls."""
    task = trainer.task
    counts = getattr(task, "filter_counts", None)
    saved = dict(counts) if isinstance(counts, dict) else None
    try:
        raw = task.score_tokens(terminals.cpu()).to(torch.float64)
    finally:
        if saved is not None:  # a metric, not training: keep the 'filtered' counts of training as they were
            counts.clear()
            counts.update(saved)
    if pref is None:
        return task.log_reward(raw).to(trainer.device)
    Y = trainer._objective_vectors(trainer.env.to_strings(terminals))
    return trainer._conditional_log_reward(Y, pref.expand(terminals.shape[0], -1))


@torch.no_grad()
def importance_log_z(trainer, n: int, beta: float = 1.0, gen: torch.Generator | None = None) -> dict:
    """Draw n trajectories from P_F at ``beta`` (equal preferences for a preference-conditioned sampler),
    score their objects (not counted as reward calls) and return ``summary_of`` them."""
    if n <= 0:
        return is_summary(torch.zeros(0))
    pref = None
    if trainer.pref_dist is not None:
        pref = torch.full((1, trainer.n_prefs), 1.0 / trainer.n_prefs, device=trainer.device)
    b = torch.full((n,), float(beta), device=trainer.device)
    cond = make_cond(b, None if pref is None else pref.expand(n, -1))
    traj = sample_forward(trainer.env, trainer.policy, cond, 0.0, gen=gen)
    traj = traj.with_reward(_log_reward(trainer, traj.terminals, pref).to(b.dtype))
    return summary_of(trainer.env, trainer.policy, traj)


def cheap_to_score(trainer) -> bool:
    """Whether the metric may score fresh samples: a table, an in-process model or a library function, not an
    oracle run through executors (the CLI's user and external oracles: those calls cost real time and would
    not count as reward calls), and never under an oracle-call budget (PMO counts every call)."""
    from .oracle import task_oracles

    return trainer.cfg.max_oracle_calls is None and not any(o.configured for o in task_oracles(trainer.task))


def round_columns(trainer) -> dict:
    """metrics.csv's importance-sampled log Z at beta = 1, every ``calibration_every`` rounds (NaN, an empty
    cell, in between; nothing when 0). Its own generator, seeded by the run's seed and the round: the
    training draws are the same with or without it, and a resumed run logs the same numbers."""
    every = trainer.cfg.calibration_every
    if not every or not cheap_to_score(trainer):
        return {}
    if trainer.round % every:
        return dict.fromkeys(IS_COLUMNS, math.nan)
    gen = torch.Generator(device=trainer.device)
    gen.manual_seed((trainer.cfg.seed * 1_000_003 + trainer.round) % (2**63))
    res = importance_log_z(trainer, trainer.cfg.calibration_samples, 1.0, gen)
    return {k: res[k] for k in IS_COLUMNS}


@torch.no_grad()
def init_log_z(env, policy, traj: Trajectories) -> float | None:
    """Set an unconditional learned log Z to the importance-sampled log Z of ``traj`` (trajectories drawn
    from P_F, carrying log R), before the first update: training then starts near log Z instead of 0, which
    a scalar log Z at its learning rate took longer to close than a run lasts (issue 18). The estimate is
    biased low (``is_summary``) and ignores the exploration epsilon in P_F; training corrects both. Returns
    the value set, or None (a log Z conditional on beta or preferences is left as built, as is a non-finite
    estimate)."""
    lz = getattr(policy, "log_z", None)
    if getattr(lz, "conditional", True) or not isinstance(getattr(lz, "value", None), torch.Tensor):
        return None
    lw, _ = log_weights(env, policy, traj)
    est = is_summary(lw)["is_log_z"]
    if not math.isfinite(est):
        return None
    lz.value.fill_(est)
    return est

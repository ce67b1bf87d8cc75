"""Exact quantities on enumerable sequence spaces: the sampler's marginal p(x) by dynamic
programming over the prepend/append DAG, log Z, and distances to the target R^beta / Z."""

from __future__ import annotations

import math

import torch

from .trajectories import masked_log_softmax


def _level_states(env, n: int, device) -> torch.Tensor:
    """All length-n partial states, ordered by their base-A index, left-aligned and padded."""
    tokens = torch.full((env.A**n, env.length), env.pad, dtype=torch.long, device=device)
    if n > 0:
        i = torch.arange(env.A**n, device=device)
        w = env.A ** torch.arange(n - 1, -1, -1, device=device)
        tokens[:, :n] = (i[:, None] // w) % env.A
    return tokens


@torch.no_grad()
def exact_marginal(env, policy, beta: float = 1.0, batch: int = 65536, pref=None) -> torch.Tensor:
    """p(x) of the forward policy (no exploration) for every object, ordered by ``env.index``;
    ``pref`` (k,): of a preference-conditioned policy at preference w (``molgfn.conditioning``)."""
    from .conditioning import make_cond

    device = next(policy.parameters()).device
    A = env.A
    p = torch.ones(1, dtype=torch.float64, device=device)
    for n in range(env.length):
        states = _level_states(env, n, device)
        logp = []
        for i in range(0, states.shape[0], batch):
            s = states[i : i + batch]
            b = torch.full((s.shape[0],), float(beta), device=device)
            w = None if pref is None else torch.as_tensor(pref, dtype=torch.float32, device=device).expand(len(b), -1)
            out = policy(env.encode(s), make_cond(b, w))
            logp.append(masked_log_softmax(out.fwd_logits.double(), env.forward_mask(s)))
        probs = torch.cat(logp).exp() * p[:, None]  # (A^n, n_fwd)
        idx = torch.arange(A**n, device=device)
        nxt = torch.zeros(A ** (n + 1), dtype=torch.float64, device=device)
        a = torch.arange(A, device=device)
        append_child = idx[:, None] * A + a[None, :]
        if env.append_only:
            nxt.index_add_(0, append_child.flatten(), probs.flatten())
        else:
            prepend_child = a[None, :] * A**n + idx[:, None]
            nxt.index_add_(0, prepend_child.flatten(), probs[:, :A].flatten())
            nxt.index_add_(0, append_child.flatten(), probs[:, A:].flatten())
        p = nxt
    return p


def target_distribution(log_reward: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    return torch.softmax(beta * log_reward.double(), 0)


def exact_log_z(log_reward: torch.Tensor, beta: float = 1.0) -> float:
    return float(torch.logsumexp(beta * log_reward.double(), 0))


def l1_distance(p: torch.Tensor, q: torch.Tensor) -> float:
    return float((p - q).abs().sum())


def distribution_report(env, policy, log_reward: torch.Tensor, beta: float = 1.0) -> dict:
    """L1(p, R^beta/Z), Pearson/Spearman of log p vs log R, and the signed log Z error, learned - exact
    (negative: the sampler is sharper than R^beta/Z), as ``is_log_z_error`` is learned - IS estimate."""
    from scipy.stats import pearsonr, spearmanr

    p = exact_marginal(env, policy, beta).cpu()
    target = target_distribution(log_reward.cpu(), beta)
    logp = torch.log(p.clamp(min=1e-300)).numpy()
    lr = log_reward.cpu().double().numpy()
    device = next(policy.parameters()).device
    with torch.no_grad():
        learned = float(policy.log_z(torch.tensor([float(beta)], device=device))[0])
    true = exact_log_z(log_reward.cpu(), beta)
    return {
        "l1": l1_distance(p, target),
        "pearson_logp_logr": float(pearsonr(logp, lr)[0]) if len(lr) > 1 else math.nan,
        "spearman_logp_logr": float(spearmanr(logp, lr)[0]) if len(lr) > 1 else math.nan,
        "log_z_learned": learned,
        "log_z_exact": true,
        "log_z_error": learned - true,
    }

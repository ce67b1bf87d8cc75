"""Samplers: forward (on-policy, epsilon-uniform exploration) and backward (P_B) rollouts."""

from __future__ import annotations

import torch

from .trajectories import Trajectories, masked_log_softmax


def _sample_categorical(logp: torch.Tensor, mask: torch.Tensor, epsilon: float,
                        gen: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Actions, and each row's exploration coin (None without exploration): rows whose coin came up
    take a uniform valid action instead of the policy's."""
    # Gumbel-max: one fused op instead of a multinomial per row
    u = torch.rand(logp.shape, generator=gen, device=logp.device).clamp_(1e-20, 1.0)
    gumbel = -torch.log(-torch.log(u))
    a = (logp + gumbel).argmax(-1)
    if epsilon <= 0:
        return a, None
    u2 = torch.rand(logp.shape, generator=gen, device=logp.device)
    uniform = torch.where(mask, u2, -1.0).argmax(-1)
    coin = torch.rand(logp.shape[0], generator=gen, device=logp.device) < epsilon
    return torch.where(coin & mask.any(-1), uniform, a), coin


@torch.no_grad()
def sample_forward(env, policy, beta: torch.Tensor, epsilon: float = 0.0,
                   start: torch.Tensor | None = None, steps: int | None = None,
                   gen: torch.Generator | None = None) -> Trajectories:
    """Roll out P_F (mixed with epsilon-uniform exploration) from ``start`` (default s_0).

    ``on_policy`` marks the trajectories whose exploration coin never came up in ``steps``
    flips. The coin is flipped at every step, after a stop too, so every trajectory - short or
    long - is kept with the same probability (1 - epsilon)^steps and the kept ones are exact
    samples of P_F, which the score-function objectives need. (Counting the coin only while a
    state is live would keep short trajectories more often.)

    A policy with a ``sample_actions(s, beta, epsilon, gen)`` method (the fragment GNN's
    factorised action space) samples its own actions; others give dense logits.
    """
    n = beta.shape[0]
    steps = env.traj_len if steps is None else steps
    if getattr(env, "lockstep", False) and 0 < steps <= env.traj_len:
        t0 = env.traj_len - steps  # from s_0, or (local search) from states that all have length t0
        if start is None and t0 == 0 or start is not None and bool((env.lengths(start) == t0).all()):
            return _lockstep_rollout(env, policy, beta, epsilon, gen, start, t0)
    s = env.initial(n, beta.device) if start is None else start
    states, fa, ba = [s], [], []
    explored = torch.zeros(n, dtype=torch.bool, device=beta.device)
    own = getattr(policy, "sample_actions", None)
    for _ in range(steps):
        if own is not None:
            a, explore = own(env.encode(s), beta, epsilon, gen)
        else:
            out = policy(env.encode(s), beta)
            mask = env.forward_mask(s)
            a, explore = _sample_categorical(masked_log_softmax(out.fwd_logits, mask), mask, epsilon, gen)
        if explore is not None:
            explored |= explore
        fa.append(a)
        ba.append(env.backward_of(a))
        s = env.step(s, a)
        states.append(s)
    return Trajectories(torch.stack(states, 1), _stack(fa, n, beta.device), _stack(ba, n, beta.device), beta,
                        on_policy=~explored)


def _minus_gumbel(shape: tuple[int, ...], gen: torch.Generator | None, device) -> torch.Tensor:
    """log(-log u) for u ~ U(0, 1], the negated Gumbel noise of Gumbel-max: a lockstep step takes
    argmax(logits - noise), in place on the draws (the same random numbers as one ``rand`` per step)."""
    return torch.rand(shape, generator=gen, device=device).clamp_(1e-20, 1.0).log_().neg_().log_()


def _rollout_logits(policy, beta: torch.Tensor, backward: bool = False):
    """x -> forward (or backward) logits at ``beta`` for a rollout: the policy's ``rollout_logits`` where
    it has one (``MLPPolicy``), else its ``forward``."""
    own = getattr(policy, "rollout_logits", None)
    if own is not None:
        return own(beta, backward=backward)
    return (lambda x: policy(x, beta).bwd_logits) if backward else (lambda x: policy(x, beta).fwd_logits)


def _lockstep_rollout(env, policy, beta: torch.Tensor, epsilon: float, gen: torch.Generator | None,
                      start: torch.Tensor | None = None, t0: int = 0) -> Trajectories:
    """``sample_forward`` for an env whose rows all advance in lockstep with every action valid
    (``env.lockstep``, sequences), from s_0 or from ``start`` states that all have length ``t0``: the
    same distribution with fewer small ops - no masks, no log-softmax (Gumbel-max on the logits), all
    random numbers drawn once, the exploration folded into the noise, and ``env.lockstep_step``."""
    n, T, dev = beta.shape[0], env.traj_len - t0, beta.device
    log_e = _minus_gumbel((T, n, env.n_fwd), gen, dev)
    if epsilon > 0:
        coin = torch.rand((T, n), generator=gen, device=dev) < epsilon
        uniform = torch.randint(0, env.n_fwd, (T, n), generator=gen, device=dev)
        # a row whose coin came up takes its uniform action: -inf there and 0 elsewhere makes it
        # the argmax whatever the (finite) logits - the same actions as a select after the argmax
        forced = torch.zeros_like(log_e).scatter_(2, uniform[..., None], float("-inf"))
        log_e = torch.where(coin[..., None], forced, log_e)
    logits_of = _rollout_logits(policy, beta)
    step = env.lockstep_step(n, dev)
    s = env.initial(n, dev) if start is None else start
    states, fa = [s], []
    with torch.inference_mode():  # lighter tensors in the loop; the stacks below are ordinary tensors
        for t, le in enumerate(log_e.unbind(0), start=t0):
            a = (logits_of(env.encode(s)) - le).argmax(-1)
            fa.append(a)
            s = step(s, a, t)
            states.append(s)
    fwd = torch.stack(fa, 1)
    on_policy = ~coin.any(0) if epsilon > 0 else torch.ones(n, dtype=torch.bool, device=dev)
    return Trajectories(torch.stack(states, 1), fwd, env.backward_of(fwd), beta, on_policy=on_policy)


@torch.no_grad()
def sample_backward(env, policy, terminals: torch.Tensor, beta: torch.Tensor, steps: int | None = None,
                    gen: torch.Generator | None = None) -> Trajectories:
    """Roll out P_B from ``terminals`` for ``steps`` steps (default: back to s_0).

    Returned in forward order: states[:, -1] are the terminals.
    """
    n = terminals.shape[0]
    steps = env.traj_len if steps is None else steps
    if getattr(env, "lockstep", False) and 0 < steps <= env.traj_len and bool(
            (env.lengths(terminals) == env.traj_len).all()):
        return _lockstep_backward(env, policy, terminals, beta, steps, gen)
    s = terminals
    states, fa, ba = [s], [], []
    own = getattr(policy, "backward_logits", None)  # skips the forward head where a policy can
    for _ in range(steps):
        logits = own(env.encode(s), beta) if own is not None else policy(env.encode(s), beta).bwd_logits
        mask = env.backward_mask(s)
        b, _ = _sample_categorical(masked_log_softmax(logits, mask), mask, 0.0, gen)
        ba.append(b)
        fa.append(env.forward_of(s, b))
        s = env.backward_step(s, b)
        states.append(s)
    states.reverse()
    fa.reverse()
    ba.reverse()
    return Trajectories(torch.stack(states, 1), _stack(fa, n, beta.device), _stack(ba, n, beta.device), beta)


def _lockstep_backward(env, policy, terminals: torch.Tensor, beta: torch.Tensor, steps: int,
                       gen: torch.Generator | None) -> Trajectories:
    """``sample_backward`` from full-length states of a lockstep env (every row has length t at step
    L - t, so every backward action is valid): Gumbel-max on the backward logits with all noise drawn
    once, ``env.lockstep_back``, and the undone forward actions found once from the stacked states."""
    n, L, dev = terminals.shape[0], env.traj_len, beta.device
    log_e = _minus_gumbel((steps, n, env.n_bwd), gen, dev)
    logits_of = _rollout_logits(policy, beta, backward=True)
    back = env.lockstep_back(n, dev)
    s = terminals
    states, ba = [s], []
    with torch.inference_mode():
        for k, le in enumerate(log_e.unbind(0)):
            b = (logits_of(env.encode(s)) - le).argmax(-1)
            ba.append(b)
            s = back(s, b, L - k)
            states.append(s)
    states.reverse()
    ba.reverse()
    st, bwd = torch.stack(states, 1), torch.stack(ba, 1)
    fwd = env.forward_of(st[:, 1:].reshape(n * steps, -1), bwd.reshape(-1)).view(n, steps)
    return Trajectories(st, fwd, bwd, beta)


def _stack(xs: list[torch.Tensor], n: int, device) -> torch.Tensor:
    return torch.stack(xs, 1) if xs else torch.zeros((n, 0), dtype=torch.long, device=device)

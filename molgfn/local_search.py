"""Local search for GFlowNets (LS-GFN; Kim et al., ICLR 2024).

From each current object x: sample a full backward trajectory with P_B, keep its first
T-K steps (destroy the last K), rebuild K steps with P_F (no exploration noise, so the
proposal probabilities are exact), evaluate the reward, then accept or reject:

* ``greedy``: accept when the log-reward does not decrease;
* ``mh``: Metropolis-Hastings, accept with probability min(1, e^a);
* ``barker``: accept with probability sigmoid(a) (the reference code's stochastic filter);

    a = [beta log R(x') + log P_B(destroy'|x') + log P_F(rebuild -> x | s)]
      - [beta log R(x)  + log P_B(destroy|x)   + log P_F(rebuild -> x'| s)]

With ``mh`` or ``barker`` and beta fixed, the chain leaves R(x)^beta invariant. Every
proposal is returned for training, so each iteration costs one reward call per chain.
"""

from __future__ import annotations

import torch

from .sampling import sample_backward, sample_forward
from .trajectories import Trajectories, masked_log_softmax, valid_transitions

FILTERS = ("greedy", "mh", "barker")


@torch.no_grad()
def _segment_logprobs(env, policy, traj: Trajectories, start: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of log P_F and of log P_B over transitions start..T-1 of each trajectory."""
    seg = traj.states[:, start:]
    B, T1 = seg.shape[:2]
    flat = seg.reshape(B * T1, *seg.shape[2:])
    out = policy(env.encode(flat), traj.beta.repeat_interleave(T1))
    fwd = masked_log_softmax(out.fwd_logits, env.forward_mask(flat)).reshape(B, T1, -1)
    bwd = masked_log_softmax(out.bwd_logits, env.backward_mask(flat)).reshape(B, T1, -1)
    m = valid_transitions(seg)
    lpf = (fwd[:, :-1].gather(2, traj.fwd_actions[:, start:, None])[..., 0] * m).sum(1)
    lpb = (bwd[:, 1:].gather(2, traj.bwd_actions[:, start:, None])[..., 0] * m).sum(1)
    return lpf, lpb


def _where(mask: torch.Tensor, a: Trajectories, b: Trajectories) -> Trajectories:
    def pick(x, y):
        m = mask.view(-1, *([1] * (x.dim() - 1)))
        return torch.where(m, x, y)

    return Trajectories(pick(a.states, b.states), pick(a.fwd_actions, b.fwd_actions),
                        pick(a.bwd_actions, b.bwd_actions), a.beta, pick(a.log_reward, b.log_reward))


@torch.no_grad()
def local_search_step(env, policy, evaluate, current: Trajectories, backtrack: int, filter: str = "greedy",
                      gen: torch.Generator | None = None) -> tuple[Trajectories, Trajectories, torch.Tensor]:
    """One destroy-rebuild-filter step for every chain.

    ``evaluate(terminals) -> log R`` calls the oracle. Returns (proposal, new current, accepted mask).
    """
    if filter not in FILTERS:
        raise ValueError(f"unknown local-search filter {filter!r}; choose from {FILTERS}")
    T = env.traj_len
    K = min(max(int(backtrack), 1), T)
    cut = T - K
    beta = current.beta
    back = sample_backward(env, policy, current.terminals, beta, gen=gen).with_reward(current.log_reward)
    rebuild = sample_forward(env, policy, beta, 0.0, start=back.states[:, cut], steps=K, gen=gen)
    proposal = Trajectories(
        torch.cat([back.states[:, : cut + 1], rebuild.states[:, 1:]], 1),
        torch.cat([back.fwd_actions[:, :cut], rebuild.fwd_actions], 1),
        torch.cat([back.bwd_actions[:, :cut], rebuild.bwd_actions], 1),
        beta,
    )
    proposal = proposal.with_reward(evaluate(proposal.terminals).to(current.log_reward))
    if filter == "greedy":
        accept = proposal.log_reward >= current.log_reward
    else:
        lpf_old, lpb_old = _segment_logprobs(env, policy, back, cut)
        lpf_new, lpb_new = _segment_logprobs(env, policy, proposal, cut)
        a = (beta * proposal.log_reward + lpb_new + lpf_old) - (beta * back.log_reward + lpb_old + lpf_new)
        u = torch.rand(a.shape, generator=gen, device=a.device, dtype=a.dtype)
        accept = torch.log(u) < (a if filter == "mh" else torch.nn.functional.logsigmoid(a))
    return proposal, _where(accept, proposal, back), accept

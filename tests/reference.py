"""Independent references for the tests: every trajectory of a small sequence task, and the
balance objectives' per-trajectory losses written from the papers' formulas (see
test_balance_reference.py), one state and one transition at a time."""

from __future__ import annotations

import itertools
import math

import torch

from molgfn.trajectories import Trajectories


def all_trajectories(task) -> Trajectories:
    env = task.env
    acts = torch.tensor(list(itertools.product(range(env.n_fwd), repeat=env.traj_len)))
    s = env.initial(acts.shape[0])
    states = [s]
    for t in range(env.traj_len):
        s = env.step(s, acts[:, t])
        states.append(s)
    states = torch.stack(states, 1)
    beta = torch.ones(acts.shape[0])
    logr = task.log_reward(task.score_tokens(states[:, -1]))
    return Trajectories(states, acts, env.backward_of(acts), beta, logr)


def _one_state(pol, env, state, beta: float):
    out = pol(env.encode(state[None]), torch.tensor([beta]))
    fwd = out.fwd_logits[0].masked_fill(~env.forward_mask(state[None])[0], -math.inf).log_softmax(-1)
    bwd = out.bwd_logits[0].masked_fill(~env.backward_mask(state[None])[0], -math.inf).log_softmax(-1)
    return fwd, bwd, (None if out.log_flow is None else out.log_flow[0])


def reference_losses(name: str, pol, task, trajs: Trajectories, energy_fn=None, lam: float = 0.9) -> torch.Tensor:
    """Per-trajectory loss from the paper's formula, one state and one transition at a time."""
    env = task.env
    losses = []
    for i in range(len(trajs)):
        beta = float(trajs.beta[i])
        states = trajs.states[i]
        T = states.shape[0] - 1
        log_z = pol.log_z(torch.tensor([beta]))[0]
        log_r = beta * float(trajs.log_reward[i])
        per_state = [_one_state(pol, env, states[t], beta) for t in range(T + 1)]
        lpf = [per_state[t][0][trajs.fwd_actions[i, t]] for t in range(T)]
        lpb = [per_state[t + 1][1][trajs.bwd_actions[i, t]] for t in range(T)]
        if name == "tb":
            losses.append((log_z + sum(lpf) - log_r - sum(lpb)) ** 2)
            continue
        if name == "fldb":
            E = [beta * energy_fn(states[t][None])[0] for t in range(T)] + [torch.tensor(-log_r)]
            flow = [log_z + E[0]] + [per_state[t][2] for t in range(1, T)] + [torch.tensor(0.0)]
            res = [flow[t] + lpf[t] - flow[t + 1] - lpb[t] + E[t + 1] - E[t] for t in range(T)]
            losses.append(sum(r**2 for r in res) / T)
            continue
        flow = [log_z] + [per_state[t][2] for t in range(1, T)] + [torch.tensor(log_r)]
        if name == "db":
            res = [flow[t] + lpf[t] - flow[t + 1] - lpb[t] for t in range(T)]
            losses.append(sum(r**2 for r in res) / T)
        elif name == "subtb":
            num, den = 0.0, 0.0
            for a in range(T):
                for b in range(a + 1, T + 1):
                    delta = flow[a] + sum(lpf[a:b]) - flow[b] - sum(lpb[a:b])
                    num = num + lam ** (b - a) * delta**2
                    den += lam ** (b - a)
            losses.append(num / den)
    return torch.stack([torch.as_tensor(x).reshape(()) for x in losses]).double()

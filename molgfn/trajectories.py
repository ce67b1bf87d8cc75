"""The shared trajectory container and its scoring by a policy.

Objectives never see environments or networks: they consume ``TrajectoryScores``
(per-transition log P_F, log P_B, a validity mask, log Z, tempered log-rewards and,
where the policy has a flow head, log F(s)), so one objective serves every environment.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch

from .conditioning import temperature


@dataclass
class Trajectories:
    states: torch.Tensor  # (B, T+1, *state) states s_0 .. s_T
    fwd_actions: torch.Tensor  # (B, T) forward action taken from s_t
    bwd_actions: torch.Tensor  # (B, T) backward action that undoes it (applied to s_t+1)
    beta: torch.Tensor  # (B,) inverse temperature the trajectory is trained at, or (B, 1 + k) [beta, w]
    log_reward: torch.Tensor | None = None  # (B,) untempered log R(s_T) (log R(s_T | w) with preferences), when known
    on_policy: torch.Tensor | None = None  # (B,) bool, sampled from P_F (score-function objectives); None: unknown

    @property
    def terminals(self) -> torch.Tensor:
        return self.states[:, -1]

    def __len__(self) -> int:
        return self.states.shape[0]

    @staticmethod
    def cat(items: list[Trajectories]) -> Trajectories:
        if len(items) == 1:  # a round without replay or local search: nothing to copy
            return items[0]
        kw = {}
        for f in fields(Trajectories):
            vals = [getattr(t, f.name) for t in items]
            kw[f.name] = None if any(v is None for v in vals) else torch.cat(vals)
        return Trajectories(**kw)

    def with_reward(self, log_reward: torch.Tensor) -> Trajectories:
        return replace(self, log_reward=log_reward)

    def mark(self, on_policy: bool) -> Trajectories:
        """Record whether these trajectories were sampled from P_F (on-policy)."""
        return replace(self, on_policy=torch.full((len(self),), on_policy, dtype=torch.bool,
                                                  device=self.states.device))

    def to(self, device: torch.device | str) -> Trajectories:
        kw = {f.name: (None if getattr(self, f.name) is None else getattr(self, f.name).to(device))
              for f in fields(self)}
        return Trajectories(**kw)


@dataclass
class TrajectoryScores:
    log_pf: torch.Tensor  # (B, T) log P_F(s_t+1 | s_t)
    log_pb: torch.Tensor  # (B, T) log P_B(s_t | s_t+1)
    mask: torch.Tensor  # (B, T) bool, real transitions
    log_z: torch.Tensor  # (B,) log Z(beta)
    log_reward: torch.Tensor  # (B,) beta * log R(x)
    log_flow: torch.Tensor | None = None  # (B, T+1) log F(s_t); the terminal entry is the reward
    energy: torch.Tensor | None = None  # (B, T+1) tempered energy E(s_t) for forward-looking objectives
    on_policy: torch.Tensor | None = None  # (B,) bool, from Trajectories.on_policy
    cond: torch.Tensor | None = None  # (B,) beta or (B, 1 + k) [beta, w]: rows with equal cond share a target


def masked_log_softmax(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    logits = logits.masked_fill(~mask, float("-inf"))
    out = _log_softmax_rows(logits) if logits.dim() == 2 else torch.log_softmax(logits, dim=-1)
    # rows with no valid action (terminal states) would be NaN; they are never indexed
    return torch.nan_to_num(out, nan=0.0, neginf=-1e9)


def _log_softmax_rows(x: torch.Tensor) -> torch.Tensor:
    """``x.log_softmax(-1)`` of a 2-D ``x``, taken over dim 0 of its transpose: the same values, but
    torch's CPU kernel is ~10x slower over a short last dim (30 us for 288 x 8 here) than over dim 0."""
    return x.t().log_softmax(0).t()


def is_whole_lockstep(env, states: torch.Tensor) -> bool:
    """Whole trajectories from s_0 of a lockstep env (``SequenceEnv``): every transition is real and
    every action of s_0..s_T-1 (forwards) and of s_1..s_T (backwards) is valid."""
    return getattr(env, "lockstep", False) and states.shape[1] == env.traj_len + 1


def valid_transitions(states: torch.Tensor) -> torch.Tensor:
    """(B, T) mask of real transitions: a real step always changes the state, so padding
    (a terminal repeated after a stop, or s_0 repeated before a shorter trajectory
    sampled backwards) shows up as s_t+1 == s_t."""
    diff = states[:, 1:] != states[:, :-1]
    return diff.flatten(2).any(-1) if diff.dim() > 2 else diff


def transition_logprobs(env, policy, states: torch.Tensor, fwd_actions: torch.Tensor,
                        bwd_actions: torch.Tensor, beta: torch.Tensor):
    """One policy pass over every state of (B, T+1, ...) ``states``: per-transition
    log P_F(s_t+1|s_t) and log P_B(s_t|s_t+1) (B, T), and the policy output (B*(T+1) rows).

    A policy with its own ``transition_logprobs`` (the fragment GNN: factorised actions, live
    states only) computes them itself; only ``log_flow`` of its output is filled in."""
    own = getattr(policy, "transition_logprobs", None)
    if own is not None:
        return own(states, fwd_actions, bwd_actions, beta)
    B, T1 = states.shape[:2]
    flat = states.reshape(B * T1, *states.shape[2:])
    out = policy(env.encode(flat), beta.repeat_interleave(T1, 0))
    if is_whole_lockstep(env, states):
        # whole trajectories from s_0 of a lockstep env: every action of s_0..s_T-1 is valid forwards
        # and of s_1..s_T backwards, so the masked softmax is the plain one on those states
        fwd = _log_softmax_rows(out.fwd_logits).reshape(B, T1, -1)[:, :-1]
        bwd = _log_softmax_rows(out.bwd_logits).reshape(B, T1, -1)[:, 1:]
        return fwd.gather(2, fwd_actions[..., None])[..., 0], bwd.gather(2, bwd_actions[..., None])[..., 0], out
    fwd = masked_log_softmax(out.fwd_logits, env.forward_mask(flat)).reshape(B, T1, -1)
    bwd = masked_log_softmax(out.bwd_logits, env.backward_mask(flat)).reshape(B, T1, -1)
    log_pf = fwd[:, :-1].gather(2, fwd_actions[..., None])[..., 0]
    log_pb = bwd[:, 1:].gather(2, bwd_actions[..., None])[..., 0]
    return log_pf, log_pb, out


def score(env, policy, traj: Trajectories, energy_fn=None) -> TrajectoryScores:
    """Run the policy once over every state of every trajectory, gather transition log-probs."""
    if traj.log_reward is None:
        raise ValueError("trajectories must carry log rewards before they are scored")
    B, T1 = traj.states.shape[:2]
    log_pf, log_pb, out = transition_logprobs(env, policy, traj.states, traj.fwd_actions, traj.bwd_actions,
                                              traj.beta)
    if is_whole_lockstep(env, traj.states):
        mask = torch.ones_like(log_pf, dtype=torch.bool)
    else:
        mask = valid_transitions(traj.states)
    log_reward = temperature(traj.beta) * traj.log_reward
    log_flow = None
    if out.log_flow is not None:
        log_flow = out.log_flow.reshape(B, T1).clone()
        log_flow[:, -1] = log_reward
    energy = None
    if energy_fn is not None:
        flat = traj.states.reshape(B * T1, *traj.states.shape[2:])
        energy = temperature(traj.beta)[:, None] * energy_fn(flat).reshape(B, T1)
        energy[:, -1] = -log_reward
    return TrajectoryScores(log_pf, log_pb, mask, policy.log_z(traj.beta), log_reward, log_flow, energy,
                            traj.on_policy, traj.beta)

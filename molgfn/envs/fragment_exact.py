"""Exact quantities of the fragment environment on tiny vocabularies (tests and checks only)."""

from __future__ import annotations

import torch

from .fragments import FragmentEnv


@torch.no_grad()
def exact_terminal_distribution(env: FragmentEnv, policy, beta: float = 1.0) -> tuple[dict, dict]:
    """P_F marginal over terminal states by dynamic programming over the state DAG.

    Returns ({tree_key: probability}, {tree_key: state row}) for every reachable terminal
    state. States are merged by their slot-order independent key, so probability arriving
    by different orders of the same additions is summed. Only for tiny vocabularies.
    """
    from ..trajectories import masked_log_softmax

    device = next(policy.parameters()).device
    level = {env.tree_key(env.initial(1)[0].tolist()): (env.initial(1, device)[0], 1.0)}
    terminal: dict = {}
    rows: dict = {}
    for _ in range(env.max_blocks + 1):
        if not level:
            break
        keys = list(level)
        s = torch.stack([level[k][0] for k in keys])
        p = torch.tensor([level[k][1] for k in keys], dtype=torch.float64, device=device)
        out = policy(env.encode(s), torch.full((s.shape[0],), float(beta), device=device))
        mask = env.forward_mask(s)
        probs = masked_log_softmax(out.fwd_logits.double(), mask).exp() * p[:, None]
        nxt: dict = {}
        r_idx, a_idx = mask.nonzero(as_tuple=True)
        children = env.step(s[r_idx], a_idx)
        for r, a, child in zip(r_idx.tolist(), a_idx.tolist(), children, strict=True):
            w = float(probs[r, a])
            row = child.tolist()
            key = env.tree_key(row)
            if a == 0:
                terminal[key] = terminal.get(key, 0.0) + w
                rows[key] = child
            else:
                prev = nxt.get(key)
                nxt[key] = (child, w + (prev[1] if prev else 0.0))
        level = nxt
    return terminal, rows

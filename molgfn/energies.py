"""State energies E(s) for forward-looking objectives (FL-DB, Pan et al. ICML 2023).

``energy_function(task)`` returns the callable the trainer passes to ``score``: the task's
own ``energy`` hook when it defines one (e.g. RNA binding of the partial sequence), else,
for tabular tasks (tfbind8, qm9str, the tests' tables), the max-completion energy below.
Energies are untempered here (``score`` multiplies by beta) and must satisfy
E(x) = -log R(x) at complete objects.

Max-completion energy of a tabular task: a partial state s of length n (left-aligned,
padded) can only end in objects that contain s as a contiguous block at some offset
o in 0..L-n (prepend/append construction; append-only: o = 0). So

    E(s) = -max { log R(x) : x contains s at an admissible offset }

an optimistic potential: E(x) = -log R(x) exactly, E(s_0) = -log R_max. It is computed once
per length n by reshaping the table to (A^o, A^n, A^(L-n-o)) and maximising over the outer
axes (sum over n and o of A^L operations: 0.6 M for tfbind8), then looked up by index.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def tabular_max_energy(task) -> Callable[[torch.Tensor], torch.Tensor]:
    env = task.env
    A, L = env.A, env.length
    logr = task.log_reward(task.table).to(torch.float64)
    per_len = []
    for n in range(L + 1):
        offsets = [0] if env.append_only else range(L - n + 1)
        best = torch.full((A**n,), -float("inf"), dtype=torch.float64)
        for o in offsets:
            t = logr.reshape(A**o, A**n, A ** (L - n - o))
            best = torch.maximum(best, t.amax(dim=(0, 2)))
        per_len.append(-best)
    flat = torch.cat(per_len)
    starts = torch.tensor([0] + [A**n for n in range(L)]).cumsum(0)

    def energy(tokens: torch.Tensor) -> torch.Tensor:
        n = env.lengths(tokens)
        w = A ** torch.arange(L - 1, -1, -1, device=tokens.device)
        # index of the first n tokens in base A: drop the (L - n) trailing pad positions
        full = (tokens.clamp(max=A - 1) * w).sum(-1)
        idx = torch.div(full, A ** (L - n), rounding_mode="floor")
        e = flat.to(tokens.device)[starts.to(tokens.device)[n] + idx]
        return e.float()

    return energy


def energy_function(task) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The task's energy hook if it defines one, else the tabular max-completion energy,
    else None."""
    probe = task.env.initial(1)
    if task.energy(probe) is not None:
        return task.energy
    if hasattr(task, "table"):
        return tabular_max_energy(task)
    return None

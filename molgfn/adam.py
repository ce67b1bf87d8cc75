"""Adam (Kingma & Ba, ICLR 2015) exactly as ``torch.optim.Adam(fused=True)`` computes it, without
``torch.optim``.

The update is torch's own fused kernel, ``torch._fused_adam_`` (one call per device and dtype), fed
the same state - ``step`` (a float32 scalar tensor on the parameter's device), ``exp_avg``,
``exp_avg_sq`` - in the same layout, so ``state_dict()`` is torch.optim.Adam's and checkpoints load
either way. What it leaves out is ``torch.optim`` itself: every torch.optim optimiser imports
``torch._dynamo`` when it is built and on every step (~0.9 s CPU, a tenth of a short
``molgfn train`` process; bench/THROUGHPUT.md), and wraps each step in profiler and compiler hooks.
Supported: Adam without amsgrad, weight decay or maximize (what the trainer uses).
"""

from __future__ import annotations

import torch

# the hyperparameters torch.optim.Adam stores per group (its state_dict's keys), at the trainer's values
_GROUP_DEFAULTS = {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "amsgrad": False, "maximize": False,
                   "foreach": None, "capturable": False, "differentiable": False, "fused": True,
                   "decoupled_weight_decay": False}


class FusedAdam:
    def __init__(self, param_groups: list[dict]) -> None:
        self.param_groups = [{"params": list(g["params"]), "lr": g["lr"], **_GROUP_DEFAULTS} for g in param_groups]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}
        # per group and set of parameters with gradients: the kernel's state lists, built once (a
        # small model's step is otherwise mostly rebuilding them); dropped when the state is replaced
        self._lists: dict[tuple, list[tuple[list[torch.Tensor], ...]]] = {}

    @torch.no_grad()
    def step(self) -> None:
        for gi, g in enumerate(self.param_groups):
            if g["amsgrad"] or g["weight_decay"] or g["maximize"]:
                raise ValueError("FusedAdam supports plain Adam only (no amsgrad, weight decay or maximize)")
            ps = [p for p in g["params"] if p.grad is not None]
            key = (gi, *map(id, ps))
            lists = self._lists.get(key)
            if lists is None:
                lists = self._lists[key] = self._kernel_lists(ps)
            beta1, beta2 = g["betas"]
            for params, exp_avgs, exp_avg_sqs, steps in lists:
                torch._foreach_add_(steps, 1)
                torch._fused_adam_(params, [p.grad for p in params], exp_avgs, exp_avg_sqs, [], steps,
                                   amsgrad=False, lr=g["lr"], beta1=beta1, beta2=beta2,
                                   weight_decay=g["weight_decay"], eps=g["eps"], maximize=False, grad_scale=None,
                                   found_inf=None)

    def _kernel_lists(self, ps: list[torch.Tensor]) -> list[tuple[list[torch.Tensor], ...]]:
        """(params, exp_avgs, exp_avg_sqs, steps) per device and dtype: one kernel call each."""
        by_kind: dict[tuple, list[torch.Tensor]] = {}
        for p in ps:
            by_kind.setdefault((p.device, p.dtype), []).append(p)
        out = []
        for params in by_kind.values():
            states = [self._state(p) for p in params]
            out.append((params, [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
                        [s["step"] for s in states]))
        return out

    def _state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        s = self.state.get(p)
        if s is None:  # lazily, as torch does
            s = self.state[p] = {"step": torch.zeros((), dtype=torch.float32, device=p.device),
                                 "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                                 "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}
        return s

    def zero_grad(self, set_to_none: bool = True) -> None:
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad.zero_()

    def state_dict(self) -> dict:
        """torch.optim.Adam's layout: parameters numbered in group order."""
        index: dict[int, int] = {}
        groups = []
        for g in self.param_groups:
            ids = list(range(len(index), len(index) + len(g["params"])))
            index.update({id(p): i for i, p in zip(ids, g["params"], strict=True)})
            groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": ids})
        return {"state": {index[id(p)]: dict(s) for p, s in self.state.items()}, "param_groups": groups}

    def load_state_dict(self, sd: dict) -> None:
        """Load a state dict of this class or of torch.optim.Adam; the saved hyperparameters win, as in torch."""
        saved = sd["param_groups"]
        if len(saved) != len(self.param_groups) or any(
                len(a["params"]) != len(b["params"]) for a, b in zip(saved, self.param_groups, strict=True)):
            raise ValueError("loaded optimizer state does not match the model's parameter groups")
        params: dict[int, torch.Tensor] = {}
        for g, s in zip(self.param_groups, saved, strict=True):
            params.update(zip(s["params"], g["params"], strict=True))
            g.update({k: v for k, v in s.items() if k != "params"})
        self.state, self._lists = {}, {}
        for i, s in sd["state"].items():
            p = params[int(i)]
            self.state[p] = {"step": torch.tensor(float(s["step"]), dtype=torch.float32, device=p.device),
                             "exp_avg": s["exp_avg"].to(device=p.device, dtype=p.dtype, copy=True),
                             "exp_avg_sq": s["exp_avg_sq"].to(device=p.device, dtype=p.dtype, copy=True)}


def make_adam(param_groups: list[dict]):
    """FusedAdam where this torch has the fused kernel, else torch.optim.Adam (same update, same
    state-dict layout; only the start-up cost differs)."""
    if hasattr(torch, "_fused_adam_"):
        return FusedAdam(param_groups)
    from torch.optim import Adam

    return Adam(param_groups, fused=True)

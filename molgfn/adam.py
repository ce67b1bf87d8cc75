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

import functools
import logging

import torch

log = logging.getLogger(__name__)

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


def _textbook_adam(p: torch.Tensor, grads: list[torch.Tensor], lr: float) -> torch.Tensor:
    """Kingma & Ba's Adam (bias-corrected), in float64: the reference the fused kernel is checked against."""
    beta1, beta2 = _GROUP_DEFAULTS["betas"]
    eps = _GROUP_DEFAULTS["eps"]
    p, m, v = p.double().clone(), torch.zeros_like(p, dtype=torch.float64), torch.zeros_like(p, dtype=torch.float64)
    for t, g in enumerate(grads, start=1):
        g = g.double()
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        p = p - lr * (m / (1 - beta1 ** t)) / ((v / (1 - beta2 ** t)).sqrt() + eps)
    return p


@functools.cache
def fused_kernel_problem() -> str | None:
    """Why the private fused kernel cannot be used here (None: it can).

    ``torch._fused_adam_`` is private, so any torch release may change its signature or meaning. At first
    use FusedAdam takes three steps on a probe tensor and compares them with the textbook update in float64
    (agreement to float32 rounding); a missing kernel, a changed signature or a changed update falls back to
    ``torch.optim.Adam`` with one logged note instead of training with a wrong optimiser."""
    if not hasattr(torch, "_fused_adam_"):
        return "torch has no _fused_adam_ kernel"
    gen = torch.Generator().manual_seed(0)
    start = torch.randn(64, generator=gen)
    grads = [torch.randn(64, generator=gen) * s for s in (1.0, 0.1, 3.0)]
    probe = torch.nn.Parameter(start.clone())
    try:
        opt = FusedAdam([{"params": [probe], "lr": 1e-2}])
        for g in grads:
            probe.grad = g.clone()
            opt.step()
    except Exception as e:  # a changed signature: TypeError, RuntimeError, ...
        return f"torch._fused_adam_ failed on a probe step ({type(e).__name__}: {e})"
    want = _textbook_adam(start, grads, 1e-2)
    err = (probe.detach().double() - want).abs().max().item()
    if not err <= 1e-6:  # lr 1e-2 moves each entry by ~3e-2: a changed update is far off
        return f"torch._fused_adam_ disagrees with the textbook Adam update (max error {err:.3g} on a probe)"
    return None


def make_adam(param_groups: list[dict]):
    """FusedAdam where this torch's fused kernel passes the probe (``fused_kernel_problem``), else
    torch.optim.Adam (same update, same state-dict layout; only the start-up cost differs)."""
    problem = fused_kernel_problem()
    if problem is None:
        return FusedAdam(param_groups)
    log.info("using torch.optim.Adam (about 0.9 s slower to start): %s", problem)
    from torch.optim import Adam

    return Adam(param_groups, fused=True)

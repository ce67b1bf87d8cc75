"""Policy networks: forward/backward logits, log Z and optional state flows.

Temperature conditioning (Kim et al., ICML 2024, "Learning to Scale Logits for
Temperature-Conditional GFlowNets"):
  * ``logit``: P_F(.|s; beta) = softmax(clip(g(beta) * f(s), -20, 20)); f is the unconditional
    trunk, g a small MLP of beta (1->32->32->32 encoder, 32->32->32->1 decoder, leaky ReLU
    inside each, none between them, not forced positive), log Z(beta) an MLP 1->32->32->1.
    The state flow log F(s; beta) of db / subtb / fldb must depend on beta too (a flow that
    ignores beta cannot satisfy balance at more than one beta): as in the authors' code it is
    an MLP of the state features with beta appended, here [trunk(s), beta] -> hidden -> 1.
  * ``layer``: a 32-d embedding of beta is concatenated to the trunk input (the baseline);
    every head, the flow included, sees it.
  * ``none``: unconditional, log Z a scalar.
P_B is not temperature-conditioned: it only has to be a valid backward kernel.

Preference conditioning (Jain et al., ICML 2023; ``molgfn.conditioning``): with ``n_prefs = k``
objectives the policy is given [beta, w] (B, 1 + k) instead of beta. The preference w must reach
the trunk (a logit scale alone cannot move probability between objectives), so a 32-d embedding
of w is concatenated to the trunk input (``layer``: of [beta, w]); log Z(beta, w) and the
logit-conditioned flow head read [beta, w]; the logit scale g stays a function of beta alone.
With ``n_prefs = 0`` every network, parameter name and shape is the single-objective one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .choices import CONDITIONINGS  # defined once, for the library and the CLI
from .conditioning import as_input, temperature


def logz_param_groups(policy: nn.Module, lr: float, lr_logz: float) -> list[dict]:
    """Optimizer groups: log Z learns at its own (larger) rate, as in the papers' code."""
    logz = list(policy.log_z.parameters())
    ids = {id(p) for p in logz}
    rest = [p for p in policy.parameters() if id(p) not in ids]
    return [{"params": rest, "lr": lr}, {"params": logz, "lr": lr_logz}]


def mlp(sizes: list[int], act: type[nn.Module] = nn.LeakyReLU) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


LOGIT_CLIP = 20.0  # the authors clip the scaled logits to [-20, 20]


class LogitScaler(nn.Module):
    """g(beta): the Logit-GFN scaling network, encoder then decoder with no activation between
    them (as in the authors' code; the Identity keeps the parameter names of checkpoints)."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(mlp([1, width, width, width]), nn.Identity(), mlp([width, width, width, 1]))

    def forward(self, beta: torch.Tensor) -> torch.Tensor:
        return self.net(beta[:, None])[:, 0]


class LogZ(nn.Module):
    """log Z, a scalar or an MLP of beta (of [beta, w] with ``inputs`` = 1 + k)."""

    def __init__(self, conditional: bool, init: float = 0.0, inputs: int = 1) -> None:
        super().__init__()
        self.conditional = conditional
        if conditional:
            self.net = mlp([inputs, 32, 32, 1])
            with torch.no_grad():
                self.net[-1].bias.fill_(init)
        else:
            self.value = nn.Parameter(torch.tensor(float(init)))

    def forward(self, beta: torch.Tensor) -> torch.Tensor:
        if self.conditional:
            return self.net(as_input(beta))[:, 0]
        return self.value.expand(beta.shape[0])


@dataclass
class PolicyOutput:
    fwd_logits: torch.Tensor  # (N, n_fwd), already temperature-scaled
    bwd_logits: torch.Tensor  # (N, n_bwd)
    log_flow: torch.Tensor | None  # (N,) when the policy has a flow head


class MLPPolicy(nn.Module):
    """MLP on a flat state encoding, as in the papers' sequence experiments."""

    def __init__(
        self,
        state_dim: int,
        n_fwd: int,
        n_bwd: int,
        hidden: int = 128,
        n_layers: int = 2,
        conditioning: str = "none",
        flow_head: bool = False,
        uniform_pb: bool = False,
        n_prefs: int = 0,
    ) -> None:
        super().__init__()
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}")
        self.conditioning = conditioning
        self.uniform_pb = uniform_pb
        self.n_fwd, self.n_bwd = n_fwd, n_bwd
        self.n_prefs = n_prefs
        embed = conditioning == "layer" or n_prefs > 0  # layer: [beta, w] embedded; otherwise w alone
        extra = 32 if embed else 0
        self.beta_embed = mlp([n_prefs + (conditioning == "layer"), 32, 32]) if embed else None
        self.trunk = nn.Sequential(mlp([state_dim + extra] + [hidden] * n_layers), nn.LeakyReLU())
        # logit conditioning: the flow gets its own beta-conditioned head (the trunk never sees beta)
        self.flow_net = mlp([hidden + 1 + n_prefs, hidden, 1]) if flow_head and conditioning == "logit" else None
        shared_flow = flow_head and self.flow_net is None
        self.head = nn.Linear(hidden, n_fwd + n_bwd + (1 if shared_flow else 0))
        self.scaler = LogitScaler() if conditioning == "logit" else None
        self.log_z = LogZ(conditional=conditioning != "none" or n_prefs > 0, inputs=1 + n_prefs)
        self.flow_head = flow_head

    def forward(self, x: torch.Tensor, beta: torch.Tensor) -> PolicyOutput:
        if self.beta_embed is not None:
            c = as_input(beta)
            x = torch.cat([x, self.beta_embed(c if self.conditioning == "layer" else c[:, 1:])], dim=-1)
        h = self.trunk(x)
        out = self.head(h)
        fwd = out[:, : self.n_fwd]
        if self.scaler is not None:
            fwd = (fwd * self.scaler(temperature(beta))[:, None]).clamp(-LOGIT_CLIP, LOGIT_CLIP)
        bwd = out[:, self.n_fwd : self.n_fwd + self.n_bwd]
        if self.uniform_pb:
            bwd = torch.zeros_like(bwd)
        if self.flow_net is not None:
            flow = self.conditional_flow(h, beta)
        else:
            flow = out[:, -1] if self.flow_head else None
        return PolicyOutput(fwd, bwd, flow)

    def rollout_logits(self, beta: torch.Tensor, backward: bool = False) -> Callable[[torch.Tensor], torch.Tensor]:
        """``lambda x: forward(x, beta).fwd_logits`` (``bwd_logits`` with ``backward``) for a rollout's many
        small no-grad calls at one beta.

        What depends on beta alone - the logit scale g(beta), the conditioning embedding - is computed
        once here instead of at every step, and the layers run as plain ``addmm`` / in-place leaky ReLU
        calls on weights transposed once (no module dispatch, no per-call attribute walk: most of a
        small step's cost). The views follow in-place optimiser updates, but a rollout is all they are
        kept for. A subclass, or a module the fast path does not know, takes ``forward``."""
        if type(self).forward is not MLPPolicy.forward or not self._modules.keys() <= {
                "beta_embed", "trunk", "flow_net", "head", "scaler", "log_z"}:
            return (lambda x: self(x, beta).bwd_logits) if backward else (lambda x: self(x, beta).fwd_logits)
        if backward and self.uniform_pb:
            return lambda x: x.new_zeros(x.shape[0], self.n_bwd)
        extra = None
        if self.beta_embed is not None:
            c = as_input(beta)
            extra = self.beta_embed(c if self.conditioning == "layer" else c[:, 1:])
        scale = self.scaler(temperature(beta))[:, None] if self.scaler is not None and not backward else None
        steps: list[tuple[str, object, object]] = []
        for m in (*self.trunk[0], self.trunk[1]):
            if type(m) is nn.Linear:
                steps.append(("linear", m.weight.t(), m.bias))
            elif type(m) is nn.LeakyReLU:
                steps.append(("leaky", m.negative_slope, None))
            else:
                steps.append(("module", m, None))
        if backward:  # the whole head, then a slice (the backward rows as a view would round differently)
            head_w, head_b, cols = self.head.weight.t(), self.head.bias, slice(self.n_fwd, self.n_fwd + self.n_bwd)
        else:  # the head's first rows only, as a view: the same products as the whole head, then a slice
            head_w, head_b, cols = self.head.weight[: self.n_fwd].t(), self.head.bias[: self.n_fwd], None

        def logits(x: torch.Tensor) -> torch.Tensor:
            h, fresh = (x, False) if extra is None else (torch.cat([x, extra], dim=-1), True)
            for kind, a, b in steps:  # fresh: h is this call's own tensor, safe to update in place
                if kind == "linear":
                    h, fresh = torch.addmm(b, h, a), True
                elif kind == "leaky" and fresh:
                    F.leaky_relu_(h, a)
                elif kind == "leaky":
                    h, fresh = F.leaky_relu(h, a), True
                else:
                    h, fresh = a(h), False
            out = torch.addmm(head_b, h, head_w)
            if cols is not None:
                return out[:, cols]
            return out if scale is None else out.mul_(scale).clamp_(-LOGIT_CLIP, LOGIT_CLIP)

        return logits

    def conditional_flow(self, h: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        """log F(s; beta) from the trunk features h and beta, or [beta, w] (logit conditioning)."""
        return self.flow_net(torch.cat([h, as_input(beta).to(h)], -1))[:, 0]

    def param_groups(self, lr: float, lr_logz: float) -> list[dict]:
        return logz_param_groups(self, lr, lr_logz)

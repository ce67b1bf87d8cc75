"""The factorised forward policy of the fragment environment (as in fragment GFlowNets).

Of the ``1 + V + M*S*V`` forward action slots only a few are valid in any state: stop,
the V roots of the empty state, and "attach block b" at each *free* stem. The policy's
logits are therefore produced and normalised per state over

    stop | add root b (V)  |  one row of V block logits per free stem (F rows in the batch)

with one log-sum-exp per free stem followed by a segment log-sum-exp over each state's
stems and its stop/root logits:

    log Z(s) = LSE( LSE_valid(stop, roots),  LSE_f in stems(s) LSE_b valid(attach_f,b) )
    log P_F(a|s) = logit(a) - log Z(s)

This is the same distribution as a masked softmax over all slots (``forward_mask``), at a
cost proportional to the valid actions. Sampling is Gumbel-max over the same union: the
best block per free stem, then the best of stop/roots/stems per state.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

NEG = -1e9  # logit of an invalid action: exp(NEG - max) == 0 in float32, and finite (no NaN rows)


def masked_log_softmax_finite(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return logits.masked_fill(~mask, NEG).log_softmax(-1)


def _gumbel(like: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
    u = torch.rand(like.shape, generator=gen, device=like.device).clamp_(1e-20, 1.0)
    return -torch.log(-torch.log(u))


@dataclass
class SparseForward:
    glp: torch.Tensor  # (N, 1+V) log P_F of stop and of "add root b"
    alp: torch.Tensor  # (F, V) log P_F of "attach b" at each listed free stem
    gmask: torch.Tensor  # (N, 1+V) which of stop/roots are valid
    amask: torch.Tensor  # (1, V) blocks that may be attached (de-duplicated vocabulary); (F, V) per listed stem
    #                      under a size limit (``FragmentEnv.fits``)
    gi: torch.Tensor  # (F,) state row of each free stem
    q: torch.Tensor  # (F,) its stem slot i*S + j
    pos: torch.Tensor  # (N, M*S) index of stem slot (i, j) of row n in the F list, -1 if not free
    V: int
    bwd: torch.Tensor | None = None  # (N, n_bwd) log P_B
    log_flow: torch.Tensor | None = None  # (N,)

    def fwd_logprob(self, a: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """log P_F(a|s) for dense forward action ids ``a``, one per state row (or per entry of
        ``rows``, indices of state rows); invalid actions get about NEG."""
        V = self.V
        rows = torch.arange(a.shape[0], device=a.device) if rows is None else rows
        lg = self.glp[rows, a.clamp(0, V)]
        att = (a - 1 - V).clamp(min=0)
        f = self.pos[rows, (att // V).clamp(max=self.pos.shape[1] - 1)]
        if self.alp.shape[0] == 0:
            la = torch.full_like(lg, NEG)
        else:
            la = torch.where(f >= 0, self.alp[f.clamp(min=0), att % V], NEG)
        return torch.where(a <= V, lg, la)

    def _argmax(self, g: torch.Tensor, ga: torch.Tensor) -> torch.Tensor:
        """Dense action id of the maximum over stop/roots (g, (N, 1+V)) and listed stems (ga, (F, V))."""
        V, N = self.V, g.shape[0]
        per = g.new_full((N, self.pos.shape[1]), float("-inf"))
        if ga.shape[0]:
            best, arg_b = ga.max(-1)
            per = per.index_put((self.gi, self.q), best)
        k = torch.cat([g, per], 1).argmax(1)
        qq = (k - 1 - V).clamp(min=0)
        if ga.shape[0] == 0:
            return k.clamp(max=V)
        b = arg_b[self.pos.gather(1, qq[:, None])[:, 0].clamp(min=0)]
        return torch.where(k > V, 1 + V + qq * V + b, k)

    def sample(self, epsilon: float, gen: torch.Generator | None, rows: torch.Tensor | None = None,
               n: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Actions by Gumbel-max; with ``epsilon`` > 0 each row flips an exploration coin (returned)
        and, when it comes up, takes a uniform valid action instead. With ``rows``, these states are
        rows ``rows`` of a batch of ``n`` whose other (done) rows were not computed: the random numbers
        are drawn for all ``n`` rows, so a seed gives the same actions either way, and the coins of all
        ``n`` rows come back."""
        def noise(like: torch.Tensor) -> torch.Tensor:
            if rows is None or like is self.alp:  # done rows have no free stems: alp is the same either way
                return _gumbel(like, gen)
            return _gumbel(like.new_empty(n, like.shape[1]), gen)[rows]

        a = self._argmax(self.glp + noise(self.glp), self.alp + noise(self.alp))
        if epsilon <= 0:
            return a, None
        inf = float("-inf")
        u = self._argmax(torch.where(self.gmask, noise(self.glp), inf),
                         torch.where(self.amask, noise(self.alp), inf))
        coin = torch.rand(a.shape[0] if rows is None else n, generator=gen, device=a.device) < epsilon
        return torch.where(coin if rows is None else coin[rows], u, a), coin


def factorised_logprobs(env, s: torch.Tensor, graph_logits: torch.Tensor, scale: torch.Tensor | None,
                        stem_logits) -> SparseForward:
    """Normalise stop/root logits ``graph_logits`` (N, 1+V) and ``stem_logits(gi, mi, si)`` -> (F, V),
    asked for the free stems only, into log P_F; ``scale`` (N,) multiplies every logit (Logit-GFN)."""
    N, M, S = s.shape[0], env.M, env.S
    blk = s[:, :M]
    n = (blk >= 0).sum(-1)
    live = s[:, 3 * M] == 0
    roots = env._const("root_ok", s.device)
    gmask = torch.cat([(live & (n >= 1))[:, None], (live & (n == 0))[:, None] & roots[None]], 1)
    amask = env._const("child_ok", s.device)[None]
    fits = env.fits(s)  # (N, V) under a size limit: only stems where some block still fits are listed
    grow = live & (n < M) if fits is None else live & (n < M) & (fits & amask).any(1)
    free = env.free_stems(s) & grow[:, None, None]
    gi, mi, si = free.nonzero(as_tuple=True)
    if fits is not None:
        amask = amask & fits[gi]
    att = stem_logits(gi, mi, si)
    glog = graph_logits
    if scale is not None:
        glog = glog * scale[:, None]
        att = att * scale[gi][:, None]
    glog = glog.masked_fill(~gmask, NEG)
    att = att.masked_fill(~amask, NEG)
    q = mi * S + si
    per = glog.new_full((N, M * S), NEG).index_put((gi, q), att.logsumexp(-1))
    log_z = torch.cat([glog, per], 1).logsumexp(1)
    pos = torch.full((N, M * S), -1, dtype=torch.long, device=s.device)
    pos[gi, q] = torch.arange(gi.shape[0], device=s.device)
    return SparseForward(glog - log_z[:, None], att - log_z[gi][:, None], gmask, amask, gi, q, pos, env.V)

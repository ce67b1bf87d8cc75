"""Graph-transformer policy for the fragment environment.

The graph of a state has one node per block plus one virtual node per state (it carries
the graph-level outputs and is the only node of the empty state). Edges join each block
to its parent, both directions, with the attachment as edge features (embedding of the
parent's stem (block, j) plus the child's joining stem (block, 0), plus a direction
embedding); the virtual node is joined to every block. Layers are graph-transformer
convolutions (multi-head attention with edge features, ``_Layer``) + residual + LayerNorm +
feed-forward.

Outputs (same contract as ``MLPPolicy``):
  * forward logits: stop and "add root block b" from the virtual node; "attach block b at
    stem j of slot i" from [h_i + stem(block_i, j), h_virtual] -> V logits; all multiplied
    by g(beta) under Logit-GFN conditioning (``LogitScaler``). Training and sampling ask for
    the attachment logits of *free* stems only and normalise them by a segment log-sum-exp
    (``envs/fragment_actions.py``); ``forward`` writes the dense (N, n_fwd) logits for exact
    enumeration;
  * backward logits: "remove leaf c" from h_c, written at the action index of the stem the
    leaf hangs on; un-stop and "remove the lone root" are forced moves (logit 0);
  * log F(s) from the virtual node when a flow head is asked for - under Logit-GFN
    conditioning from [h_virtual, embedding of beta], so that one network can hold the
    flows of every beta (the logits see beta only through g(beta)); ``log_z`` (``LogZ``).

Preference conditioning (``n_prefs = k``, ``molgfn.conditioning``): ``beta`` is [beta, w] (N, 1 + k);
an embedding of w (``layer``: of [beta, w]) is added to the virtual node, which every block
attends to; log Z and the flow read [beta, w]; g stays a function of beta alone.

The graph is built from the padded state tensors with tensor ops only (one ``nonzero``
per batch, no per-graph Python loop). Virtual nodes and blocks are kept as two tensors: the
virtual edges (one each way per block, to the virtual node of its state) are then a gather
from, or a sum into, the N virtual rows, and their constant edge features are added to those
rows once instead of to every edge; only the bond edges are edge lists. Slots map to block rows
by a cumulative sum over the filled slots. Everything is equivariant to the order of slots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .conditioning import as_input, temperature
from .envs.fragment_actions import SparseForward, factorised_logprobs, masked_log_softmax_finite
from .policies import CONDITIONINGS, LogitScaler, LogZ, PolicyOutput, logz_param_groups, mlp


@dataclass
class BlockGraph:
    """Block graphs of a batch of N states, as flat node and edge lists. The N virtual nodes and the
    blocks (state by state) are two tensors, so the virtual edges of block i - to and from the virtual
    node of its state ``gv[i]`` - need no edge list, and no op slices one node tensor into the two."""

    xv: torch.Tensor  # (N, H) input features of the virtual nodes
    xb: torch.Tensor  # (n_blocks, H) input features of the blocks
    gv: torch.Tensor  # (n_blocks,) state (= virtual node) of each block
    src: torch.Tensor  # (2 E_a,) bond edges' source blocks: child->parent, then parent->child
    dst: torch.Tensor  # (2 E_a,) their target blocks
    stems: tuple[torch.Tensor, torch.Tensor]  # (E_a,) stem ids (parent's stem, child's joining stem) per bond
    att_dst: torch.Tensor  # target node of every attention score (virtual nodes 0..N-1, block i N + i):
    #                        bond edges, then virtual->block, then block->virtual
    rank: torch.Tensor  # (N, M) block index of each slot (empty slots: never read)


class _Nodes:
    """Block states; ``nodes[g, c]`` gathers the rows of slots ``c`` of states ``g`` with one
    ``index_select`` (no padded (N, M, H) copy, and an index_add backward)."""

    def __init__(self, h: torch.Tensor, rank: torch.Tensor) -> None:
        self.h, self.rank = h, rank

    def __getitem__(self, gc: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return self.h.index_select(0, self.rank[gc[0], gc[1]])


def _segment_softmax(a: torch.Tensor, index: torch.Tensor, n: int) -> torch.Tensor:
    """Softmax of ``a`` (E, heads) over the entries that share ``index`` (E,)."""
    idx = index[:, None].expand_as(a)
    top = a.new_full((n, a.shape[1]), float("-inf")).scatter_reduce(0, idx, a.detach(), "amax")
    ex = (a - top.index_select(0, index)).exp()  # index_select: its backward is an index_add, not an index_put
    return ex / a.new_zeros(n, a.shape[1]).index_add_(0, index, ex).index_select(0, index)


def _unique_rows(key: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.unique(key, dim=0, return_inverse=True)`` of an integer matrix by a lexicographic sort
    (stable sorts of the columns, last first): the same rows in the same order, without the per-row
    comparisons that ``unique(dim=0)`` makes on the CPU."""
    order = torch.arange(key.shape[0], device=key.device)
    for c in range(key.shape[1] - 1, -1, -1):
        order = order[key[order, c].sort(stable=True).indices]
    srt = key[order]
    first = torch.ones(key.shape[0], dtype=torch.bool, device=key.device)
    first[1:] = (srt[1:] != srt[:-1]).any(1)
    inv = torch.empty_like(order)
    inv[order] = first.cumsum(0) - 1
    return srt[first], inv


class _Layer(nn.Module):
    """Graph-transformer layer: multi-head attention with edge features (the ``TransformerConv`` of
    Shi et al., IJCAI 2021: k_ij = W_k h_j + W_e e_ij, v_ij = W_v h_j + W_e e_ij, root weight) +
    residual + LayerNorm + feed-forward. Edge features are sums of embeddings, so W_e is applied to
    the embedding tables once per pass instead of to every edge."""

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkvs = nn.Linear(hidden, 4 * hidden)  # query, key, value, skip
        self.lin_edge = nn.Linear(hidden, hidden, bias=False)
        self.norm1 = nn.LayerNorm(hidden)
        self.ff = mlp([hidden, 2 * hidden, hidden])
        self.norm2 = nn.LayerNorm(hidden)

    def forward(self, xv: torch.Tensor, xb: torch.Tensor, g: BlockGraph, stem_table: torch.Tensor,
                kinds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(virtual nodes' states, blocks' states) after the layer."""
        N, hid = xv.shape
        H, C = self.heads, hid // self.heads
        qv, kv, vv, skip_v = self.qkvs(xv).chunk(4, -1)
        qb, kb, vb, skip_b = self.qkvs(xb).chunk(4, -1)
        kd = self.lin_edge(kinds)
        # bond edges (child->parent, parent->child): gathered per edge, with their stems' features (W_e is
        # linear: applied to the stem table, or to the bonds' sums when there are fewer bonds than stems);
        # index_select rather than x[idx]: its backward is a vectorised index_add, not an index_put
        s0, s1 = g.stems
        if s0.shape[0] < stem_table.shape[0]:
            bond = self.lin_edge(stem_table.index_select(0, s0) + stem_table.index_select(0, s1))
        else:
            st = self.lin_edge(stem_table)
            bond = st.index_select(0, s0) + st.index_select(0, s1)
        eb = torch.cat([bond + kd[0], bond + kd[1]])
        k_e = (kb.index_select(0, g.src) + eb).view(-1, H, C)
        v_e = (vb.index_select(0, g.src) + eb).view(-1, H, C)
        s_e = (qb.index_select(0, g.dst).view(-1, H, C) * k_e).sum(-1)
        # virtual->block (one per block, from virtual node gv[i]) and block->virtual (one per block): their
        # edge features are constants, added to the N virtual rows or to the block rows, not to every edge
        k_vb = (kv + kd[2]).index_select(0, g.gv).view(-1, H, C)
        v_vb = (vv + kd[2]).index_select(0, g.gv).view(-1, H, C)
        s_vb = (qb.view(-1, H, C) * k_vb).sum(-1)
        s_bv = (qv.index_select(0, g.gv).view(-1, H, C) * (kb + kd[3]).view(-1, H, C)).sum(-1)
        alpha = _segment_softmax(torch.cat([s_e, s_vb, s_bv]) / math.sqrt(C), g.att_dst, N + xb.shape[0])
        a_e, a_vb, a_bv = alpha[..., None].split([s_e.shape[0], s_vb.shape[0], s_bv.shape[0]])
        out_v = xv.new_zeros(N, H, C).index_add_(0, g.gv, (vb + kd[3]).view(-1, H, C) * a_bv)
        out_b = (v_vb * a_vb).index_add_(0, g.dst, v_e * a_e)
        xv = self.norm1(xv + out_v.view(N, hid) + skip_v)
        xb = self.norm1(xb + out_b.view(-1, hid) + skip_b)
        return self.norm2(xv + self.ff(xv)), self.norm2(xb + self.ff(xb))


class FragmentGNNPolicy(nn.Module):
    def __init__(self, env, hidden: int = 128, n_layers: int = 3, heads: int = 4, conditioning: str = "none",
                 flow_head: bool = False, uniform_pb: bool = False, n_prefs: int = 0) -> None:
        super().__init__()
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}")
        if hidden % heads:
            heads = 1
        self.M, self.S, self.V = env.M, env.S, env.V
        self.n_fwd, self.n_bwd = env.n_fwd, env.n_bwd
        self.conditioning, self.uniform_pb, self.flow_head = conditioning, uniform_pb, flow_head
        H = hidden
        self.block_emb = nn.Embedding(self.V + 2, H)  # V: empty slot, V + 1: virtual node
        self.stem_emb = nn.Embedding(self.V * self.S, H)
        self.edge_kind = nn.Embedding(4, H)  # child->parent, parent->child, virtual->block, block->virtual
        embed = conditioning == "layer" or n_prefs > 0  # layer: [beta, w] embedded; otherwise w alone
        self.beta_embed = mlp([n_prefs + (conditioning == "layer"), 32, H]) if embed else None
        self.layers = nn.ModuleList([_Layer(H, heads) for _ in range(max(1, n_layers))])
        self.graph_head = mlp([H, H, 1 + self.V + (1 if flow_head and conditioning != "logit" else 0)])
        self.stem_in = nn.Linear(H, H)  # first layer of the stem head, split over [h_i + stem, h_virtual]
        self.stem_ctx = nn.Linear(H, H, bias=False)
        self.stem_out = nn.Sequential(nn.LeakyReLU(), nn.Linear(H, self.V))
        self.register_buffer("n_stems", env._cache["n_stems"].clone(), persistent=False)
        self.leaf_head = mlp([2 * H, H, 1])
        self.scaler = LogitScaler() if conditioning == "logit" else None
        self.flow_beta = mlp([1 + n_prefs, 32, 32]) if flow_head and conditioning == "logit" else None
        self.flow_net = mlp([H + 32, H, 1]) if flow_head and conditioning == "logit" else None
        self.env = env  # the action factorisation needs its free stems and de-duplicated blocks
        self.log_z = LogZ(conditional=conditioning != "none" or n_prefs > 0, inputs=1 + n_prefs)

    def graph(self, s: torch.Tensor, beta: torch.Tensor) -> BlockGraph:
        """The block graphs of padded state rows ``s`` (N, 3M+1)."""
        N, M, S, V = s.shape[0], self.M, self.S, self.V
        blk, par, pst = s[:, :M], s[:, M : 2 * M], s[:, 2 * M : 3 * M]
        dev = s.device
        exists = blk >= 0
        gv, cv = exists.nonzero(as_tuple=True)  # the blocks, state by state
        xv = self.block_emb(torch.full((N,), V + 1, device=dev))  # a lookup: no view of the weight as an input
        if self.beta_embed is not None:
            c = as_input(beta).to(xv.dtype)
            xv = xv + self.beta_embed(c if self.conditioning == "layer" else c[:, 1:])
        rank = (exists.flatten().cumsum(0) - 1).view(N, M)  # block index of each slot
        g, c = (exists & (par >= 0)).nonzero(as_tuple=True)
        child = rank[g, c]
        parent = rank[g, par[g, c]]
        pb = blk[g, par[g, c]]
        dst = torch.cat([parent, child])
        att_dst = torch.cat([dst + N, torch.arange(N, N + gv.shape[0], device=dev), gv])
        return BlockGraph(xv, self.block_emb(blk[gv, cv]), gv, torch.cat([child, parent]), dst,
                          (pb * S + pst[g, c], blk[g, c] * S), att_dst, rank)

    def _trunk(self, s: torch.Tensor, beta: torch.Tensor, head: bool = True):
        """Node states: the virtual node's h (N, H), the slots' (``_Nodes``: ``hs[g, c]``), the graph head's
        outputs (None without ``head``: backward logits need none)."""
        data = self.graph(s, beta)
        hv, hb = data.xv, data.xb
        for layer in self.layers:
            hv, hb = layer(hv, hb, data, self.stem_emb.weight, self.edge_kind.weight)
        return hv, _Nodes(hb, data.rank), self.graph_head(hv) if head else None

    def _stem_logits(self, s, hv, hs, gi, mi, si) -> torch.Tensor:
        """(F, V) logits "attach block b at stem si of slot mi of state gi" for F listed stems (unscaled)."""
        blk = s[:, : self.M]
        z = self.stem_in(hs[gi, mi] + self.stem_emb(blk[gi, mi] * self.S + si)) + self.stem_ctx(hv).index_select(0, gi)
        return self.stem_out(z)

    def _flow(self, hv, gout, beta) -> torch.Tensor | None:
        if not self.flow_head:
            return None
        if self.flow_net is not None:  # Logit-GFN: F(s; beta) must see beta to balance at every beta
            return self.flow_net(torch.cat([hv, self.flow_beta(as_input(beta).to(hv.dtype))], -1))[:, 0]
        return gout[:, -1]

    def _bwd_logits(self, s, hv, hs) -> torch.Tensor:
        N, M, S = s.shape[0], self.M, self.S
        if self.uniform_pb:
            return hv.new_zeros(N, self.n_bwd)
        par, pst = s[:, M : 2 * M], s[:, 2 * M : 3 * M]
        # only leaves of live states can be removed: every other entry is masked by ``backward_mask``
        g, c = (self.env.leaves(s) & (s[:, 3 * M] == 0)[:, None]).nonzero(as_tuple=True)
        # the head's first layer on [h_c, h_virtual] as two products, the virtual part once per state
        first, rest = self.leaf_head[0], self.leaf_head[1:]
        w_c, w_v = first.weight.split(hv.shape[1], 1)
        z = nn.functional.linear(hs[g, c], w_c, first.bias) + nn.functional.linear(hv, w_v).index_select(0, g)
        return hv.new_zeros(N, self.n_bwd).index_put((g, 2 + par[g, c] * S + pst[g, c]), rest(z)[:, 0])

    def forward(self, s: torch.Tensor, beta: torch.Tensor) -> PolicyOutput:
        """Dense logits over all ``n_fwd`` slots (exact enumeration, tests); training and sampling use
        the factorised ``SparseForward`` instead, which never builds the (N, n_fwd) tensor."""
        N, M, S, V = s.shape[0], self.M, self.S, self.V
        hv, hs, gout = self._trunk(s, beta)
        blk = s[:, :M]
        # attachment logits only for the stems that exist (a few per block, not all M*S)
        exists = blk >= 0
        has = exists[..., None] & (torch.arange(S, device=s.device) < self.n_stems[blk.clamp(min=0)][..., None])
        gi, mi, si = has.nonzero(as_tuple=True)
        attach = hv.new_zeros(N, M, S, V)
        attach[gi, mi, si] = self._stem_logits(s, hv, hs, gi, mi, si)
        fwd = torch.cat([gout[:, : 1 + V], attach.reshape(N, M * S * V)], dim=1)
        if self.scaler is not None:
            fwd = fwd * self.scaler(temperature(beta).to(fwd.dtype))[:, None]
        return PolicyOutput(fwd, self._bwd_logits(s, hv, hs), self._flow(hv, gout, beta))

    # -- the factorised action space (cost grows with the valid actions, not n_fwd) ---------------
    def sparse_forward(self, s: torch.Tensor, beta: torch.Tensor, backward: bool = True) -> SparseForward:
        """log P_F over the valid actions only, log P_B (n_bwd is small) and log F, from one trunk pass."""
        hv, hs, gout = self._trunk(s, beta)
        scale = self.scaler(temperature(beta).to(hv.dtype)) if self.scaler is not None else None
        out = factorised_logprobs(self.env, s, gout[:, : 1 + self.V], scale,
                                  lambda gi, mi, si: self._stem_logits(s, hv, hs, gi, mi, si))
        if backward:
            out.bwd = masked_log_softmax_finite(self._bwd_logits(s, hv, hs), self.env.backward_mask(s))
        out.log_flow = self._flow(hv, gout, beta)
        return out

    @torch.no_grad()
    def sample_actions(self, s: torch.Tensor, beta: torch.Tensor, epsilon: float,
                       gen: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Forward actions from P_F (epsilon-uniform over the valid actions); see ``SparseForward.sample``.
        On the CPU done rows cost no policy pass: their action is 0 (an invalid move that leaves them done),
        and they still flip the exploration coin, as ``sample_forward`` asks of every row at every step. On
        a GPU every row is computed (listing the live ones would be a host synchronisation per step)."""
        if s.device.type != "cpu":
            return self.sparse_forward(s, beta, backward=False).sample(epsilon, gen)
        live = (s[:, 3 * self.M] == 0).nonzero()[:, 0]
        if live.shape[0] == s.shape[0]:
            return self.sparse_forward(s, beta, backward=False).sample(epsilon, gen)
        a = torch.zeros(s.shape[0], dtype=torch.long, device=s.device)
        # the random numbers are drawn for every row: the same seed gives the same trajectories as computing all
        if live.shape[0] == 0:  # all done: no policy pass, the draws of one (a Gumbel per stop/root, a coin)
            for _ in range(2 if epsilon > 0 else 1):
                torch.rand((s.shape[0], 1 + self.V), generator=gen, device=s.device)
            return a, torch.rand(s.shape[0], generator=gen, device=s.device) < epsilon if epsilon > 0 else None
        a_live, coin = self.sparse_forward(s[live], beta[live], backward=False).sample(epsilon, gen, live, s.shape[0])
        a[live] = a_live
        return a, coin

    @torch.no_grad()
    def backward_logits(self, s: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        """(N, n_bwd) backward logits alone (backward rollouts need no forward head). Only live states
        of two or more blocks have a choice: a done state's one move is un-stop and a lone root's is its
        removal, so on the CPU those rows get zeros (their mask leaves one action) and cost no policy pass
        (on a GPU every row is computed: listing the others would be a host synchronisation per step)."""
        if s.device.type != "cpu":
            hv, hs, _ = self._trunk(s, beta, head=False)
            return self._bwd_logits(s, hv, hs)
        out = s.new_zeros(s.shape[0], self.n_bwd, dtype=torch.get_default_dtype())
        rows = ((s[:, 3 * self.M] == 0) & ((s[:, : self.M] >= 0).sum(1) >= 2)).nonzero()[:, 0]
        if rows.shape[0] and not self.uniform_pb:
            hv, hs, _ = self._trunk(s[rows], beta[rows], head=False)
            out[rows] = self._bwd_logits(s[rows], hv, hs)
        return out

    def transition_logprobs(self, states: torch.Tensor, fwd_actions: torch.Tensor, bwd_actions: torch.Tensor,
                            beta: torch.Tensor):
        """Per-transition log P_F, log P_B (B, T) and log F of every state, from one pass over the
        *live* states only: a done state's one backward move (un-stop) has probability 1 and its
        flow is the reward (set by the objectives), so the padding after a stop costs nothing."""
        B, T1 = states.shape[:2]
        flat = states.reshape(B * T1, -1)
        rows = (flat[:, -1] == 0).nonzero()[:, 0]
        # each distinct (state, beta) once: every trajectory starts at s_0, many share early states
        c = as_input(beta)  # (B, 1) or (B, 1 + k) with preferences
        key = torch.cat([flat[rows], c.repeat_interleave(T1, 0)[rows].to(torch.float64).view(torch.long)], 1)
        uniq, inv = _unique_rows(key)
        cu = uniq[:, -c.shape[1]:].contiguous().view(torch.float64).to(beta.dtype)
        sp = self.sparse_forward(uniq[:, : -c.shape[1]], cu[:, 0] if beta.dim() == 1 else cu)
        zero = torch.zeros(B, 1, dtype=fwd_actions.dtype, device=fwd_actions.device)
        fa = torch.cat([fwd_actions, zero], 1).reshape(-1)[rows]
        ba = torch.cat([zero, bwd_actions], 1).reshape(-1)[rows]
        lpf = sp.fwd_logprob(fa, inv)
        lpb = sp.bwd[inv, ba]
        full = lpf.new_zeros(B * T1)
        log_pf = full.index_put((rows,), lpf).view(B, T1)[:, :-1]
        log_pb = full.index_put((rows,), lpb).view(B, T1)[:, 1:]
        flow = None if sp.log_flow is None else full.index_put((rows,), sp.log_flow[inv])
        return log_pf, log_pb, PolicyOutput(None, None, flow)

    def param_groups(self, lr: float, lr_logz: float) -> list[dict]:
        return logz_param_groups(self, lr, lr_logz)

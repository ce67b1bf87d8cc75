"""Graph-transformer policy for the fragment environment (torch-geometric).

The graph of a state has one node per block plus one virtual node per state (it carries
the graph-level outputs and is the only node of the empty state). Edges join each block
to its parent, both directions, with the attachment as edge features (embedding of the
parent's stem (block, j) plus the child's joining stem (block, 0), plus a direction
embedding); the virtual node is joined to every block. Layers are
``TransformerConv`` (multi-head attention with edge features) + residual + LayerNorm +
feed-forward.

Outputs (same contract as ``MLPPolicy``):
  * forward logits: stop and "add root block b" from the virtual node; "attach block b at
    stem j of slot i" from [h_i + stem(block_i, j), h_virtual] -> V logits (computed for
    existing stems only); all multiplied
    by g(beta) under Logit-GFN conditioning (``LogitScaler``);
  * backward logits: "remove leaf c" from h_c, written at the action index of the stem the
    leaf hangs on; un-stop and "remove the lone root" are forced moves (logit 0);
  * log F(s) from the virtual node when a flow head is asked for; ``log_z`` (``LogZ``).

The graph is built from the padded state tensors with tensor ops only (one ``nonzero``
per batch, no per-graph Python loop): positions ``g*(M+1)`` (state g's virtual node) and
``g*(M+1) + 1 + k`` (its slot k) are compacted to the filled ones with a cumulative sum,
and node outputs are scattered back to the padded layout. Everything is equivariant to
the order of slots.
"""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.data import Batch
from torch_geometric.nn import TransformerConv

from .policies import CONDITIONINGS, LogitScaler, LogZ, PolicyOutput, logz_param_groups, mlp


class _Layer(nn.Module):
    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.conv = TransformerConv(hidden, hidden // heads, heads=heads, edge_dim=hidden, root_weight=True)
        self.norm1 = nn.LayerNorm(hidden)
        self.ff = mlp([hidden, 2 * hidden, hidden])
        self.norm2 = nn.LayerNorm(hidden)

    def forward(self, x, edge_index, edge_attr):
        x = self.norm1(x + self.conv(x, edge_index, edge_attr))
        return self.norm2(x + self.ff(x))


class FragmentGNNPolicy(nn.Module):
    def __init__(self, env, hidden: int = 128, n_layers: int = 3, heads: int = 4, conditioning: str = "none",
                 flow_head: bool = False, uniform_pb: bool = False) -> None:
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
        self.beta_embed = mlp([1, 32, H]) if conditioning == "layer" else None
        self.layers = nn.ModuleList([_Layer(H, heads) for _ in range(max(1, n_layers))])
        self.graph_head = mlp([H, H, 1 + self.V + (1 if flow_head else 0)])
        self.stem_in = nn.Linear(H, H)  # first layer of the stem head, split over [h_i + stem, h_virtual]
        self.stem_ctx = nn.Linear(H, H, bias=False)
        self.stem_out = nn.Sequential(nn.LeakyReLU(), nn.Linear(H, self.V))
        self.register_buffer("n_stems", env._cache["n_stems"].clone(), persistent=False)
        self.leaf_head = mlp([2 * H, H, 1])
        self.scaler = LogitScaler() if conditioning == "logit" else None
        self.log_z = LogZ(conditional=conditioning != "none")

    def graph(self, s: torch.Tensor, beta: torch.Tensor) -> Batch:
        """PyG batch of the block graphs of padded state rows ``s`` (N, 3M+1)."""
        N, M, S, V = s.shape[0], self.M, self.S, self.V
        blk, par, pst = s[:, :M], s[:, M : 2 * M], s[:, 2 * M : 3 * M]
        dev = s.device
        exists = blk >= 0
        tok = torch.cat([torch.full((N, 1), V + 1, device=dev, dtype=torch.long),
                         torch.where(exists, blk, V)], dim=1)
        x = self.block_emb(tok)  # (N, M+1, H)
        if self.beta_embed is not None:
            x = x.clone()
            x[:, 0] = x[:, 0] + self.beta_embed(beta[:, None].to(x.dtype))
        # only the virtual node and filled slots become graph nodes (empty slots cost nothing)
        present = torch.cat([torch.ones(N, 1, dtype=torch.bool, device=dev), exists], dim=1).flatten()
        node = (torch.cumsum(present.long(), 0) - 1).view(N, M + 1)  # compact node index per (state, position)
        x = x.reshape(N * (M + 1), -1)[present]
        g, c = (exists & (par >= 0)).nonzero(as_tuple=True)
        child = node[g, 1 + c]
        parent = node[g, 1 + par[g, c]]
        pb = blk[g, par[g, c]]
        attach = self.stem_emb(pb * S + pst[g, c]) + self.stem_emb(blk[g, c] * S)
        gv, cv = exists.nonzero(as_tuple=True)
        blocks = node[gv, 1 + cv]
        virt = node[gv, 0]
        k = self.edge_kind.weight
        src = torch.cat([child, parent, virt, blocks])
        dst = torch.cat([parent, child, blocks, virt])
        ea = torch.cat([attach + k[0], attach + k[1], k[2].expand(virt.shape[0], -1), k[3].expand(virt.shape[0], -1)])
        batch = torch.arange(N, device=dev).repeat_interleave(M + 1)[present]
        data = Batch(x=x, edge_index=torch.stack([src, dst]), edge_attr=ea, batch=batch)
        data.present = present
        return data

    def forward(self, s: torch.Tensor, beta: torch.Tensor) -> PolicyOutput:
        N, M, S, V = s.shape[0], self.M, self.S, self.V
        data = self.graph(s, beta)
        h = data.x
        for layer in self.layers:
            h = layer(h, data.edge_index, data.edge_attr)
        h = h.new_zeros(N * (M + 1), h.shape[1]).index_put((data.present.nonzero()[:, 0],), h).view(N, M + 1, -1)
        hv, hs = h[:, 0], h[:, 1:]
        blk, par, pst = s[:, :M], s[:, M : 2 * M], s[:, 2 * M : 3 * M]
        gout = self.graph_head(hv)
        # attachment logits only for the stems that exist (a few per block, not all M*S)
        exists = blk >= 0
        has = exists[..., None] & (torch.arange(S, device=s.device) < self.n_stems[blk.clamp(min=0)][..., None])
        gi, mi, si = has.nonzero(as_tuple=True)
        z = self.stem_in(hs[gi, mi] + self.stem_emb(blk[gi, mi] * S + si)) + self.stem_ctx(hv)[gi]
        attach = hs.new_zeros(N, M, S, V)
        attach[gi, mi, si] = self.stem_out(z)
        fwd = torch.cat([gout[:, : 1 + V], attach.reshape(N, M * S * V)], dim=1)
        if self.scaler is not None:
            fwd = fwd * self.scaler(beta.to(fwd.dtype))[:, None]
        if self.uniform_pb:
            bwd = fwd.new_zeros(N, self.n_bwd)
        else:
            leaf = self.leaf_head(torch.cat([hs, hv[:, None].expand_as(hs)], -1))[..., 0]  # (N, M)
            nonroot = (blk >= 0) & (par >= 0)
            idx = torch.where(nonroot, 2 + par * S + pst, self.n_bwd)
            bwd = fwd.new_zeros(N, self.n_bwd + 1).scatter(1, idx, leaf.masked_fill(~nonroot, 0.0))
            bwd = bwd[:, : self.n_bwd]
        flow = gout[:, -1] if self.flow_head else None
        return PolicyOutput(fwd, bwd, flow)

    def param_groups(self, lr: float, lr_logz: float) -> list[dict]:
        return logz_param_groups(self, lr, lr_logz)

"""The fragment path's shortcuts give the same results as the plain computation they replace:
the lexsort de-duplication of scored states, backward logits that skip forced moves, a rollout that
skips done rows, and the sEH proxy's plain-torch batching (against torch-geometric's ``Batch``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from rdkit import Chem

from molgfn.gnn import FragmentGNNPolicy, _unique_rows
from molgfn.sampling import sample_forward
from molgfn.trajectories import masked_log_softmax

from .fragment_helpers import TinyFragTask, random_rollout, write_vocab

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("n", [0, 1, 7, 400])
def test_unique_rows_equals_torch_unique(n):
    g = torch.Generator().manual_seed(n)
    key = torch.randint(-1, 3, (n, 5), generator=g)  # few values: many repeated rows
    key[:, 2] = torch.randint(-(2**62), 2**62, (n,), generator=g) % 3  # large and negative ints too
    uniq, inv = _unique_rows(key)
    ref_u, ref_i = torch.unique(key, dim=0, return_inverse=True)
    assert torch.equal(uniq, ref_u) and torch.equal(inv, ref_i)
    assert torch.equal(uniq[inv], key)


def _all_states(env, n=64, seed=0):
    """States along random rollouts, done ones included (s_0, lone roots, partial and done trees),
    step by step (all s_0 first, then every row's first step, ...)."""
    return random_rollout(env, n, seed).transpose(0, 1).flatten(0, 1)


def test_backward_logits_skip_only_forced_moves(tmp_path):
    env = TinyFragTask(max_blocks=4, vocab=str(write_vocab(tmp_path))).env
    torch.manual_seed(0)
    pol = FragmentGNNPolicy(env, hidden=32, n_layers=2).eval()
    s = _all_states(env)
    s = s[env.backward_mask(s).any(1)]  # s_0 has no backward move
    kinds = (s[:, -1] == 1, (s[:, -1] == 0) & (env.num_blocks(s) == 1), env.num_blocks(s) >= 2)
    assert all(bool(k.any()) for k in kinds)  # done, lone-root and branching states all present
    beta = torch.ones(s.shape[0])
    mask = env.backward_mask(s)
    with torch.no_grad():
        fast = masked_log_softmax(pol.backward_logits(s, beta), mask)
        dense = masked_log_softmax(pol(s, beta).bwd_logits, mask)
    r, b = mask.nonzero(as_tuple=True)
    assert torch.allclose(fast[r, b], dense[r, b], atol=1e-5)


def test_rollout_leaves_done_rows_alone_and_flips_their_coin(tmp_path):
    env = TinyFragTask(max_blocks=3, vocab=str(write_vocab(tmp_path))).env
    torch.manual_seed(0)
    pol = FragmentGNNPolicy(env, hidden=16, n_layers=1).eval()
    s = _all_states(env, 32)
    done = s[:, -1] == 1
    assert bool(done.any()) and bool((~done).any())
    a, coin = pol.sample_actions(s, torch.ones(s.shape[0]), 1.0, torch.Generator().manual_seed(0))
    assert coin is not None and bool(coin.all())  # every row flips (epsilon = 1: every coin comes up)
    assert torch.equal(env.step(s[done], a[done]), s[done])
    assert bool(env.forward_valid(s[~done], a[~done]).all())
    t = sample_forward(env, pol, torch.ones(500), epsilon=0.0, gen=torch.Generator().manual_seed(1))
    assert bool(t.on_policy.all()) and bool((t.states[:, -1, -1] == 1).all())


@pytest.mark.parametrize("epsilon", [0.0, 0.3])
def test_a_seed_gives_the_same_trajectories_as_computing_every_row(tmp_path, monkeypatch, epsilon):
    env = TinyFragTask(max_blocks=3, vocab=str(write_vocab(tmp_path))).env
    torch.manual_seed(0)
    pol = FragmentGNNPolicy(env, hidden=16, n_layers=1).eval()

    def every_row(self, s, beta, epsilon, gen):  # the plain rollout step: every row through the policy
        with torch.no_grad():
            return self.sparse_forward(s, beta, backward=False).sample(epsilon, gen)

    runs = []
    for step in (None, every_row):
        if step is not None:
            monkeypatch.setattr(FragmentGNNPolicy, "sample_actions", step)
        t = sample_forward(env, pol, torch.ones(300), epsilon=epsilon, gen=torch.Generator().manual_seed(5))
        runs.append(t)
    assert bool((runs[0].states[:, 2, -1] == 1).any())  # some rows are done early, so rows were skipped
    assert torch.equal(runs[0].states, runs[1].states) and torch.equal(runs[0].on_policy, runs[1].on_policy)


def _pyg_layer(layer, env, pol, s):
    """``layer`` computed by torch-geometric's ``TransformerConv`` on edge lists written out state by
    state in Python: virtual node, blocks, bond edges both ways with their stems' features, virtual edges."""
    from torch_geometric.nn import TransformerConv

    M, S, V = env.M, env.S, env.V
    H = pol.block_emb.weight.shape[1]
    emb, stem, kind = pol.block_emb.weight, pol.stem_emb.weight, pol.edge_kind.weight
    x, src, dst, attr, where = [], [], [], [], {}
    for g, row in enumerate(s.tolist()):
        where[g, -1] = len(x)
        x.append(emb[V + 1])
        for c in range(M):
            if row[c] >= 0:
                where[g, c] = len(x)
                x.append(emb[row[c]])
        for c in range(M):
            if row[c] < 0:
                continue
            p = row[M + c]
            if p >= 0:
                bond = stem[row[p] * S + row[2 * M + c]] + stem[row[c] * S]
                src += [where[g, c], where[g, p]]
                dst += [where[g, p], where[g, c]]
                attr += [bond + kind[0], bond + kind[1]]
            src += [where[g, -1], where[g, c]]
            dst += [where[g, c], where[g, -1]]
            attr += [kind[2], kind[3]]
    conv = TransformerConv(H, H // layer.heads, heads=layer.heads, edge_dim=H, root_weight=True)
    wq, wk, wv, ws = layer.qkvs.weight.chunk(4)
    bq, bk, bv, bs = layer.qkvs.bias.chunk(4)
    with torch.no_grad():
        for lin, w, b in ((conv.lin_query, wq, bq), (conv.lin_key, wk, bk), (conv.lin_value, wv, bv),
                          (conv.lin_skip, ws, bs)):
            lin.weight.copy_(w)
            lin.bias.copy_(b)
        conv.lin_edge.weight.copy_(layer.lin_edge.weight)
        x = torch.stack(x)
        h = layer.norm1(x + conv(x, torch.tensor([src, dst]), torch.stack(attr)))
        return layer.norm2(h + layer.ff(h)), where


def test_gnn_layer_equals_torch_geometric_transformer_conv(tmp_path):
    pytest.importorskip("torch_geometric")
    env = TinyFragTask(max_blocks=4, vocab=str(write_vocab(tmp_path))).env
    torch.manual_seed(0)
    pol = FragmentGNNPolicy(env, hidden=32, n_layers=2).eval()
    s = _all_states(env, 40)
    assert bool((env.num_blocks(s) == 0).any()) and bool((env.num_blocks(s) >= 3).any())
    layer = pol.layers[0]
    with torch.no_grad():
        g = pol.graph(s, torch.ones(s.shape[0]))
        hv, hb = layer(g.xv, g.xb, g, pol.stem_emb.weight, pol.edge_kind.weight)
    ref, where = _pyg_layer(layer, env, pol, s)
    gi, ci = (s[:, : env.M] >= 0).nonzero(as_tuple=True)
    assert torch.allclose(hv, ref[[where[g, -1] for g in range(s.shape[0])]], atol=1e-5)
    assert torch.allclose(hb[g.rank[gi, ci]], ref[[where[k] for k in zip(gi.tolist(), ci.tolist(), strict=True)]],
                          atol=1e-5)


def _random_proxy(seed=0):
    from molgfn.chem.seh_proxy import EXPECTED_SHAPES, SEHProxy

    rng = np.random.default_rng(seed)
    return SEHProxy.from_arrays([rng.normal(0, 0.1, s).astype(np.float32) for s in EXPECTED_SHAPES])


def test_proxy_plain_batches_equal_torch_geometric_batches():
    from torch_geometric.data import Batch

    from molgfn.chem.seh_proxy import collate, featurize, mol_graph

    model = _random_proxy()
    mols = [Chem.MolFromSmiles(s) for s in ("O", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CC#N", "[Na+].[Cl-]")]
    with torch.inference_mode():
        ours = model(collate([mol_graph(m) for m in mols]))
        pyg = model(Batch.from_data_list([featurize(m) for m in mols]))
        pyg_conv = model(Batch.from_data_list([featurize(m) for m in mols]), fast=False)
        alone = torch.cat([model(collate([mol_graph(m)])) for m in mols])
    assert torch.allclose(ours, pyg, atol=1e-5) and torch.allclose(ours, pyg_conv, atol=1e-4)
    assert torch.allclose(ours, alone, atol=1e-5)  # a molecule's score does not depend on its batch


@pytest.mark.slow  # real molgfn processes, end to end
def test_training_fragments_and_scoring_imports_neither_torch_geometric_nor_pandas(tmp_path):
    # each costs ~70-160 MB of resident memory; neither is needed to train or to call the sEH proxy
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from rdkit import Chem
        sys.path.insert(0, {str(ROOT)!r})
        from molgfn.config import TrainConfig
        from molgfn.trainer import Trainer
        from molgfn.chem.seh_proxy import EXPECTED_SHAPES, SEHOracle, SEHProxy
        from tests.fragment_helpers import TinyFragTask, write_vocab
        task = TinyFragTask(max_blocks=3, vocab=str(write_vocab({str(tmp_path)!r})))
        cfg = TrainConfig(task="tiny-frag", rounds=2, batch_size=8, replay_size=4, hidden=16, n_layers=1,
                          device="cpu", checkpoint_every=10**9)
        Trainer(cfg, task).train()
        rng = np.random.default_rng(0)
        model = SEHProxy.from_arrays([rng.normal(0, 0.1, s).astype(np.float32) for s in EXPECTED_SHAPES])
        assert np.isfinite(SEHOracle(model=model).raw(["CCO", "c1ccccc1"])).all()
        print(sorted(m for m in ("torch_geometric", "pandas") if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"

"""Fragment-graph molecules: environment, GNN policy, tasks, local search, CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from rdkit import Chem

from molgfn.config import TrainConfig
from molgfn.envs.fragment_exact import exact_terminal_distribution
from molgfn.envs.fragments import FragmentEnv, load_vocab
from molgfn.gnn import FragmentGNNPolicy
from molgfn.local_search import local_search_step
from molgfn.sampling import sample_backward, sample_forward
from molgfn.trainer import Trainer
from molgfn.trajectories import masked_log_softmax, valid_transitions

from . import synthetic
from .conftest import frag_vocab_path, real_or_synthetic
from .fragment_helpers import TinyFragTask, random_rollout, write_vocab


@pytest.fixture(scope="module")
def seh_vocab(request):
    """(path, kind) of the seh-frag vocabulary: the 105-block reference one ('real') when present,
    else the synthetic three-block one ('synthetic'), so the behaviour below runs on every machine."""
    return frag_vocab_path(request)


@pytest.fixture(scope="module")
def seh_env(seh_vocab):
    return FragmentEnv(load_vocab(seh_vocab[0]), 8)


def test_vocabulary_and_sizes(seh_vocab, seh_env):
    env = seh_env
    assert env.traj_len == 9 and env.state_shape == (25,)  # block, parent, parent stem per slot, done
    if seh_vocab[1] == "synthetic":  # tests/synthetic.py: three distinct molecules, benzene has 3 stems
        assert env.V == len(synthetic.FRAG_VOCAB["block_smi"]) == 3 and env.S == 3
        assert int(env._cache["root_ok"].sum()) == 3  # no duplicate to drop
        return
    assert env.V == 105 and env.S == 6
    # duplicate SMILES: roots with the same stem multiset are added once (81 distinct roots)
    assert int(env._cache["root_ok"].sum()) == 81


def test_every_emitted_smiles_parses(seh_vocab, seh_env):
    env = seh_env
    traj = random_rollout(env, 256, 0)
    term = traj[:, -1]
    assert bool((term[:, -1] == 1).all())  # every rollout stopped within traj_len steps
    smiles = env.to_strings(term)
    mols = [Chem.MolFromSmiles(s) if s else None for s in smiles]
    assert all(m is not None for m in mols)
    # joining blocks by single bonds only replaces hydrogens: the heavy atoms are the blocks'
    heavy = [Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in env.vocab.smiles]
    blocks = term[:, : env.M]
    assert [m.GetNumHeavyAtoms() for m in mols] == [sum(heavy[b] for b in r if b >= 0) for r in blocks.tolist()]
    if seh_vocab[1] == "real":
        assert len(set(smiles)) > 200
    else:
        # 3 blocks give far fewer small molecules than 105; here the block counts fix the formula
        # (O only in methanol, N only in piperidine), so different counts must be different SMILES
        counts = {tuple(torch.bincount(r[r >= 0], minlength=env.V).tolist()) for r in blocks}
        assert len(set(smiles)) >= len(counts) > 50, (len(set(smiles)), len(counts))


def test_forward_and_backward_actions_undo_each_other(seh_env):
    env = seh_env
    traj = random_rollout(env, 128, 1)
    g = torch.Generator().manual_seed(2)
    for t in range(env.traj_len):
        s, s2 = traj[:, t], traj[:, t + 1]
        real = (s2 != s).any(1)
        m = env.forward_mask(s)
        a = torch.where(m, torch.rand(m.shape, generator=g), -1.0).argmax(1)
        s2 = env.step(s, a)
        real = m.any(1)
        b = env.backward_of(a)
        assert bool(env.backward_mask(s2).gather(1, b[:, None])[real].all())
        assert torch.equal(env.backward_step(s2, b)[real], s[real])  # removes exactly what was added
        assert torch.equal(env.forward_of(s2, b)[real], a[real])
    # and from terminals backwards: every backward action undoes a valid forward action
    cur = traj[:, -1]
    for _ in range(env.traj_len):
        bm = env.backward_mask(cur)
        b = torch.where(bm, torch.rand(bm.shape, generator=g), -1.0).argmax(1)
        prev = env.backward_step(cur, b)
        real = bm.any(1)
        a = env.forward_of(cur, b)
        assert bool(env.forward_mask(prev).gather(1, a[:, None])[real].all())
        assert torch.equal(env.backward_of(a)[real], b[real])
        redo = env.step(prev, a)
        for r in real.nonzero()[:, 0].tolist():
            assert env.tree_key(redo[r].tolist()) == env.tree_key(cur[r].tolist())
        cur = prev
    assert bool((env.num_blocks(cur) == 0).all())
    # the number of backward edges into each parent equals its forward edges (one-to-one)
    s = traj[:, 4]
    fm = env.forward_mask(s)
    for r in range(8):
        acts = fm[r].nonzero()[:, 0]
        kids = env.step(s[r : r + 1].expand(len(acts), -1), acts)
        keys = [env.tree_key(k.tolist()) for k in kids]
        assert len(set(keys)) == len(keys)  # distinct forward actions give distinct children


def _permute_slots(env, s, perm):
    """Same states with filled slot k moved to perm[k]."""
    M = env.M
    blk, par, pst = s[:, :M], s[:, M : 2 * M], s[:, 2 * M : 3 * M]
    out = s.clone()
    out[:, perm] = blk
    out[:, M + perm] = torch.where(par >= 0, perm[par.clamp(min=0)], par)
    out[:, 2 * M + perm] = pst
    return out


def test_gnn_policy_is_invariant_to_slot_order(seh_env):
    env = seh_env
    torch.manual_seed(0)
    traj = random_rollout(env, 256, 3)  # enough rollouts that the 3-block vocabulary has 5-block ones too
    n = env.num_blocks(traj[:, -2])
    s = traj[:, -2][n == 5][:8].clone()  # partial molecules with 5 blocks, not done
    s[:, -1] = 0
    assert s.shape[0] > 0
    perm = torch.tensor([3, 0, 4, 1, 2, 5, 6, 7])  # root no longer in slot 0
    s2 = _permute_slots(env, s, perm)
    assert env.to_strings(s) == env.to_strings(s2)
    pol = FragmentGNNPolicy(env, hidden=32, n_layers=2, conditioning="logit").eval()
    beta = torch.full((s.shape[0],), 2.0)
    o1, o2 = pol(s, beta), pol(s2, beta)
    M, S, V = env.M, env.S, env.V
    lp1 = masked_log_softmax(o1.fwd_logits, env.forward_mask(s))
    lp2 = masked_log_softmax(o2.fwd_logits, env.forward_mask(s2))
    a1, a2 = lp1[:, 1 + V :].view(-1, M, S, V), lp2[:, 1 + V :].view(-1, M, S, V)
    assert torch.allclose(a2[:, perm], a1, atol=1e-4)
    assert torch.allclose(lp2[:, : 1 + V], lp1[:, : 1 + V], atol=1e-4)
    b1 = masked_log_softmax(o1.bwd_logits, env.backward_mask(s))[:, 2:].view(-1, M, S)
    b2 = masked_log_softmax(o2.bwd_logits, env.backward_mask(s2))[:, 2:].view(-1, M, S)
    assert torch.allclose(b2[:, perm], b1, atol=1e-4)
    assert (env.backward_mask(s)[:, 2:].sum(1) >= 1).all()


def test_seh_proxy_gives_finite_scores(request):
    real_or_synthetic(request, "seh-frag-proxy", "seh-frag-blocks")  # the synthetic proxy: random weights
    from molgfn.tasks import get_task

    task = get_task("seh-frag")
    term = random_rollout(task.env, 16, 4)[:, -1]
    raw, logr = task.evaluate(term)
    assert torch.isfinite(raw).all() and torch.isfinite(logr).all()
    assert float(raw.min()) > -20 and float(raw.max()) < 20
    assert float(logr.max()) <= 10 * math.log(20 / 8)
    # Bengio et al. (2021): R = (max(r, 0.1) / 8)^10
    assert torch.allclose(logr.double(), 10 * torch.log(raw.double().clamp(min=0.1) / 8), atol=1e-5)
    cols = task.extra_columns(task.env.to_strings(term))
    assert list(cols) == ["num_blocks"] and all(1 <= b <= 8 for b in cols["num_blocks"])  # QED: descriptors


def _tiny(tmp_path, max_blocks=3):
    return TinyFragTask(max_blocks=max_blocks, vocab=str(write_vocab(tmp_path)))


@pytest.mark.slow  # statistical: trained until it matches the exact target
def test_tb_matches_reward_on_enumerable_fragment_space(tmp_path):
    task = _tiny(tmp_path)
    cfg = TrainConfig(task="tiny-frag", rounds=600, batch_size=32, replay_size=0, grad_steps=1, lr=3e-3,
                      lr_logz=3e-2, epsilon=0.0, hidden=32, n_layers=2, seed=0, device="cpu")
    tr = Trainer(cfg, task)
    tr.train()
    p, rows = exact_terminal_distribution(task.env, tr.policy)
    keys = list(p)
    assert len(keys) == 66 and abs(sum(p.values()) - 1) < 1e-9
    _, logr = task.evaluate(torch.stack([rows[k] for k in keys]))
    target = torch.softmax(logr, 0)
    q = torch.tensor([p[k] for k in keys], dtype=torch.float64)
    l1 = float((q - target).abs().sum())
    assert l1 < 0.05, l1
    assert abs(float(tr.policy.log_z(torch.ones(1))[0].detach()) - float(torch.logsumexp(logr, 0))) < 0.1


@pytest.mark.slow  # statistical: long Metropolis-Hastings chains against the exact target
def test_mh_local_search_leaves_target_invariant_on_fragments(tmp_path):
    # x ~ R/Z over terminal states; one MH step with an untrained policy must keep x ~ R/Z
    task = _tiny(tmp_path)
    env = task.env
    torch.manual_seed(0)
    policy = FragmentGNNPolicy(env, hidden=16, n_layers=1).eval()
    p, rows = exact_terminal_distribution(env, policy)
    keys = list(p)
    states = torch.stack([rows[k] for k in keys])
    _, logr = task.evaluate(states)
    pi = torch.softmax(logr, 0)
    gen = torch.Generator().manual_seed(0)
    n = 40_000
    idx = torch.multinomial(pi.float(), n, replacement=True, generator=gen)
    beta = torch.ones(n)
    cur = sample_backward(env, policy, states[idx], beta, gen=gen).with_reward(logr[idx])
    prop, new, acc = local_search_step(env, policy, lambda x: task.evaluate(x)[1], cur, 2, "mh", gen)
    assert bool((prop.terminals[:, -1] == 1).all())  # every rebuild ran to a stop
    assert bool((valid_transitions(prop.states).sum(1) == env.num_blocks(prop.terminals) + 1).all())
    where = {k: i for i, k in enumerate(keys)}
    j = torch.tensor([where[env.tree_key(r)] for r in new.terminals.tolist()])
    moved = float((j != idx).float().mean())
    assert 0.05 < moved < 0.95, moved
    emp = torch.bincount(j, minlength=len(keys)).double() / n
    l1 = float((emp - pi).abs().sum())
    assert l1 < 0.06, l1  # Monte Carlo noise ~0.03 at n = 4e4 over 66 cells


def test_trainer_with_local_search_on_fragments(tmp_path):
    task = _tiny(tmp_path, max_blocks=4)
    cfg = TrainConfig(task="tiny-frag", rounds=3, batch_size=16, replay_size=8, local_search=True, ls_iterations=3,
                      ls_filter="barker", hidden=16, n_layers=1, conditioning="logit", beta_dist="uniform:1,3",
                      device="cpu")
    tr = Trainer(cfg, task)
    tr.train()
    assert tr.reward_calls == 3 * 16
    assert all(np.isfinite(r["loss"]) for r in tr.metrics)
    x = tr.sample(32)
    assert bool((x[:, -1] == 1).all())
    t = sample_forward(task.env, tr.policy, torch.ones(4))
    assert t.states.shape == (4, task.env.traj_len + 1, *task.env.state_shape)


def test_design_on_qed_frag_writes_parsable_smiles_and_report(tmp_path, request):
    real_or_synthetic(request, "seh-frag-blocks")
    import pandas as pd
    from typer.testing import CliRunner

    from cli import app

    out = tmp_path / "run"
    args = ["design", "--task", "qed-frag", "--rounds", "2", "--batch-size", "8", "--replay-size", "4",
            "--grad-steps", "1", "--num-samples", "16", "--num-candidates", "20", "--hidden", "16", "--layers", "1",
            "--device", "cpu", "--out", str(out), "--quiet"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out / "candidates.csv")
    assert 0 < len(df) <= 20
    assert {"smiles", "raw_score", "reward", "qed", "mol_weight", "num_blocks", "times_sampled"} <= set(df.columns)
    assert all(Chem.MolFromSmiles(s) is not None for s in df["smiles"])
    assert np.allclose(df["raw_score"], df["qed"])  # qed-frag's raw score is QED
    assert (df["reward"].diff().dropna() <= 0).all()
    assert (out / "top_molecules.png").read_bytes()[:4] == b"\x89PNG"
    res = CliRunner().invoke(app, ["report", str(out), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "rep" / "training_curves.png").stat().st_size > 1000
    assert (tmp_path / "rep" / "top_molecules.png").stat().st_size > 1000


def test_custom_frag_oracle_and_errors(tmp_path):
    from molgfn.tasks import get_task

    task = get_task("custom-frag", oracle="tests.fragment_helpers:smiles_length", vocab=str(write_vocab(tmp_path)),
                    max_blocks=2)
    term = random_rollout(task.env, 8, 5)[:, -1]
    raw, _ = task.evaluate(term)
    assert torch.equal(raw, torch.tensor([float(len(s)) for s in task.env.to_strings(term)], dtype=torch.float64))
    task.close()


def _states_along_rollouts(env, n, seed):
    traj = random_rollout(env, n, seed)
    s = traj.reshape(-1, traj.shape[-1])
    return s[s[:, -1] == 0]  # live states (done states have no forward action)


@pytest.mark.parametrize("conditioning", ["none", "logit"])
def test_factorised_log_probs_equal_the_dense_masked_softmax(tmp_path, conditioning):
    # the training/sampling path never builds the (N, n_fwd) logits; it must give the same P_F and P_B
    env = _tiny(tmp_path, max_blocks=4).env
    torch.manual_seed(0)
    pol = FragmentGNNPolicy(env, hidden=32, n_layers=2, conditioning=conditioning).eval()
    s = _states_along_rollouts(env, 64, 7)
    beta = torch.rand(s.shape[0]) * 3 + 0.5
    with torch.no_grad():
        dense = pol(s, beta)
        sp = pol.sparse_forward(s, beta)
    lp = masked_log_softmax(dense.fwd_logits, env.forward_mask(s))
    r, a = env.forward_mask(s).nonzero(as_tuple=True)
    assert torch.allclose(sp.fwd_logprob(a, r), lp[r, a], atol=1e-5)
    assert torch.allclose(torch.logsumexp(lp.masked_fill(~env.forward_mask(s), -torch.inf), 1), torch.zeros(len(s)),
                          atol=1e-5)
    lpb = masked_log_softmax(dense.bwd_logits, env.backward_mask(s))
    rb, b = env.backward_mask(s).nonzero(as_tuple=True)
    assert torch.allclose(sp.bwd[rb, b], lpb[rb, b], atol=1e-5)
    # every dense action is valid in the env exactly when the factorised path gives it a probability
    assert torch.equal(env.forward_valid(s[r], a), torch.ones_like(a, dtype=torch.bool))
    assert bool((sp.fwd_logprob(torch.zeros_like(r), r)[env.num_blocks(s[r]) == 0] < -1e8).all())  # no stop at s_0


def test_factorised_sampler_draws_from_p_f_and_explores_uniformly(tmp_path):
    env = _tiny(tmp_path, max_blocks=4).env
    torch.manual_seed(1)
    pol = FragmentGNNPolicy(env, hidden=32, n_layers=2).eval()
    s = _states_along_rollouts(env, 16, 8)
    s = s[env.num_blocks(s) == 2][:1]  # one partial molecule with several free stems
    mask = env.forward_mask(s)[0]
    assert int(mask.sum()) >= 4
    n = 60_000
    rep = s.expand(n, -1)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        p = masked_log_softmax(pol(s, torch.ones(1)).fwd_logits, env.forward_mask(s))[0].exp()
        sp = pol.sparse_forward(rep, torch.ones(n), backward=False)
        a, coin = sp.sample(0.0, gen)
        u, coin = sp.sample(1.0, gen)
    assert coin is not None and bool(coin.all())
    for acts, target in ((a, p), (u, mask.double() / mask.sum())):
        emp = torch.bincount(acts, minlength=env.n_fwd).double() / n
        assert float(emp[~mask].sum()) == 0.0
        assert float((emp - target).abs().sum()) < 0.03  # Monte Carlo L1 ~0.01 over a handful of actions


def test_on_policy_subset_is_unbiased_with_exploration(tmp_path):
    # the trajectories that took no exploratory action must be distributed as P_F, whatever their length
    env = _tiny(tmp_path, max_blocks=3).env
    torch.manual_seed(0)
    pol = FragmentGNNPolicy(env, hidden=16, n_layers=1).eval()
    p, rows = exact_terminal_distribution(env, pol)
    exact = torch.zeros(env.M + 1, dtype=torch.float64)
    for k, v in p.items():
        exact[int(env.num_blocks(rows[k][None])[0])] += v
    assert float(exact[1:].min()) > 0.1  # every length is common enough to measure
    n = 40_000
    t = sample_forward(env, pol, torch.ones(n), epsilon=0.3, gen=torch.Generator().manual_seed(3))
    kept = t.terminals[t.on_policy]
    assert abs(kept.shape[0] / n - 0.7 ** env.traj_len) < 0.02  # one coin per step, whatever the length
    emp = torch.bincount(env.num_blocks(kept), minlength=env.M + 1).double() / kept.shape[0]
    # counting the coin only while a state is live gave length shares 1.5x / 1.06x / 0.77x of P_F here
    assert float((emp - exact).abs().max()) < 0.03, (emp, exact)


def test_logit_conditioned_state_flow_sees_beta(tmp_path):
    # Logit-GFN scales the logits by g(beta), but F(s; beta) must change with beta for db/subtb/fldb
    # to balance at more than one beta (the flows of pi_beta differ by more than a common factor)
    env = _tiny(tmp_path, max_blocks=3).env
    torch.manual_seed(0)
    s = _states_along_rollouts(env, 16, 9)
    ones = torch.ones(s.shape[0])
    for conditioning in ("logit", "layer"):
        pol = FragmentGNNPolicy(env, hidden=32, n_layers=1, conditioning=conditioning, flow_head=True).eval()
        with torch.no_grad():
            f1, f3 = pol(s, ones).log_flow, pol(s, 3 * ones).log_flow
            sp = pol.sparse_forward(s, 3 * ones)
        assert not torch.allclose(f1, f3, atol=1e-4), conditioning
        assert torch.allclose(sp.log_flow, f3, atol=1e-5)  # both paths read the same flow head
    pol = FragmentGNNPolicy(env, hidden=32, n_layers=1, conditioning="none", flow_head=True).eval()
    with torch.no_grad():
        assert torch.allclose(pol(s, ones).log_flow, pol(s, 3 * ones).log_flow)  # unconditional: one beta

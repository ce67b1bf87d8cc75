"""Preference-conditioned multi-objective GFlowNets (Jain et al., ICML 2023): one sampler for every
weighting w, checked against the exact targets R(x | w)^beta / Z(beta, w) of an enumerable
two-objective task, by brute-force Pareto fronts, and end to end through the CLI."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from cli import app
from molgfn.exact import exact_marginal
from molgfn.moo import hypervolume
from tests.moo_oracles import a_and_alternation, brute_pareto_ranks

runner = CliRunner()
L, B = 5, 2.0  # AB^5: 32 objects; R(x | w) = (w . y(x))^2
PREFS = [(1.0, 0.0), (0.5, 0.5), (0.2, 0.8), (0.0, 1.0)]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _objects():
    return ["".join(p) for p in itertools.product("AB", repeat=L)]


def _target(env, w, beta):
    """R(x | w)^beta / Z written out from the oracle (not from molgfn.moo), in env.index order."""
    objs = _objects()
    Y = np.zeros((len(objs), 2))
    Y[env.index(env.from_strings(objs)).numpy()] = np.array(a_and_alternation(objs))
    r = np.maximum(Y @ np.asarray(w), 1e-3) ** (B * beta)
    return r / r.sum()


def _brute_front():
    Y = np.array(a_and_alternation(_objects()))
    return np.array(sorted({tuple(y) for y in Y if not any((z >= y).all() and (z > y).any() for z in Y)}))


@pytest.fixture(scope="module")
def trained():
    """One sampler conditioned on beta ~ U[1, 2] (Logit-GFN) and w ~ Dirichlet(1, 1), trained with TB."""
    from molgfn import FunctionTask
    from molgfn.api import make_config
    from molgfn.trainer import Trainer

    torch.set_num_threads(1)  # as conftest's per-test fixture does, which runs after a module fixture
    task = FunctionTask(a_and_alternation, alphabet="AB", length=L, reward_exponent=B, objectives=["a", "alt"])
    cfg = make_config(task, rounds=800, batch_size=32, replay_size=32, hidden=64, conditioning="logit",
                      beta_dist="uniform:1,2", preference_dist="dirichlet:1", device="cpu", track_modes=False, seed=0)
    tr = Trainer(cfg, task)
    tr.train()
    return tr


@pytest.mark.parametrize("beta, w", [(1.0, (1.0, 0.0)), (1.0, (0.5, 0.5)), (1.0, (0.2, 0.8)),
                                     (2.0, (1.0, 0.0)), (2.0, (0.5, 0.5))])
def test_the_exact_distribution_follows_the_target_of_each_preference_and_beta(trained, beta, w):
    env = trained.env
    p = exact_marginal(env, trained.policy, beta, pref=w).numpy()
    assert abs(p.sum() - 1) < 1e-9
    l1 = np.abs(p - _target(env, w, beta)).sum()
    # the sampler is closer to its own target than half-way to the nearest other preference's, which
    # tells the conditionings apart; a bound relative to that distance holds across seeds and CPUs
    # (float kernels differ: a seeded run elsewhere is another run). Measured over seeds 0-3 (800 rounds):
    # L1 0.02-0.19, L1 / nearest at most 0.27; the old absolute bound 0.12 failed seed 2 (0.19 at beta 2, w = (1, 0))
    nearest = min(np.abs(_target(env, w, beta) - _target(env, v, beta)).sum() for v in PREFS
                  if v != w and {v, w} != {(0.2, 0.8), (0.0, 1.0)})  # those two are close at beta = 1 (0.18)
    assert l1 < 0.5 * nearest, (l1, nearest)
    assert np.abs(_target(env, w, 1.0) - _target(env, w, 2.0)).sum() > 0.15  # and beta matters


def test_samples_at_opposite_preferences_favour_opposite_objectives(trained):
    torch.manual_seed(0)
    ya = np.array(a_and_alternation(trained.env.to_strings(trained.sample(1000, pref="1,0"))))
    yb = np.array(a_and_alternation(trained.env.to_strings(trained.sample(1000, pref=[0.0, 3.0]))))  # scaled to 0,1
    assert ya[:, 0].mean() > yb[:, 0].mean() + 0.15
    assert yb[:, 1].mean() > ya[:, 1].mean() + 0.1


def test_hypervolume_of_samples_reaches_the_exact_front(trained):
    Y = np.array(a_and_alternation(trained.env.to_strings(trained.sample(1000))))  # w ~ Dirichlet(1, 1) each
    front = _brute_front()
    # the two-objective front's hypervolume as a sum of rectangles (x sorted descending, y ascending)
    f = front[np.argsort(-front[:, 0])]
    hv_front = sum(x * (y - (f[i - 1, 1] if i else 0.0)) for i, (x, y) in enumerate(f))
    assert hypervolume(front) == pytest.approx(hv_front)
    assert hypervolume(Y) >= 0.97 * hv_front
    sampled = {tuple(y) for y in Y}
    assert sum(tuple(p) in sampled for p in front) >= len(front) - 1  # (nearly) every front point drawn


def test_replay_recomputes_rewards_for_new_preferences(trained):
    buf = trained.buffer
    assert buf.vectors is not None and buf.size > 0
    objs = trained.env.to_strings(buf.objects[: buf.size])
    assert np.allclose(buf.vectors[: buf.size].numpy(), np.array(a_and_alternation(objs)))
    # the priority is the task's own (equal) weighting
    want = B * np.log(np.maximum(np.array(a_and_alternation(objs)).mean(1), 1e-3))
    assert np.allclose(buf.log_reward[: buf.size].numpy(), want)


def test_preference_conditioned_gnn_scores_each_row_at_its_own_preference(tmp_path):
    # the GNN scores each distinct (state, beta, w) once: rows that share a state but not w must not be merged
    from molgfn.gnn import FragmentGNNPolicy
    from molgfn.sampling import sample_forward
    from molgfn.trajectories import masked_log_softmax

    from .fragment_helpers import TinyFragTask, write_vocab

    env = TinyFragTask(max_blocks=3, vocab=str(write_vocab(tmp_path))).env
    torch.manual_seed(0)
    pol = FragmentGNNPolicy(env, hidden=32, n_layers=2, conditioning="logit", flow_head=True, n_prefs=2).eval()
    n = 16
    w = torch.distributions.Dirichlet(torch.ones(2)).sample((n,))
    cond = torch.cat([1 + torch.rand(n, 1), w], 1)
    t = sample_forward(env, pol, cond, 0.0, gen=torch.Generator().manual_seed(1))
    with torch.no_grad():
        lpf, lpb, out = pol.transition_logprobs(t.states, t.fwd_actions, t.bwd_actions, cond)
        T1 = t.states.shape[1]
        flat = t.states.reshape(n * T1, -1)
        dense = pol(flat, cond.repeat_interleave(T1, 0))
    fwd = masked_log_softmax(dense.fwd_logits, env.forward_mask(flat)).view(n, T1, -1)[:, :-1]
    live = (flat[:, -1] == 0).view(n, T1)[:, :-1]
    want = fwd.gather(2, t.fwd_actions[..., None])[..., 0]
    assert torch.allclose(lpf[live], want[live], atol=1e-5)
    alive = flat[:, -1] == 0
    assert torch.allclose(out.log_flow[alive], dense.log_flow[alive], atol=1e-5)  # log F(s; beta, w)
    # and w reaches the logits: the same state at two preferences gets two distributions
    s0 = env.initial(2)
    two = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    with torch.no_grad():
        logits = pol(s0, two).fwd_logits
    assert not torch.allclose(logits[0], logits[1])


# ---- the command line ----------------------------------------------------------------------------
BASE = ["--task", "custom", "--oracle", "tests.moo_oracles:a_and_alternation", "--alphabet", "AB", "--length", 6,
        "--objectives", "a,alt", "--batch-size", 16, "--hidden", 16, "--device", "cpu"]


def test_design_trains_one_preference_conditioned_sampler_and_merges_pareto_ranked_lists(tmp_path):
    out = tmp_path / "r"
    r = run("design", *BASE, "--rounds", 6, "--num-samples", 100, "--num-candidates", 15, "--out", out)
    assert r.exit_code == 0, r.output
    assert json.loads((out / "config.json").read_text())["preference_dist"] == "dirichlet:1"
    df = pd.read_csv(out / "candidates.csv", dtype={"sequence": str})
    assert len(df) == 15 and df["sequence"].is_unique and df["rank"].tolist() == list(range(1, 16))
    Y = np.array(a_and_alternation(df["sequence"].tolist()))
    assert df["a"].tolist() == pytest.approx(Y[:, 0].tolist())
    assert df["pareto_rank"].tolist() == brute_pareto_ranks(Y).tolist()  # over the merged list
    assert df["pareto_rank"].is_monotonic_increasing
    listed = {w for p in df["preference"] for w in p.split(";")}
    assert listed <= {"1,0", "0,1", "0.5,0.5"} and len(listed) >= 2  # the corners and the centre by default

    r = run("design", *BASE, "--rounds", 2, "--preference", "3,1", "--num-samples", 50, "--out", tmp_path / "s")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(tmp_path / "s" / "candidates.csv", dtype={"sequence": str})
    assert set(df["preference"]) == {"0.75,0.25"}


def test_preference_run_resumes_exactly_and_samples_at_a_preference_after_reload(tmp_path):
    opts = [*BASE, "--local-search", "--ls-iterations", 3, "--conditioning", "logit", "--beta-dist", "uniform:1,2",
            "--checkpoint-every", 2, "--quiet"]
    assert run("train", *opts, "--rounds", 4, "--out", tmp_path / "a").exit_code == 0
    assert run("train", *opts, "--rounds", 2, "--out", tmp_path / "b").exit_code == 0
    r = run("train", *opts, "--rounds", 4, "--out", tmp_path / "b", "--resume")
    assert r.exit_code == 0, r.output
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    for k, v in a["policy"].items():
        assert torch.equal(v, b["policy"][k]), k
    # where each score came from (memory or the run's store) differs after a resume, as in test_durable_cli
    bookkeeping = ["round_ms", "oracle_calls", "store_hits"]
    ma = pd.read_csv(tmp_path / "a" / "metrics.csv").drop(columns=bookkeeping, errors="ignore")
    mb = pd.read_csv(tmp_path / "b" / "metrics.csv").drop(columns=bookkeeping, errors="ignore")
    pd.testing.assert_frame_equal(ma, mb)

    r = run("sample", tmp_path / "b", "-n", 20, "--preference", "0.7,0.3", "--beta", 1.5, "--trust-oracle")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(__import__("io").StringIO(r.stdout), dtype={"sequence": str})
    assert len(df) == 20 and {"a", "alt", "pareto_rank"} <= set(df.columns)
    r = run("sample", tmp_path / "b", "-n", 5, "--preference", "1,0,0")
    assert r.exit_code == 2 and "--preference must be 2 numbers" in r.output

    r = run("evaluate", tmp_path / "b", "-n", 200, "--exact-front", "--format", "json", "--trust-oracle")
    assert r.exit_code == 0, r.output
    ev = json.loads(r.stdout)
    assert ev["preference_dist"] == "dirichlet:1" and 0 < ev["hypervolume"] <= ev["hypervolume_true_front"] + 1e-12
    r = run("train", *opts, "--rounds", 6, "--out", tmp_path / "b", "--resume", "--preference-dist", "dirichlet:2")
    assert r.exit_code == 2 and "--preference-dist" in r.output


def test_preference_options_are_checked(tmp_path):
    r = run("design", *BASE, "--rounds", 1, "--weights", "1,1", "--preference", "1,0", "--out", tmp_path / "w")
    assert r.exit_code == 2 and "--preference needs a preference-conditioned sampler" in r.output
    r = run("design", *BASE, "--rounds", 1, "--weights", "1,1", "--preference-dist", "dirichlet:1",
            "--out", tmp_path / "x")
    assert r.exit_code == 2 and "give one of them" in r.output
    r = run("design", *BASE, "--rounds", 1, "--preference", "1,-1", "--out", tmp_path / "y")
    assert r.exit_code == 2 and "--preference must be 2 numbers >= 0" in r.output
    r = run("train", "--task", "custom", "--oracle", "tests.oracles:gc_content", "--preference-dist", "dirichlet:1",
            "--out", tmp_path / "z")
    assert r.exit_code == 2 and "several objectives" in r.output
    r = run("train", *BASE, "--preference-dist", "dirichlet:0", "--out", tmp_path / "v")
    assert r.exit_code == 2 and "dirichlet:ALPHA with ALPHA > 0" in r.output
    r = run("design", *BASE, "--rounds", 1, "--weights", "1,3", "--num-samples", 10, "--out", tmp_path / "f")
    assert r.exit_code == 0, r.output  # --weights: the fixed weighted sum, as before
    assert json.loads((tmp_path / "f" / "config.json").read_text())["preference_dist"] == ""
    r = run("sample", tmp_path / "f", "-n", 3, "--preference", "1,0")
    assert r.exit_code == 2 and "--preference needs a preference-conditioned sampler" in r.output


def test_seh_frag_moo_designs_a_pareto_ranked_sdf_with_a_preference_conditioned_sampler(tmp_path, request):
    from rdkit import Chem

    from .conftest import real_or_synthetic

    real_or_synthetic(request, "seh-frag-blocks", "seh-frag-proxy")
    out = tmp_path / "m"
    r = run("design", "--task", "seh-frag-moo", "--max-blocks", 3, "--rounds", 2, "--batch-size", 8,
            "--replay-size", 4, "--hidden", 16, "--layers", 1, "--device", "cpu", "--num-samples", 12,
            "--num-candidates", 10, "--format", "sdf", "--out", out)
    assert r.exit_code == 0, r.output
    assert json.loads((out / "config.json").read_text())["preference_dist"] == "dirichlet:1"
    df = pd.read_csv(out / "candidates.csv")
    assert {"pareto_rank", "preference", "seh", "qed", "sa", "mw", "inchikey", "scaffold", "pains_alerts",
            "lipinski_pass"} <= set(df.columns)
    assert df["pareto_rank"].tolist() == brute_pareto_ranks(df[["seh", "qed", "sa", "mw"]].to_numpy()).tolist()
    mols = [m for m in Chem.SDMolSupplier(str(out / "candidates.sdf")) if m is not None]
    assert len(mols) == len(df) and all(m.HasProp("pareto_rank") and m.HasProp("preference") for m in mols)


def test_the_python_api_designs_at_given_preferences():
    from molgfn import FunctionTask, design

    task = FunctionTask(a_and_alternation, alphabet="AB", length=6, objectives=["a", "alt"])
    df = design(task, rounds=3, batch_size=8, hidden=16, device="cpu", preference_dist="dirichlet:1",
                preferences=["1,0"], num_samples=50, num_candidates=5)
    assert set(df["preference"]) == {"1,0"} and len(df) <= 5
    assert df["pareto_rank"].is_monotonic_increasing


def _two_hashes(smiles):
    from .fragment_helpers import hashed_raw

    return [[hashed_raw(s), hashed_raw(s + "#2")] for s in smiles]


@pytest.mark.slow  # statistical: a GNN trained until it matches the exact targets
def test_preference_conditioned_gnn_matches_the_exact_targets_on_a_tiny_fragment_space(tmp_path):
    # the graph policy (seh-frag-moo's) on 66 enumerable block trees, two pseudo-random objectives
    from torch import nn

    from molgfn.api import MoleculeFunctionTask, make_config
    from molgfn.conditioning import make_cond
    from molgfn.envs.fragment_exact import exact_terminal_distribution
    from molgfn.trainer import Trainer

    from .fragment_helpers import write_vocab

    class AtPreference(nn.Module):  # the policy with w appended to the beta it is given
        def __init__(self, policy, w):
            super().__init__()
            self.policy, self.w = policy, torch.tensor(w, dtype=torch.float32)

        def forward(self, x, beta):
            return self.policy(x, make_cond(beta, self.w.expand(len(beta), -1)))

    task = MoleculeFunctionTask(_two_hashes, max_blocks=3, vocab=str(write_vocab(tmp_path)), objectives=["h1", "h2"])
    cfg = make_config(task, rounds=1000, batch_size=32, replay_size=0, grad_steps=1, lr=3e-3, lr_logz=3e-2,
                      epsilon=0.0, hidden=32, n_layers=2, seed=0, device="cpu", preference_dist="dirichlet:1",
                      track_modes=False)
    tr = Trainer(cfg, task)
    tr.train()
    targets, samplers = {}, {}
    for w in [(1.0, 0.0), (0.5, 0.5), (0.0, 1.0)]:
        p, rows = exact_terminal_distribution(task.env, AtPreference(tr.policy, w))
        keys = sorted(p)
        assert len(keys) == 66 and abs(sum(p.values()) - 1) < 1e-9
        smiles = task.env.to_strings(torch.stack([rows[k] for k in keys]))
        Y = np.array([_two_hashes([s])[0] if task.is_valid(s) else [0.0, 0.0] for s in smiles])
        r = np.maximum(Y @ np.array(w), 1e-3)  # R(x | w), b = 1
        targets[w], samplers[w] = r / r.sum(), np.array([p[k] for k in keys])
        l1 = np.abs(samplers[w] - targets[w]).sum()
        # measured over seeds 0-4 (1,000 rounds): max L1 0.051-0.091 per seed; an AMD EPYC gave 0.129 on seed 0
        # (float kernels differ across CPUs). 0.2 holds with a margin and is far below the 0.5 between targets
        assert l1 < 0.2, (w, l1)
    assert np.abs(samplers[(1.0, 0.0)] - targets[(0.0, 1.0)]).sum() > 0.5  # the targets are ~1.0 apart

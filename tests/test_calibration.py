"""Calibration beside the modes (molgfn.calibration): the importance-sampled log Z against exact
enumeration, the identity that makes it unbiased in Z, its standard error's coverage, and its
columns in metrics.csv and `molgfn evaluate`."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from molgfn.calibration import IS_COLUMNS, importance_log_z, is_summary, log_weights
from molgfn.config import TrainConfig
from molgfn.evaluation import sample_for_evaluation
from molgfn.exact import exact_log_z
from molgfn.policies import MLPPolicy
from molgfn.trainer import Trainer
from molgfn.trajectories import Trajectories

from .helpers import TableTask
from .reference import _one_state, all_trajectories


def _sharp_policy(task, seed=1, scale=3.0):
    torch.manual_seed(seed)
    pol = MLPPolicy(task.env.state_dim, task.env.n_fwd, task.env.n_bwd, hidden=16)
    with torch.no_grad():  # far from the target: weights spread over orders of magnitude
        pol.head.weight.mul_(scale)
    return pol


def test_importance_weights_are_unbiased_for_z_by_enumeration():
    """sum_tau P_F(tau) w(tau) = sum_tau R(x)^beta P_B(tau | x) = sum_x R(x)^beta = Z, for any P_F:
    every trajectory of a tiny task, P_F(tau) from an independent state-by-state reference."""
    task = TableTask("AB", 3, seed=3)
    pol = _sharp_policy(task)
    t = all_trajectories(task)
    for beta in (1.0, 2.5):
        trajs = Trajectories(t.states, t.fwd_actions, t.bwd_actions, torch.full((len(t),), beta), t.log_reward)
        log_w, _ = log_weights(task.env, pol, trajs)
        log_q = []
        with torch.no_grad():
            for i in range(len(t)):
                per_state = [_one_state(pol, task.env, t.states[i, s], beta) for s in range(task.env.traj_len)]
                log_q.append(sum(float(per_state[s][0][t.fwd_actions[i, s]]) for s in range(task.env.traj_len)))
        log_q = torch.tensor(log_q, dtype=torch.float64)
        assert abs(float(torch.exp(log_q).sum()) - 1) < 1e-5  # the enumeration is complete
        e_w = float(torch.logsumexp(log_q + log_w, 0))
        true = exact_log_z(task.log_reward(task.table), beta)
        assert abs(e_w - true) < 1e-5, (beta, e_w, true)
        assert float(log_w.max() - log_w.min()) > 1.0  # the weights are far from constant: the identity has teeth


def _trainer(task, **kw):
    cfg = TrainConfig(task="table", rounds=0, batch_size=16, replay_size=0, hidden=16, device="cpu", seed=0, **kw)
    tr = Trainer(cfg, task)
    with torch.no_grad():
        tr.policy.head.weight.mul_(3.0)
    return tr


def test_importance_log_z_is_within_a_few_standard_errors_of_exact():
    task = TableTask("AB", 4, seed=4, spread=3.0)
    tr = _trainer(task)
    true = {b: exact_log_z(task.log_reward(task.table), b) for b in (1.0, 2.0)}
    gen = torch.Generator().manual_seed(0)
    for b in (1.0, 2.0):
        res = importance_log_z(tr, 4000, b, gen)
        z = (res["is_log_z"] - true[b]) / res["is_log_z_se"]
        assert abs(z) < 4, (b, res, true[b])
        assert 0 < res["is_log_z_se"] < 0.1 and 10 < res["is_ess"] < 4000
        assert res["log_z_learned"] == float(tr.policy.log_z(torch.tensor([b]))[0].detach())
        assert res["is_log_z_error"] == res["log_z_learned"] - res["is_log_z"]
    # the standard error is calibrated: ~95 % of 60 small estimates lie within 2 of theirs of the truth
    inside = []
    for _ in range(60):
        res = importance_log_z(tr, 300, 1.0, gen)
        inside.append(abs(res["is_log_z"] - true[1.0]) < 2 * res["is_log_z_se"])
    assert 0.8 <= np.mean(inside) <= 1.0, np.mean(inside)


def test_is_summary_by_hand():
    res = is_summary(torch.log(torch.tensor([1.0, 3.0], dtype=torch.float64)))
    assert math.isclose(res["is_log_z"], math.log(2.0))
    assert math.isclose(res["is_log_z_se"], math.sqrt(2.0) / (math.sqrt(2) * 2.0))  # sd 1.414, mean 2
    assert math.isclose(res["is_ess"], 16 / 10)
    at_target = is_summary(torch.full((50,), 1.7, dtype=torch.float64))  # w = Z everywhere: exact, all effective
    assert math.isclose(at_target["is_log_z"], 1.7) and at_target["is_log_z_se"] == 0.0
    assert math.isclose(at_target["is_ess"], 50)
    big = is_summary(torch.tensor([800.0, 801.0], dtype=torch.float64))  # scaled: no overflow
    assert math.isclose(big["is_log_z"], 800 + math.log((1 + math.e) / 2))


def test_metrics_log_the_importance_sampled_log_z_every_n_rounds_without_changing_training():
    task = TableTask("AB", 4, seed=4, spread=3.0)
    a = Trainer(TrainConfig(task="table", rounds=4, batch_size=16, replay_size=4, hidden=16, device="cpu",
                            calibration_every=2, calibration_samples=32), task)
    a.train()
    b = Trainer(TrainConfig(task="table", rounds=4, batch_size=16, replay_size=4, hidden=16, device="cpu",
                            calibration_every=0), task)
    b.train()
    for ra, rb in zip(a.metrics, b.metrics, strict=True):
        assert ra["loss"] == rb["loss"] and ra["log_z"] == rb["log_z"]  # the estimate draws from its own RNG
        assert not set(IS_COLUMNS) & set(rb)
        done = ra["round"] % 2 == 0
        assert all(math.isfinite(ra[c]) == done for c in IS_COLUMNS), ra
    assert 0 < a.metrics[1]["is_ess"] <= 32


def test_evaluate_reports_calibration_beside_modes(tmp_path, request):
    from cli import app

    from .conftest import real_or_synthetic

    real_or_synthetic(request, "tfbind8-table", "tfbind8-modes")
    out = tmp_path / "run"
    base = ["--task", "tfbind8", "--rounds", "2", "--batch-size", "16", "--hidden", "16", "--device", "cpu"]
    r = CliRunner().invoke(app, ["train", *base, "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    m = pd.read_csv(out / "metrics.csv")
    assert set(IS_COLUMNS) <= set(m.columns) and m["is_log_z"].isna().all()  # every 50 rounds by default
    r = CliRunner().invoke(app, ["evaluate", str(out), "--num-samples", "500", "--device", "cpu", "--format", "json"])
    assert r.exit_code == 0, r.output
    ev = json.loads((out / "evaluation.json").read_text())
    for k in ("modes_found", "l1", "log_z_error", "is_log_z", "is_log_z_se", "is_ess", "is_log_z_error",
              "log_z_learned"):
        assert k in ev and math.isfinite(ev[k]), k
    assert ev["is_samples"] == 500
    # an untrained sampler: the IS estimate agrees with the exact log Z, the learned one does not
    assert abs(ev["is_log_z"] - ev["log_z_exact"]) < 5 * ev["is_log_z_se"] + 0.05
    # both errors signed, learned - reference, so they differ by the reference's difference
    assert math.isclose(ev["is_log_z_error"] + ev["is_log_z"] - ev["log_z_exact"], ev["log_z_error"], rel_tol=1e-6)


def test_exact_and_is_log_z_errors_are_both_signed_learned_minus_reference():
    from molgfn.evaluation import evaluate_trainer

    task = TableTask("AB", 4, seed=4)
    tr = _trainer(task)
    exact = exact_log_z(task.log_reward(task.table))
    for offset in (-1.5, 0.7):  # a sampler whose log Z is too low (sharper than R / Z), then too high
        with torch.no_grad():
            tr.policy.log_z.value.fill_(exact + offset)
        tr.gen.manual_seed(0)
        ev = evaluate_trainer(tr, n=200)
        assert ev["log_z_error"] == pytest.approx(offset, abs=1e-5)
        assert ev["log_z_error"] == pytest.approx(ev["log_z_learned"] - ev["log_z_exact"])
        assert ev["is_log_z_error"] == pytest.approx(ev["log_z_learned"] - ev["is_log_z"])


def test_evaluation_samples_are_the_trainers():
    task = TableTask("AB", 4, seed=4)
    tr = _trainer(task)
    tr.gen.manual_seed(5)
    want = tr.sample(300, beta=1.5, batch=128)
    tr.gen.manual_seed(5)
    got, trajs = sample_for_evaluation(tr, 300, 1.5, batch=128)
    assert torch.equal(want, got) and torch.equal(trajs.terminals, got) and len(trajs) == 300


def test_importance_log_z_on_an_enumerable_fragment_space(tmp_path):
    """The graph environment (GNN policy, variable-length trajectories): within a few standard errors of
    the exact log Z over its 66 molecules, and logged in metrics.csv rows."""
    from molgfn.envs.fragment_exact import exact_terminal_distribution

    from .fragment_helpers import TinyFragTask, write_vocab

    task = TinyFragTask(max_blocks=3, vocab=str(write_vocab(tmp_path)))
    cfg = TrainConfig(task="tiny-frag", rounds=1, batch_size=8, replay_size=0, hidden=16, n_layers=1, device="cpu",
                      calibration_every=1, calibration_samples=16)
    tr = Trainer(cfg, task)
    p, rows = exact_terminal_distribution(task.env, tr.policy)
    _, logr = task.evaluate(torch.stack([rows[k] for k in p]))
    true = float(torch.logsumexp(logr.double(), 0))
    res = importance_log_z(tr, 1500, 1.0, torch.Generator().manual_seed(0))
    assert abs(res["is_log_z"] - true) < 4 * res["is_log_z_se"], (res, true)
    calls = tr.reward_calls
    tr.train()
    assert tr.reward_calls == calls + 8  # the estimate's samples are not reward calls
    assert all(math.isfinite(tr.metrics[-1][c]) for c in IS_COLUMNS)


def test_importance_log_z_of_a_preference_conditioned_sampler():
    from molgfn import FunctionTask
    from molgfn.api import make_config
    from molgfn.evaluation import evaluate_trainer
    from molgfn.moo import conditional_log_reward

    from .moo_oracles import a_and_alternation

    task = FunctionTask(a_and_alternation, alphabet="AB", length=4, reward_exponent=2, objectives=["a", "alt"])
    cfg = make_config(task, rounds=1, batch_size=8, replay_size=0, hidden=16, conditioning="logit",
                      preference_dist="dirichlet:1", device="cpu", track_modes=False, calibration_every=1,
                      calibration_samples=8)
    tr = Trainer(cfg, task)
    tr.train()
    assert all(math.isfinite(tr.metrics[-1][c]) for c in IS_COLUMNS)
    # at equal preferences: log R(x | w) of every object, against the importance-sampled estimate
    objs = tr.env.all_objects()
    w = torch.full((len(objs), 2), 0.5, dtype=torch.float64)
    Y = tr._objective_vectors(tr.env.to_strings(objs))
    true = float(torch.logsumexp(conditional_log_reward(Y, w, task.reward_exponent, task.raw_floor,
                                                        task.log_scale).double(), 0))
    res = importance_log_z(tr, 2000, 1.0, torch.Generator().manual_seed(0))
    assert abs(res["is_log_z"] - true) < 4 * res["is_log_z_se"], (res, true)
    ev = evaluate_trainer(tr, n=200)
    assert ev["is_samples"] == 200 and math.isfinite(ev["is_log_z_error"])

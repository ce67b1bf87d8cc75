"""TB trained on an enumerable task matches R/Z exactly (DP marginal, exact log Z)."""

import math

import pytest
import torch

from molgfn.config import TrainConfig
from molgfn.exact import distribution_report, exact_marginal
from molgfn.sampling import sample_forward
from molgfn.trainer import Trainer

from .helpers import TableTask


def _train(task, rounds=400, **kw):
    cfg = TrainConfig(task="table", rounds=rounds, batch_size=64, replay_size=0, grad_steps=1, lr=3e-3,
                      lr_logz=3e-2, epsilon=0.0, hidden=64, seed=0, device="cpu", **kw)
    tr = Trainer(cfg, task)
    tr.train()
    return tr


def test_dp_marginal_matches_sampling_frequencies():
    task = TableTask("AB", 4, seed=1)
    tr = Trainer(TrainConfig(task="table", hidden=32, device="cpu"), task)  # untrained, random policy
    p = exact_marginal(task.env, tr.policy)
    assert math.isclose(float(p.sum()), 1.0, rel_tol=1e-9)
    n = 200_000
    beta = torch.ones(n)
    x = sample_forward(task.env, tr.policy, beta, gen=torch.Generator().manual_seed(0)).terminals
    freq = torch.bincount(task.env.index(x), minlength=16).double() / n
    # Monte Carlo error per cell ~ sqrt(p/n) < 2.5e-3; the L1 of 16 cells stays well below 0.02
    assert float((freq - p).abs().sum()) < 0.02


@pytest.mark.slow  # training to convergence: in the slow step
def test_tb_learns_target_distribution_and_log_z():
    task = TableTask("AB", 4, seed=0)
    tr = _train(task, rounds=500)
    rep = distribution_report(task.env, tr.policy, task.log_reward(task.table))
    print(rep)
    assert rep["l1"] < 0.02
    assert abs(rep["log_z_error"]) < 0.01
    assert rep["pearson_logp_logr"] > 0.98


@pytest.mark.slow
def test_tb_append_only_variant():
    task = TableTask("ABC", 3, seed=2, append_only=True)
    tr = _train(task, rounds=400)
    rep = distribution_report(task.env, tr.policy, task.log_reward(task.table))
    print(rep)
    assert rep["l1"] < 0.02
    assert abs(rep["log_z_error"]) < 0.01

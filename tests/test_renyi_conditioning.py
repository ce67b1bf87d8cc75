"""Renyi-alpha under a temperature / preference distribution: its weights are self-normalised within
each group of rows with the same conditioning (each target pi_c has its own normaliser
E_{q_c}[w^(1-alpha)]), not divided by the learned Z(beta), which is the Tsallis estimator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from molgfn.config import TrainConfig
from molgfn.objectives import get_objective
from molgfn.trainer import Trainer
from molgfn.trajectories import TrajectoryScores

from .helpers import TableTask

ALPHA = 0.5


def _one_step_scores():
    """Seven one-transition trajectories at three conditionings (beta 1 x3, beta 2 x3, beta 3 alone),
    log Z(beta) differing by conditioning; log P_F and log P_B are leaves, so the surrogate's gradient
    wrt them is each row's coefficient."""
    lpf = torch.tensor([[-0.3], [-1.2], [-0.7], [-2.0], [-0.1], [-0.9], [-0.5]], dtype=torch.float64,
                       requires_grad=True)
    lpb = torch.tensor([[-0.2], [0.0], [-1.1], [-0.4], [-0.6], [0.0], [-0.3]], dtype=torch.float64,
                       requires_grad=True)
    beta = torch.tensor([1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.0], dtype=torch.float64)
    log_r = torch.tensor([0.4, -1.0, 0.9, -0.5, 1.5, 0.2, 0.7], dtype=torch.float64)
    log_z = torch.tensor([1.3, 1.3, 1.3, 2.1, 2.1, 2.1, 2.9], dtype=torch.float64)
    s = TrajectoryScores(lpf, lpb, torch.ones(7, 1, dtype=torch.bool), log_z, beta * log_r, cond=beta)
    return s, lpf, lpb


def _grads(name, cv="loo"):
    s, lpf, lpb = _one_step_scores()
    loss, _ = get_objective(name, alpha=ALPHA, control_variate=cv)(s)
    g_pf, g_pb = torch.autograd.grad(loss, [lpf, lpb])
    return g_pf[:, 0].numpy(), g_pb[:, 0].numpy()


def _by_hand(cv):
    """Independent numpy computation of the grouped Renyi surrogate's coefficients:
    d/d log q_i = (W_i/(a-1) - b_i)/B and d/d log P_B_i = -W_i/(a B), with
    W_i = n_g v_i / sum_{j in g} v_j, v = w^(1-a), w = exp(beta log R + log P_B - log P_F)."""
    s, _, _ = _one_step_scores()
    lpf, lpb = s.log_pf.detach().numpy()[:, 0], s.log_pb.detach().numpy()[:, 0]
    w = np.exp(s.log_reward.numpy() + lpb - lpf)
    groups = [[0, 1, 2], [3, 4, 5], [6]]
    W = np.empty(7)
    for g in groups:
        v = w[g] ** (1 - ALPHA)
        W[g] = len(g) * v / v.sum()
    B, a = 7, ALPHA
    c = W / (a - 1)
    b = np.array([(c.sum() - c[i]) / (B - 1) for i in range(B)]) if cv == "loo" else np.full(B, 1 / (a - 1))
    return (c - b) / B, -W / (a * B), W


@pytest.mark.parametrize("cv", ["loo", "logz"])
def test_grouped_renyi_gradient_equals_hand_computation(cv):
    g_pf, g_pb = _grads("renyi", cv)
    want_pf, want_pb, W = _by_hand(cv)
    assert np.allclose(g_pf, want_pf, rtol=1e-10, atol=1e-12)
    assert np.allclose(g_pb, want_pb, rtol=1e-10, atol=1e-12)
    assert np.allclose([W[:3].mean(), W[3:6].mean(), W[6]], 1.0)  # mean one in every group


def test_renyi_and_tsallis_differ_under_conditioning():
    r_pf, r_pb = _grads("renyi")
    t_pf, t_pb = _grads("tsallis")
    assert np.abs(r_pb - t_pb).max() > 1e-2 and np.abs(r_pf - t_pf).max() > 1e-3
    # Tsallis keeps the learned Z(beta): its P_B coefficient is -(w/Z(beta))^(1-a) / (a B)
    s, _, _ = _one_step_scores()
    lw = (s.log_reward + s.log_pb[:, 0] - s.log_pf[:, 0]).detach().numpy()
    assert np.allclose(t_pb, -np.exp((1 - ALPHA) * (lw - s.log_z.numpy())) / (ALPHA * 7))


def test_renyi_with_one_conditioning_is_the_batch_self_normalised_estimator():
    s, lpf, lpb = _one_step_scores()
    s.cond = torch.ones(7, dtype=torch.float64)  # one target: the whole batch shares the normaliser
    loss, _ = get_objective("renyi", alpha=ALPHA)(s)
    g_pb = torch.autograd.grad(loss, [lpb])[0][:, 0]
    lw = (s.log_reward + lpb[:, 0] - lpf[:, 0]).detach()
    W = torch.softmax((1 - ALPHA) * lw, 0) * 7
    assert torch.allclose(g_pb, -W / (ALPHA * 7))


def test_trainer_draws_each_conditioning_for_a_group_of_rows():
    task = TableTask("AB", 3, seed=3)
    base = dict(task="table", rounds=2, batch_size=40, replay_size=0, conditioning="logit", beta_dist="uniform:1,3",
                hidden=16, device="cpu", seed=0)
    tr = Trainer(TrainConfig(objective="renyi", **base), task)
    cond = tr._cond(40)
    g = tr.objective.rows_per_condition
    assert len(torch.unique(cond)) == -(-40 // g)
    assert torch.equal(cond[:g], cond[:1].expand(g))
    tr.train()
    assert all(np.isfinite(r["loss"]) for r in tr.metrics)
    ts = Trainer(TrainConfig(objective="tsallis", **base), task)  # other objectives: one draw per row, as before
    assert len(torch.unique(ts._cond(40))) == 40

"""TB, DB, SubTB(lambda) and FL-DB against independent references written from the papers'
formulas: a plain Python loop over trajectories and transitions that calls the policy on one
state at a time (no ``score``, no objective code), on all 64 trajectories of a tiny task
(alphabet 'AB', L = 3) at two temperatures, for an unconditional and a beta-conditioned
policy. The objective's loss and its gradient wrt every parameter must equal the reference's.

The comparison is checked for power: perturbing each objective's residual (a constant shift,
a 1 % scale, dropping the log P_B term) must make it fail.

  TB    (Malkin et al. 2022)  (log Z + sum log P_F - beta log R - sum log P_B)^2
  DB    (Bengio et al. 2023)  mean_t (log F(s_t) + log P_F - log F(s_t+1) - log P_B)^2,
                              F(s_0) = Z, F(x) = R^beta
  SubTB (Madan et al. 2023)   sum_{i<j} lam^(j-i) delta_ij^2 / sum_{i<j} lam^(j-i)
  FL-DB (Pan et al. 2023)     mean_t (log F~(s_t) + log P_F - log F~(s_t+1) - log P_B + E(s_t+1) - E(s_t))^2,
                              E tempered by beta, E(x) = -beta log R(x), F~(x) = 1, F~(s_0) = Z e^E(s_0)
"""

from __future__ import annotations

import pytest
import torch

from molgfn.energies import tabular_max_energy
from molgfn.objectives import db as db_mod
from molgfn.objectives import fldb as fldb_mod
from molgfn.objectives import get_objective
from molgfn.objectives import subtb as subtb_mod
from molgfn.objectives import tb as tb_mod
from molgfn.policies import MLPPolicy
from molgfn.trajectories import Trajectories, score

from .helpers import TableTask
from .reference import all_trajectories, reference_losses

NAMES = ("tb", "db", "subtb", "fldb")
LAM = 0.8


def _setup(conditioning: str):
    task = TableTask("AB", 3, seed=3)
    env = task.env
    torch.manual_seed(1)
    pol = MLPPolicy(env.state_dim, env.n_fwd, env.n_bwd, hidden=16, flow_head=True, conditioning=conditioning)
    with torch.no_grad():  # a policy far from balance, log Z off target
        pol.head.weight.mul_(3.0)
        if conditioning == "none":
            pol.log_z.value.fill_(0.7)
    t = all_trajectories(task)
    n = len(t)
    beta = torch.where(torch.arange(n) % 2 == 0, 1.0, 2.0)  # two temperatures in one batch
    trajs = Trajectories(t.states, t.fwd_actions, t.bwd_actions, beta, t.log_reward)
    return task, pol, trajs


def _compare(name: str, conditioning: str) -> tuple[float, float]:
    """Largest relative error of the objective's per-trajectory losses and of its batch-loss
    gradient, against the reference."""
    task, pol, trajs = _setup(conditioning)
    energy_fn = tabular_max_energy(task) if name == "fldb" else None
    obj = get_objective(name, subtb_lambda=LAM)
    params = list(pol.parameters())
    ref = reference_losses(name, pol, task, trajs, energy_fn, LAM)
    g_ref = torch.autograd.grad(ref.mean(), params, allow_unused=True, materialize_grads=True)
    s = score(task.env, pol, trajs, energy_fn)
    per = []
    for i in range(len(trajs)):
        one = Trajectories(*(x[i:i + 1] for x in (trajs.states, trajs.fwd_actions, trajs.bwd_actions, trajs.beta,
                                                  trajs.log_reward)))
        per.append(obj(score(task.env, pol, one, energy_fn))[0].detach())
    per = torch.stack(per).double()
    loss, _ = obj(s)  # every trajectory has L transitions: the batch loss is the mean per-trajectory loss
    g = torch.autograd.grad(loss, params, allow_unused=True, materialize_grads=True)
    g_ref, g = torch.cat([x.reshape(-1) for x in g_ref]).double(), torch.cat([x.reshape(-1) for x in g]).double()
    val_err = float(((per - ref.detach()).abs() / ref.detach().abs().clamp(min=1e-3)).max())
    grad_err = float((g - g_ref).norm() / g_ref.norm())
    return val_err, grad_err


TOL = 1e-4  # float32 network, float64 comparison


@pytest.mark.parametrize("conditioning", ["none", "logit"])
@pytest.mark.parametrize("name", NAMES)
def test_objective_equals_paper_formula(name, conditioning):
    val_err, grad_err = _compare(name, conditioning)
    print(name, conditioning, val_err, grad_err)
    assert val_err < TOL and grad_err < TOL


# -- the comparison has power: corrupt each residual, the comparison must fail --------
def _shift(r):
    return r + 0.05


def _scale(r):
    return r * 1.01


MUTANTS = {
    "tb": (tb_mod, "tb_residual"),
    "db": (db_mod, "db_residuals"),
    "subtb": (subtb_mod, "subtb_residuals"),
    "fldb": (fldb_mod, "fldb_residuals"),
}


@pytest.mark.parametrize("mutation", ["shift", "scale", "drop_log_pb"])
@pytest.mark.parametrize("name", NAMES)
def test_corrupted_residual_fails_the_comparison(monkeypatch, name, mutation):
    mod, helper = MUTANTS[name]
    orig = getattr(mod, helper)

    def corrupt(s, *args):
        if mutation == "drop_log_pb":  # forget the backward policy: a classic slip
            from dataclasses import replace

            return orig(replace(s, log_pb=torch.zeros_like(s.log_pb)), *args)
        out = orig(s, *args)
        f = _shift if mutation == "shift" else _scale
        return (f(out[0]), out[1]) if isinstance(out, tuple) else f(out)

    monkeypatch.setattr(mod, helper, corrupt)
    val_err, grad_err = _compare(name, "none")
    print(name, mutation, val_err, grad_err)
    assert max(val_err, grad_err) > 100 * TOL


# -- SubTB's lambda weighting, by hand on one two-step trajectory --------------------------
def test_subtb_lambda_weighting_by_hand():
    """s_0 -> s_1 -> x with log Z = 1, log F(s_1) = 0.5, beta log R(x) = -1, log P_F = (-0.7, -0.2),
    log P_B = (0, -0.6), lambda = 0.5. The three sub-trajectories, by hand:
      (0,1): 1 - 0.7 - 0 - 0.5          = -0.2   weight lambda^1 = 0.5
      (1,2): 0.5 - 0.2 + 0.6 - (-1)     =  1.9   weight lambda^1 = 0.5
      (0,2): 1 - 0.9 + 0.6 - (-1)       =  1.7   weight lambda^2 = 0.25
      L = (0.5 (0.04 + 3.61) + 0.25 * 2.89) / 1.25 = 2.038
    (weights lambda^(2(j-i)) would give 1.0931 / 0.5625 = 1.9433). The same trajectory with a padded
    step after x, or with s_0 repeated before it (a shorter backward rollout), has the same loss:
    j - i counts real transitions, and padding's entries (here 9.0) are never read."""
    from molgfn.objectives.subtb import SubTB
    from molgfn.trajectories import TrajectoryScores

    g = 9.0  # entries that padding / boundaries must override or mask
    t = torch.tensor
    plain = TrajectoryScores(log_pf=t([[-0.7, -0.2]]), log_pb=t([[0.0, -0.6]]), mask=t([[True, True]]),
                             log_z=t([1.0]), log_reward=t([-1.0]), log_flow=t([[g, 0.5, g]]))
    after = TrajectoryScores(log_pf=t([[-0.7, -0.2, g]]), log_pb=t([[0.0, -0.6, g]]),
                             mask=t([[True, True, False]]), log_z=t([1.0]), log_reward=t([-1.0]),
                             log_flow=t([[g, 0.5, g, g]]))
    before = TrajectoryScores(log_pf=t([[g, -0.7, -0.2]]), log_pb=t([[g, 0.0, -0.6]]),
                              mask=t([[False, True, True]]), log_z=t([1.0]), log_reward=t([-1.0]),
                              log_flow=t([[g, g, 0.5, g]]))
    for s in (plain, after, before):
        loss, _ = SubTB(0.5)(s)
        assert float(loss) == pytest.approx(2.038, abs=1e-5)

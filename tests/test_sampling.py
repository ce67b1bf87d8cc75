import torch

from molgfn.exact import exact_marginal
from molgfn.policies import MLPPolicy
from molgfn.sampling import sample_forward

from .helpers import TableTask


def test_exploring_rows_are_not_marked_on_policy():
    task = TableTask("AB", 4)
    torch.manual_seed(0)
    pol = MLPPolicy(task.env.state_dim, task.env.n_fwd, task.env.n_bwd, hidden=8)
    beta = torch.ones(20000)
    g = torch.Generator().manual_seed(0)
    assert bool(sample_forward(task.env, pol, beta, 0.0, gen=g).on_policy.all())
    assert not bool(sample_forward(task.env, pol, beta, 1.0, gen=g).on_policy.any())
    t = sample_forward(task.env, pol, beta, 0.1, gen=g)
    frac = float(t.on_policy.float().mean())
    assert abs(frac - 0.9**4) < 0.02  # each of the 4 steps explores with probability 0.1
    # the rows kept as on-policy are distributed as P_F itself (fixed length: exploration-free
    # probability is the same for every trajectory)
    kept = t.terminals[t.on_policy]
    freq = torch.bincount(task.env.index(kept), minlength=16).double() / kept.shape[0]
    p = exact_marginal(task.env, pol)
    assert float((freq - p).abs().sum()) < 0.06  # Monte Carlo L1 at ~13,000 samples: ~0.03

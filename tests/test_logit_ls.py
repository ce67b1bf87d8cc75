"""Temperature conditioning (Logit-GFN) and local search (LS-GFN) against exact targets."""

import pytest
import torch

from molgfn.config import TrainConfig
from molgfn.exact import exact_marginal, l1_distance, target_distribution
from molgfn.local_search import local_search_step
from molgfn.policies import MLPPolicy
from molgfn.sampling import sample_backward
from molgfn.trainer import Trainer

from .helpers import TableTask


def test_logit_scaling_multiplies_every_forward_logit():
    torch.manual_seed(0)
    pol = MLPPolicy(20, 8, 2, hidden=16, conditioning="logit")
    x = torch.randn(5, 20)
    b1, b2 = torch.full((5,), 1.0), torch.full((5,), 3.0)
    o1, o2 = pol(x, b1), pol(x, b2)
    g1, g2 = pol.scaler(b1), pol.scaler(b2)
    # f(s) is shared: logits / g(beta) must be the same at both temperatures, for every entry
    assert torch.allclose(o1.fwd_logits / g1[:, None], o2.fwd_logits / g2[:, None], atol=1e-5)
    assert not torch.allclose(o1.fwd_logits, o2.fwd_logits)
    assert torch.equal(o1.bwd_logits, o2.bwd_logits)  # P_B is not conditioned


@pytest.mark.slow  # statistical: trained until it matches the exact target
def test_sampling_at_beta_matches_target_at_beta():
    task = TableTask("AB", 4, seed=3, spread=2.0)
    cfg = TrainConfig(task="table", rounds=600, batch_size=64, replay_size=0, grad_steps=1, lr=3e-3,
                      lr_logz=1e-2, epsilon=0.0, hidden=64, conditioning="logit", beta_dist="uniform:1,3",
                      seed=0, device="cpu")
    tr = Trainer(cfg, task)
    tr.train()
    logr = task.log_reward(task.table)
    for beta in (1.0, 2.0, 3.0):
        p = exact_marginal(task.env, tr.policy, beta)
        l1 = l1_distance(p, target_distribution(logr, beta))
        print(beta, l1)
        assert l1 < 0.05, (beta, l1)


def _pi_samples(task, beta, n, gen):
    pi = target_distribution(task.log_reward(task.table), beta)
    idx = torch.multinomial(pi.float(), n, replacement=True, generator=gen)
    return pi, task.env.all_objects()[idx]


def _one_ls_step(task, policy, x, beta, filt, k, gen):
    env = task.env
    b = torch.full((x.shape[0],), beta)
    cur = sample_backward(env, policy, x, b, gen=gen).with_reward(task.log_reward(task.score_tokens(x)))

    def evaluate(t):
        return task.log_reward(task.score_tokens(t))

    _, new, acc = local_search_step(env, policy, evaluate, cur, k, filt, gen)
    return new, acc


def _empirical(task, x):
    return torch.bincount(task.env.index(x), minlength=task.env.num_objects).double() / x.shape[0]


@pytest.mark.slow  # statistical: long Metropolis-Hastings chains against the exact target
def test_mh_local_search_leaves_target_invariant():
    # If x ~ R^beta/Z, one MH (or Barker) step with any policy must leave x ~ R^beta/Z.
    task = TableTask("AB", 4, seed=4, spread=3.0)
    torch.manual_seed(1)
    policy = MLPPolicy(task.env.state_dim, task.env.n_fwd, task.env.n_bwd, hidden=16)  # random, untrained
    gen = torch.Generator().manual_seed(0)
    n = 200_000
    for filt, beta in (("mh", 1.0), ("mh", 2.0), ("barker", 1.0)):
        pi, x = _pi_samples(task, beta, n, gen)
        new, acc = _one_ls_step(task, policy, x, beta, filt, 2, gen)
        moved = (new.terminals != x).any(1).float().mean()
        assert 0.05 < float(moved) < 0.95  # the chain does move: the test has teeth
        # Monte Carlo L1 of a 16-cell histogram at n=2e5 is ~0.01; an invalid ratio gives far more
        assert l1_distance(_empirical(task, new.terminals), pi) < 0.02, filt


def test_mh_local_search_leaves_target_invariant_with_a_skewed_backward_policy():
    # The test above has a random policy whose P_B is near uniform over its two moves, so an MH ratio
    # without the log P_B terms passes it too. Here P_B removes the first token with probability ~0.98
    # (a +-2 bias on the backward logits): the P_B terms of the ratio no longer cancel, and without
    # them one step moves the histogram ~0.07 (L1) away from R/Z instead of the Monte Carlo ~0.01.
    task = TableTask("AB", 4, seed=4, spread=3.0)
    torch.manual_seed(1)
    policy = MLPPolicy(task.env.state_dim, task.env.n_fwd, task.env.n_bwd, hidden=16)
    assert policy.n_bwd == 2
    with torch.no_grad():
        policy.head.bias[policy.n_fwd : policy.n_fwd + 2] += torch.tensor([2.0, -2.0])
        x0 = task.env.all_objects()
        pb = torch.softmax(policy(task.env.encode(x0), torch.ones(len(x0))).bwd_logits, -1)
    assert float(pb.max(1).values.min()) > 0.9  # far from uniform in every state
    gen = torch.Generator().manual_seed(0)
    for filt in ("mh", "barker"):
        pi, x = _pi_samples(task, 1.0, 100_000, gen)
        new, acc = _one_ls_step(task, policy, x, 1.0, filt, 2, gen)
        moved = (new.terminals != x).any(1).float().mean()
        assert 0.05 < float(moved) < 0.95
        assert l1_distance(_empirical(task, new.terminals), pi) < 0.02, filt


def test_greedy_filter_is_not_invariant_and_never_lowers_reward():
    task = TableTask("AB", 4, seed=4, spread=3.0)
    torch.manual_seed(1)
    policy = MLPPolicy(task.env.state_dim, task.env.n_fwd, task.env.n_bwd, hidden=16)
    gen = torch.Generator().manual_seed(0)
    pi, x = _pi_samples(task, 1.0, 200_000, gen)
    new, acc = _one_ls_step(task, policy, x, 1.0, "greedy", 2, gen)
    before = task.score_tokens(x)
    after = task.score_tokens(new.terminals)
    assert bool((after >= before).all())
    assert bool((after[acc] >= before[acc]).all()) and acc.any()
    assert l1_distance(_empirical(task, new.terminals), pi) > 0.05  # greedy moves mass uphill


def test_greedy_accepts_ties_and_greedy_strict_does_not():
    """A table where every object has the same score: every proposal is a tie."""
    task = TableTask("AB", 4, seed=4, spread=0.0)
    torch.manual_seed(1)
    policy = MLPPolicy(task.env.state_dim, task.env.n_fwd, task.env.n_bwd, hidden=16)
    gen = torch.Generator().manual_seed(0)
    x = task.env.all_objects().repeat(8, 1)
    new, acc = _one_ls_step(task, policy, x, 1.0, "greedy", 2, gen)
    assert bool(acc.all()) and bool((new.terminals != x).any(1).any())  # ties accepted, chains move
    new, acc = _one_ls_step(task, policy, x, 1.0, "greedy-strict", 2, gen)
    assert not bool(acc.any()) and torch.equal(new.terminals, x)  # ties rejected, chains stay


def test_local_search_round_spends_batch_size_reward_calls():
    task = TableTask("AB", 6, seed=0)
    cfg = TrainConfig(task="table", rounds=3, batch_size=32, local_search=True, ls_iterations=7, device="cpu")
    tr = Trainer(cfg, task)
    tr.train()
    assert tr.reward_calls == 3 * 32
    assert 0.0 <= tr.metrics[-1]["ls_accept"] <= 1.0

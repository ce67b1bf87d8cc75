"""The sequence fast paths (issue 11) compute exactly what the general code computes: the
table-driven ``step_at`` against ``step``, the identity-lookup encoding against one_hot, the
policy's functional forward logits against ``forward``, and the lockstep sampler against the
plain rule (Gumbel-max, then an exploring row takes its uniform draw) replayed from the same
random numbers."""

import pytest
import torch
import torch.nn.functional as F

from molgfn.envs import SequenceEnv
from molgfn.policies import MLPPolicy
from molgfn.sampling import sample_forward


@pytest.mark.parametrize("append_only", [False, True])
def test_step_at_equals_step_for_every_action(append_only):
    env = SequenceEnv("ACG", 5, append_only)
    g = torch.Generator().manual_seed(0)
    s = env.initial(64)
    for t in range(env.length):
        every = torch.arange(env.n_fwd).repeat(64 // env.n_fwd + 1)[:64]  # each action on some row
        for a in (every, torch.randint(env.n_fwd, (64,), generator=g)):
            assert torch.equal(env.step_at(s, a, t), env.step(s, a))
        s = env.step(s, torch.randint(env.n_fwd, (64,), generator=g))


def test_encode_is_the_flat_one_hot_and_rejects_bad_tokens():
    env = SequenceEnv("ACGT", 6)
    tok = torch.randint(0, env.A + 1, (7, 3, 6), generator=torch.Generator().manual_seed(1))
    assert torch.equal(env.encode(tok), F.one_hot(tok, env.A + 1).flatten(-2).float())
    with pytest.raises(IndexError):
        env.encode(torch.full((1, 6), env.A + 1))


@pytest.mark.parametrize("conditioning", ["none", "logit", "layer"])
def test_forward_logits_equal_forward(conditioning):
    torch.manual_seed(0)
    pol = MLPPolicy(30, 8, 2, hidden=16, n_layers=3, conditioning=conditioning, flow_head=True)
    x, beta = torch.randn(11, 30), torch.rand(11) + 0.5
    assert torch.equal(pol.forward_logits(x, beta), pol(x, beta).fwd_logits)


def test_forward_logits_defers_to_forward_when_the_policy_has_more():
    # a submodule the fast path does not know about (e.g. a new conditioning input) must not be skipped
    torch.manual_seed(0)
    pol = MLPPolicy(30, 8, 2, hidden=16)
    pol.extra = torch.nn.Linear(1, 1)
    calls = []
    pol.register_forward_hook(lambda m, i, o: calls.append(1))
    x, beta = torch.randn(5, 30), torch.ones(5)
    assert torch.equal(pol.forward_logits(x, beta), pol(x, beta).fwd_logits) and len(calls) == 2


@pytest.mark.parametrize("epsilon", [0.0, 0.3])
def test_lockstep_rollout_replays_the_plain_rule(epsilon):
    env = SequenceEnv("ACGT", 5)
    torch.manual_seed(0)
    pol = MLPPolicy(env.state_dim, env.n_fwd, env.n_bwd, hidden=16)
    n, T = 300, env.length
    beta = torch.ones(n)
    t = sample_forward(env, pol, beta, epsilon, gen=torch.Generator().manual_seed(5))
    # the same draws, in the sampler's order, used the textbook way
    g = torch.Generator().manual_seed(5)
    gumbel = -torch.log(-torch.log(torch.rand((T, n, env.n_fwd), generator=g).clamp(1e-20, 1.0)))
    coin = torch.rand((T, n), generator=g) < epsilon if epsilon > 0 else torch.zeros((T, n), dtype=torch.bool)
    uniform = torch.randint(0, env.n_fwd, (T, n), generator=g) if epsilon > 0 else torch.zeros((T, n), dtype=torch.long)
    s = env.initial(n)
    with torch.no_grad():
        for k in range(T):
            a = torch.where(coin[k], uniform[k], (pol(env.encode(s), beta).fwd_logits + gumbel[k]).argmax(-1))
            assert torch.equal(t.fwd_actions[:, k], a)
            s = env.step(s, a)
    assert torch.equal(t.terminals, s)
    assert not any(x.is_inference() for x in (t.states, t.fwd_actions, t.bwd_actions, t.on_policy))  # editable
    assert torch.equal(t.on_policy, ~coin.any(0))
    if epsilon > 0:
        assert bool(coin.any())  # the exploration branch was exercised

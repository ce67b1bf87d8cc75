"""The sequence fast paths (issue 11) compute exactly what the general code computes: the
table-driven ``lockstep_step`` against ``step``, the identity-lookup encoding against one_hot, the
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
def test_lockstep_step_equals_step_for_every_action(append_only):
    env = SequenceEnv("ACG", 5, append_only)
    g = torch.Generator().manual_seed(0)
    s = env.initial(64)
    step = env.lockstep_step(64, "cpu")
    for t in range(env.length):
        every = torch.arange(env.n_fwd).repeat(64 // env.n_fwd + 1)[:64]  # each action on some row
        for a in (every, torch.randint(env.n_fwd, (64,), generator=g)):
            assert torch.equal(step(s, a, t), env.step(s, a))
        s = env.step(s, torch.randint(env.n_fwd, (64,), generator=g))


@pytest.mark.parametrize("append_only", [False, True])
def test_lockstep_back_equals_backward_step_for_every_action(append_only):
    env = SequenceEnv("ACG", 5, append_only)
    g = torch.Generator().manual_seed(0)
    s = env.all_objects()[torch.randint(env.num_objects, (64,), generator=g)]
    back = env.lockstep_back(64, "cpu")
    for t in range(env.length, 0, -1):
        every = torch.arange(env.n_bwd).repeat(64 // env.n_bwd)
        for b in (every, torch.randint(env.n_bwd, (64,), generator=g)):
            assert torch.equal(back(s, b, t), env.backward_step(s, b))
        s = env.backward_step(s, torch.randint(env.n_bwd, (64,), generator=g))


def test_encode_is_the_flat_one_hot_and_rejects_bad_tokens():
    env = SequenceEnv("ACGT", 6)
    tok = torch.randint(0, env.A + 1, (7, 3, 6), generator=torch.Generator().manual_seed(1))
    assert torch.equal(env.encode(tok), F.one_hot(tok, env.A + 1).flatten(-2).float())
    with pytest.raises(IndexError):
        env.encode(torch.full((1, 6), env.A + 1))


@pytest.mark.parametrize("conditioning", ["none", "logit", "layer"])
@pytest.mark.parametrize("n_prefs", [0, 2])
def test_rollout_logits_equal_forward(conditioning, n_prefs):
    torch.manual_seed(0)
    pol = MLPPolicy(30, 8, 2, hidden=16, n_layers=3, conditioning=conditioning, flow_head=True, n_prefs=n_prefs)
    x, beta = torch.randn(11, 30), torch.rand(11) + 0.5
    if n_prefs:
        beta = torch.cat([beta[:, None], torch.rand(11, n_prefs).softmax(-1)], 1)
    out = pol(x, beta)
    assert torch.equal(pol.rollout_logits(beta)(x), out.fwd_logits)
    assert torch.equal(pol.rollout_logits(beta, backward=True)(x), out.bwd_logits)
    # with gradients on (outside a rollout) they flow as through forward
    pol.zero_grad()
    pol.rollout_logits(beta)(x).square().sum().backward()
    fast = [p.grad.clone() if p.grad is not None else None for p in pol.parameters()]
    pol.zero_grad()
    pol(x, beta).fwd_logits.square().sum().backward()
    for a, b in zip(fast, [p.grad for p in pol.parameters()], strict=True):
        assert (a is None) == (b is None) and (a is None or torch.allclose(a, b, atol=1e-6))
    uniform = MLPPolicy(30, 8, 2, hidden=16, conditioning=conditioning, uniform_pb=True)
    assert torch.equal(uniform.rollout_logits(beta[:, 0] if n_prefs else beta, backward=True)(x), torch.zeros(11, 2))


def test_rollout_logits_defer_to_forward_when_the_policy_has_more():
    # a submodule the fast path does not know about (e.g. a new conditioning input) must not be skipped
    torch.manual_seed(0)
    pol = MLPPolicy(30, 8, 2, hidden=16)
    pol.extra = torch.nn.Linear(1, 1)
    calls = []
    pol.register_forward_hook(lambda m, i, o: calls.append(1))
    x, beta = torch.randn(5, 30), torch.ones(5)
    assert torch.equal(pol.rollout_logits(beta)(x), pol(x, beta).fwd_logits) and len(calls) == 2


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


@pytest.mark.parametrize("conditioning", ["none", "logit"])
def test_lockstep_rollout_from_a_start_replays_the_plain_rule(conditioning):
    # local search rebuilds the last K steps from states that all have length L - K
    env = SequenceEnv("ACGT", 6)
    torch.manual_seed(0)
    pol = MLPPolicy(env.state_dim, env.n_fwd, env.n_bwd, hidden=16, conditioning=conditioning)
    n, K = 200, 4
    beta = torch.rand(n) + 1.0
    start = sample_forward(env, pol, beta, 0.0, gen=torch.Generator().manual_seed(1)).states[:, env.length - K]
    t = sample_forward(env, pol, beta, 0.0, start=start, steps=K, gen=torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    gumbel = -torch.log(-torch.log(torch.rand((K, n, env.n_fwd), generator=g).clamp(1e-20, 1.0)))
    s = start
    with torch.no_grad():
        for k in range(K):
            a = (pol(env.encode(s), beta).fwd_logits + gumbel[k]).argmax(-1)
            assert torch.equal(t.fwd_actions[:, k], a)
            s = env.step(s, a)
            assert torch.equal(t.states[:, k + 1], s)
    assert torch.equal(t.states[:, 0], start) and torch.equal(t.bwd_actions, env.backward_of(t.fwd_actions))


@pytest.mark.parametrize("append_only", [False, True])
def test_lockstep_backward_rollout_replays_the_plain_rule(append_only):
    from molgfn.sampling import sample_backward

    env = SequenceEnv("ACGT", 5, append_only)
    torch.manual_seed(0)
    pol = MLPPolicy(env.state_dim, env.n_fwd, env.n_bwd, hidden=16, conditioning="logit")
    n, T = 300, env.length
    beta = torch.rand(n) + 1.0
    x = env.all_objects()[torch.randint(env.num_objects, (n,), generator=torch.Generator().manual_seed(2))]
    t = sample_backward(env, pol, x, beta, gen=torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    gumbel = -torch.log(-torch.log(torch.rand((T, n, env.n_bwd), generator=g).clamp(1e-20, 1.0)))
    s = x
    with torch.no_grad():
        for k in range(T):  # the textbook rule, from the terminal back to s_0
            b = (pol(env.encode(s), beta).bwd_logits + gumbel[k]).argmax(-1)
            assert torch.equal(t.bwd_actions[:, T - 1 - k], b)
            assert torch.equal(t.fwd_actions[:, T - 1 - k], env.forward_of(s, b))
            s = env.backward_step(s, b)
            assert torch.equal(t.states[:, T - 1 - k], s)
    assert torch.equal(s, env.initial(n)) and torch.equal(t.terminals, x)
    assert not any(v.is_inference() for v in (t.states, t.fwd_actions, t.bwd_actions))


def test_lockstep_backward_rollout_samples_p_b():
    # the frequency of each backward action sequence from one terminal against its exact probability,
    # prod_t P_B(b_t | s_t) from the masked softmax of the general path
    from itertools import product

    from molgfn.sampling import sample_backward
    from molgfn.trajectories import masked_log_softmax

    env = SequenceEnv("AB", 3)
    torch.manual_seed(3)
    pol = MLPPolicy(env.state_dim, env.n_fwd, env.n_bwd, hidden=16)
    n = 40000
    x = env.from_strings(["ABB"]).expand(n, -1)
    t = sample_backward(env, pol, x, torch.ones(n), gen=torch.Generator().manual_seed(0))
    code = (t.bwd_actions * torch.tensor([4, 2, 1])).sum(1)
    freq = torch.bincount(code, minlength=8).double() / n
    exact = torch.zeros(8, dtype=torch.float64)
    with torch.no_grad():
        for seq in product((0, 1), repeat=3):  # backward actions in forward order: b_0, b_1, b_2
            s, logp = env.from_strings(["ABB"]), 0.0
            for b in reversed(seq):  # sampled from the terminal down
                lp = masked_log_softmax(pol(env.encode(s), torch.ones(1)).bwd_logits, env.backward_mask(s))
                logp += float(lp[0, b])
                s = env.backward_step(s, torch.tensor([b]))
            exact[seq[0] * 4 + seq[1] * 2 + seq[2]] = float(torch.tensor(logp).exp())
    assert abs(float(exact.sum()) - 1.0) < 1e-6
    assert float((freq - exact).abs().sum()) < 0.03  # Monte Carlo L1 at 40,000 samples: ~0.01

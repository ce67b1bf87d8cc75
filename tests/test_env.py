import itertools

import pytest
import torch

from molgfn.envs import SequenceEnv


@pytest.mark.parametrize("append_only", [False, True])
def test_backward_undoes_forward(append_only):
    env = SequenceEnv("ACGT", 5, append_only)
    g = torch.Generator().manual_seed(0)
    s = env.initial(500)
    for _ in range(env.length):
        a = torch.randint(env.n_fwd, (500,), generator=g)
        nxt = env.step(s, a)
        b = env.backward_of(a)
        assert torch.equal(env.backward_step(nxt, b), s)
        assert torch.equal(env.forward_of(nxt, b), a)
        assert torch.equal(env.lengths(nxt), env.lengths(s) + 1)
        s = nxt
    assert env.forward_mask(s).sum() == 0  # stop is forced at length L
    assert env.backward_mask(env.initial(3)).sum() == 0


def test_prepend_append_semantics_against_strings():
    env = SequenceEnv("ACGT", 4)
    s = env.initial(1)
    ref = ""
    for a in [1, 4 + 2, 3, 4 + 0]:  # prepend C, append G, prepend T, append A
        s = env.step(s, torch.tensor([a]))
        ref = env.alphabet[a] + ref if a < 4 else ref + env.alphabet[a - 4]
        assert env.to_strings(s) == [ref]
    assert ref == "TCGA"
    assert env.to_strings(env.backward_step(s, torch.tensor([0]))) == ["CGA"]
    assert env.to_strings(env.backward_step(s, torch.tensor([1]))) == ["TCG"]


def test_every_object_reachable_and_index_roundtrip():
    env = SequenceEnv("AB", 3)
    objs = env.all_objects()
    assert objs.shape == (8, 3)
    assert env.to_strings(objs) == ["".join(p) for p in itertools.product("AB", repeat=3)]
    assert torch.equal(env.index(objs), torch.arange(8))
    assert torch.equal(env.from_strings(env.to_strings(objs)), objs)


def test_number_of_action_paths_matches_combinatorics():
    # every object of length L is built by 2^(L-1) distinct prepend/append action sequences
    env = SequenceEnv("AB", 4)
    counts: dict[str, int] = {}
    for seq in itertools.product(range(env.n_fwd), repeat=env.length):
        s = env.initial(1)
        for a in seq:
            s = env.step(s, torch.tensor([a]))
        k = env.to_strings(s)[0]
        counts[k] = counts.get(k, 0) + 1
    assert len(counts) == 2**4
    assert set(counts.values()) == {2**env.length}  # (2A)^L sequences / A^L objects


def test_from_strings_rejects_bad_input():
    env = SequenceEnv("ACGT", 4)
    with pytest.raises(ValueError, match="row 1: 'ACGN'"):
        env.from_strings(["ACGT", "ACGN", "ACG"])


def test_lockstep_scoring_equals_the_masked_softmax():
    # whole trajectories of a lockstep env are scored without masks; the log-probs must not change
    from molgfn.policies import MLPPolicy
    from molgfn.sampling import sample_forward
    from molgfn.trajectories import transition_logprobs

    for append_only in (False, True):
        env = SequenceEnv("ACGT", 5, append_only)
        torch.manual_seed(0)
        pol = MLPPolicy(env.state_dim, env.n_fwd, env.n_bwd, hidden=32, conditioning="logit")
        beta = torch.rand(64) * 2 + 0.5
        t = sample_forward(env, pol, beta, epsilon=0.2, gen=torch.Generator().manual_seed(1))
        assert bool((env.lengths(t.terminals) == 5).all())
        with torch.no_grad():
            fast = transition_logprobs(env, pol, t.states, t.fwd_actions, t.bwd_actions, beta)
            object.__setattr__(env, "lockstep", False)  # force the general, masked path
            slow = transition_logprobs(env, pol, t.states, t.fwd_actions, t.bwd_actions, beta)
        assert torch.allclose(fast[0], slow[0], atol=1e-6) and torch.allclose(fast[1], slow[1], atol=1e-6)
        # and the lockstep sampler's states follow the env's own step function
        for k in range(5):
            assert torch.equal(env.step(t.states[:, k], t.fwd_actions[:, k]), t.states[:, k + 1])

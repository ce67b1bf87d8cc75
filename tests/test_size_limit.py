"""A heavy-atom limit in the fragment environment (``max_heavy_atoms``; xtb-gap's oracle size).

Actions that would pass the limit are masked: every state built is within it, stop stays
reachable, P_F and P_B live on the masked space (exact enumeration on a tiny vocabulary), the
factorised sampler agrees with the dense mask, and a training run with replay and local search
asks its oracle about no molecule over the limit."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from rdkit import Chem

from molgfn.config import TrainConfig
from molgfn.envs.fragment_exact import exact_terminal_distribution
from molgfn.envs.fragments import FragmentEnv, load_vocab
from molgfn.errors import InputError
from molgfn.fragtask import FragmentTask
from molgfn.gnn import FragmentGNNPolicy
from molgfn.trainer import Trainer
from molgfn.trajectories import masked_log_softmax
from tests.fragment_helpers import hashed_raw, random_rollout, write_vocab

QM9_BLOCKS = Path(__file__).resolve().parents[1] / "data" / "qm9_blocks.json"


def heavy(smiles: str) -> int:
    return Chem.MolFromSmiles(smiles).GetNumHeavyAtoms()


def test_mask_keeps_every_state_within_the_limit_and_stop_allowed(tmp_path):
    vocab = load_vocab(str(write_vocab(tmp_path)))  # benzene (6 heavy atoms), CO (2), N (1)
    env = FragmentEnv(vocab, 4, max_heavy_atoms=8)
    traj = random_rollout(env, 120, 0)
    s = traj.reshape(-1, traj.shape[-1])
    smiles = env.to_strings(s)
    assert max(heavy(x) for x in smiles if x) == 8  # the limit is reached, never passed
    assert torch.equal(env.heavy_atoms(s), torch.tensor([heavy(x) if x else 0 for x in smiles]))
    live = (s[:, -1] == 0) & (env.num_blocks(s) >= 1)
    assert bool(env.forward_mask(s)[live, 0].all())  # stop is allowed in every non-empty live state
    assert bool((traj[:, -1, -1] == 1).all())  # every rollout reached a terminal state
    # each step is undone by a valid backward action, and that backward action's forward move is valid
    for t in range(traj.shape[1] - 1):
        a, b = traj[:, t], traj[:, t + 1]
        real = (a != b).any(1)
        bm = env.backward_mask(b)
        for r in real.nonzero()[:, 0].tolist():
            acts = bm[r].nonzero()[:, 0]
            back = env.backward_step(b[r : r + 1].expand(len(acts), -1), acts)
            assert any(torch.equal(x, a[r]) for x in back)
            fwd = env.forward_of(b[r : r + 1].expand(len(acts), -1), acts)
            assert bool(env.forward_valid(back, fwd).all())  # every parent reaches b by a valid move
    with pytest.raises(InputError, match="max_heavy_atoms=0"):
        FragmentEnv(vocab, 4, max_heavy_atoms=0)


def test_exact_terminals_are_the_unlimited_ones_within_the_limit(tmp_path):
    vocab = load_vocab(str(write_vocab(tmp_path)))
    torch.manual_seed(0)
    full, lim = FragmentEnv(vocab, 3), FragmentEnv(vocab, 3, max_heavy_atoms=8)
    p_full, rows_full = exact_terminal_distribution(full, FragmentGNNPolicy(full, hidden=16, n_layers=1).eval())
    p_lim, rows_lim = exact_terminal_distribution(lim, FragmentGNNPolicy(lim, hidden=16, n_layers=1).eval())
    within = {k for k, r in rows_full.items() if int(full.heavy_atoms(r[None])[0]) <= 8}
    assert 0 < len(within) < len(p_full)  # the limit removes some terminal states, not all
    assert set(p_lim) == within  # and only those: every terminal within the limit stays reachable
    assert abs(sum(p_lim.values()) - 1) < 1e-9  # P_F puts all its mass on the masked space


@pytest.mark.parametrize("epsilon", [0.0, 1.0])
def test_factorised_sampler_and_log_probs_respect_the_limit(tmp_path, epsilon):
    env = FragmentEnv(load_vocab(str(QM9_BLOCKS)), 5, max_heavy_atoms=9)
    torch.manual_seed(0)
    pol = FragmentGNNPolicy(env, hidden=16, n_layers=1).eval()
    traj = random_rollout(env, 64, 3)
    s = traj.reshape(-1, traj.shape[-1])
    s = s[s[:, -1] == 0]
    beta = torch.ones(s.shape[0])
    with torch.no_grad():
        dense = pol(s, beta)
        sp = pol.sparse_forward(s, beta)
        a, _ = sp.sample(epsilon, torch.Generator().manual_seed(1))
    mask = env.forward_mask(s)
    lp = masked_log_softmax(dense.fwd_logits, mask)
    r, act = mask.nonzero(as_tuple=True)
    assert torch.allclose(sp.fwd_logprob(act, r), lp[r, act], atol=1e-5)
    total = torch.zeros(len(s)).index_add_(0, r, sp.fwd_logprob(act, r).exp())
    assert torch.allclose(total, torch.ones(len(s)), atol=1e-5)  # P_F sums to 1 over the mask
    assert bool(mask.gather(1, a[:, None]).all())  # sampled (and uniformly explored) actions are valid
    assert bool((env.heavy_atoms(env.step(s, a)) <= 9).all())


class SizeLimitedTask(FragmentTask):
    """A cheap task with xtb-gap's setting: QM9 blocks, at most 9 heavy atoms; records what it scores."""

    name = "size-limited-frag"
    reward_exponent = 1.0
    raw_floor = 1e-6
    max_heavy_atoms = 9

    def __init__(self, **kw) -> None:
        super().__init__(vocab=str(QM9_BLOCKS), **kw)
        self.asked: list[str] = []

    def raw_scores(self, smiles: list[str]) -> list[float]:
        self.asked += smiles
        return [hashed_raw(s) for s in smiles]


def test_training_spends_no_reward_call_over_the_limit():
    task = SizeLimitedTask(max_blocks=6)
    cfg = TrainConfig(task=task.name, rounds=3, batch_size=18, replay_size=6, local_search=True, ls_iterations=2,
                      hidden=16, n_layers=1, epsilon=0.2, device="cpu", seed=0)
    tr = Trainer(cfg, task)
    tr.train()
    assert len(task.asked) > 30 and max(heavy(s) for s in task.asked) <= 9
    assert max(heavy(s) for s in task.env.to_strings(tr.sample(64))) <= 9
    # without the limit the same blocks and sizes make larger molecules at once
    unlimited = FragmentEnv(task.env.vocab, 6)
    assert max(heavy(s) for s in unlimited.to_strings(random_rollout(unlimited, 64, 0)[:, -1])) > 9


def test_xtb_gap_sets_its_oracle_limit_in_the_environment():
    if importlib.util.find_spec("tblite") is None:
        pytest.skip('tblite is not installed: pip install "molgfn[xtb]"')
    from molgfn.tasks import get_task
    from molgfn.tasks.xtb_gap import MAX_HEAVY

    t = get_task("xtb-gap")
    try:
        assert t.env.max_heavy_atoms == MAX_HEAVY == 9
        x = random_rollout(t.env, 200, 0)[:, -1]
        assert max(heavy(s) for s in t.env.to_strings(x)) <= MAX_HEAVY
    finally:
        t.close()


def test_resuming_a_run_logged_without_the_limit_drops_replay_objects_out_of_reach(tmp_path):
    # a run made before its task had a size limit: its replay buffer holds larger molecules, whose backward
    # trajectories take masked forward actions (log P_F = -1e9): they are dropped when the logs are replayed
    cfg = TrainConfig(task="size-limited-frag", rounds=2, batch_size=16, replay_size=8, hidden=16, n_layers=1,
                      device="cpu", seed=0, checkpoint_every=1)
    old = Trainer(cfg, SizeLimitedTask(max_blocks=6, max_heavy_atoms=99), tmp_path)
    old.train()
    n = old.buffer.size
    assert not bool(Trainer(cfg, SizeLimitedTask(max_blocks=6), None).env.within_limits(old.buffer.objects[:n]).all())
    cfg.rounds = 3
    new = Trainer(cfg, SizeLimitedTask(max_blocks=6), tmp_path)
    assert new.resume() and new.round == 2
    kept = new.buffer.objects[: new.buffer.size]
    assert 0 < new.buffer.size < n and bool(new.env.within_limits(kept).all())
    new.train()
    assert new.round == 3 and all(np.isfinite(r["loss"]) for r in new.metrics)


class FilteredQM9Task(SizeLimitedTask):
    name = "filtered-qm9-frag"
    max_heavy_atoms = None


def test_blocks_with_their_own_alert_are_masked_and_every_molecule_holding_one_fails():
    from molgfn.chem.descriptors import failed_filters, mol_from_smiles

    task = FilteredQM9Task(max_blocks=4, filters="brenk")
    env = task.env
    names = {task.env.vocab.smiles[b] for b in env.blocked}
    assert {"C#C", "C1CO1"} <= names and "c1ccccc1" not in names  # alkyne, epoxide: alerts in any context
    assert "C=C" not in names  # an "isolated alkene" is no longer isolated next to an aryl: left to the filter
    assert FilteredQM9Task(max_blocks=4).env.blocked == ()  # no filter, no mask
    assert FilteredQM9Task(max_blocks=4, filters="lipinski").env.blocked == ()  # rules are not block alerts
    x = random_rollout(env, 200, 0)
    assert not bool(torch.isin(x[:, :, : env.M], torch.tensor(env.blocked)).any())
    assert bool(env.within_limits(x[:, -1]).all())
    # the mask drops only molecules the filter rejects: in the unmasked space, every one holding a blocked block fails
    full = FragmentEnv(env.vocab, 4)
    y = random_rollout(full, 300, 1)[:, -1]
    held = torch.isin(y[:, : full.M], torch.tensor(env.blocked)).any(1)
    smiles = full.to_strings(y[held])
    assert len(smiles) > 100
    assert all(failed_filters(mol_from_smiles(s), ("brenk",)) for s in smiles)


def test_a_seed_molecule_over_the_limit_is_refused_with_its_reason(tmp_path):
    # a seed's backward trajectory would need actions the mask forbids (its loss ~1e17 every round): refused
    from molgfn.seeding import decompose

    small = FragmentEnv(load_vocab(QM9_BLOCKS), 6)
    limited = FragmentEnv(small.vocab, 6, max_heavy_atoms=9)
    rows = random_rollout(small, 64, 3)[:, -1]
    smiles = small.to_strings(rows)
    big = next(s for s in smiles if heavy(s) > 9)
    fits = next(s for s in smiles if heavy(s) <= 9 and s)
    assert decompose(big, small).row is not None  # expressible without the limit
    d = decompose(big, limited)
    assert d.row is None and "> max_heavy_atoms 9" in d.reason
    assert decompose(fits, limited).row is not None


# -- the rule-of-five bounds (MW, N + O): additive properties masked like the heavy-atom limit ----------------

def _ro5(smiles: str) -> tuple[float, int]:
    from rdkit.Chem import Descriptors, rdMolDescriptors

    mol = Chem.MolFromSmiles(smiles)
    return Descriptors.MolWt(mol), rdMolDescriptors.CalcNumLipinskiHBA(mol)


def _seh_vocab():
    from .conftest import need_assets

    need_assets("seh-frag-blocks")  # skipped without it (failed where CI demands the assets)
    return load_vocab(None)


def test_additive_properties_match_rdkit_from_below_on_random_molecules():
    vocab = _seh_vocab()
    env = FragmentEnv(vocab, 8, bounds=((("mol_weight", 1e9),), (("hba", 1e9),)))
    s = random_rollout(env, 200, 0)[:, -1]
    props = env.properties(s)  # columns in sorted order: hba, mol_weight
    true = np.array([_ro5(x) for x in env.to_strings(s)])
    assert np.array_equal(props[:, 0].numpy(), true[:, 1])  # N + O is exactly additive
    gap = true[:, 0] - props[:, 1].numpy()  # a join removes at most one H per side: a lower bound
    assert gap.min() > -1e-6 and np.median(np.abs(gap)) < 1e-6 and gap.max() < 8 * 2 * 1.0081


@pytest.mark.parametrize("rule", ["lipinski", "ro5-strict"])
def test_rule_bounds_mask_only_molecules_the_rule_rejects(rule):
    from molgfn.fragtask import rule_bounds

    vocab = _seh_vocab()
    free, bounded = FragmentEnv(vocab, 8), FragmentEnv(vocab, 8, bounds=rule_bounds((rule,)))

    def over(mw: float, hba: int) -> bool:
        return (mw > 500 and hba > 10) if rule == "lipinski" else (mw > 500 or hba > 10)

    # molecules built without the mask: the mask keeps exactly those within the rule (up to the few Da of a
    # bracket atom's kept hydrogen, never the other way: no molecule inside the rule is masked)
    s = random_rollout(free, 300, 1)[:, -1]
    flags = [over(*_ro5(x)) for x in free.to_strings(s)]
    kept = bounded.within_limits(s).tolist()
    assert sum(flags) > 10  # the random molecules do cross the limits
    assert all(k for k, f in zip(kept, flags, strict=True) if not f)
    assert sum(not k for k in kept) >= 0.9 * sum(flags)
    # molecules built with the mask: (almost) none over the limits, stop always allowed
    t = random_rollout(bounded, 300, 2)
    assert bool((t[:, -1, -1] == 1).all())
    assert sum(over(*_ro5(x)) for x in bounded.to_strings(t[:, -1])) <= 3


def test_a_seed_molecule_over_a_rule_bound_is_refused_with_its_reason():
    # the same as the heavy-atom seed test, for a bound on an additive property (here MW, on the QM9 blocks)
    from molgfn.seeding import decompose

    free = FragmentEnv(load_vocab(QM9_BLOCKS), 6)
    bounded = FragmentEnv(free.vocab, 6, bounds=((("mol_weight", 100.0),),))
    smiles = [s for s in free.to_strings(random_rollout(free, 64, 3)[:, -1]) if s]
    big = next(s for s in smiles if _ro5(s)[0] > 105)
    fits = next(s for s in smiles if _ro5(s)[0] < 95)
    assert decompose(big, free).row is not None
    d = decompose(big, bounded)
    assert d.row is None and "rule-of-five" in d.reason
    assert decompose(fits, bounded).row is not None


def test_exact_terminals_under_a_bound_are_the_unbounded_ones_inside_it(tmp_path):
    vocab = load_vocab(str(write_vocab(tmp_path)))  # benzene (78 Da), methanol (32), ammonia (17)
    torch.manual_seed(0)
    full, lim = FragmentEnv(vocab, 3), FragmentEnv(vocab, 3, bounds=((("mol_weight", 110.0),),))
    p_full, rows_full = exact_terminal_distribution(full, FragmentGNNPolicy(full, hidden=16, n_layers=1).eval())
    p_lim, _ = exact_terminal_distribution(lim, FragmentGNNPolicy(lim, hidden=16, n_layers=1).eval())
    inside = {k for k, r in rows_full.items() if _ro5(full.to_strings(r[None])[0])[0] <= 110}
    assert 0 < len(inside) < len(p_full)  # the bound removes some terminal states, not all
    assert set(p_lim) == inside  # and exactly those over it, by RDKit's own molecular weight
    assert abs(sum(p_lim.values()) - 1) < 1e-9

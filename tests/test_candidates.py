"""Diverse candidate lists (LeaderPicker in rank order, scaffold caps) and filters as design constraints."""

from __future__ import annotations

import io
import json
import random

import pandas as pd
import pytest
from rdkit import Chem, DataStructs

from molgfn.candidates import candidate_table, diverse_rows
from molgfn.chem import descriptors as D
from molgfn.config import TrainConfig
from molgfn.trainer import Trainer
from tests.fragment_helpers import TinyFragTask, hashed_raw


def _random_molecules(n: int, seed: int = 0) -> list[str]:
    """n distinct small molecules (of 374) in a seeded random order: substituted benzenes,
    pyridines, butanes and piperidines."""
    subs = ["C", "O", "N", "Cl", "F", "C(=O)O", "OC", "CC", "C#N", "N(C)C", "S"]
    cores = ["c1ccc({})cc1{}", "c1cc({})ncc1{}", "C({})CCC{}", "C1CC({})CCN1{}"]
    every = sorted({Chem.MolToSmiles(Chem.MolFromSmiles(c.format(a, b))) for c in cores for a in subs for b in subs})
    random.Random(seed).shuffle(every)
    assert n <= len(every)
    return every[:n]


@pytest.mark.parametrize("t", [0.3, 0.5, 0.7])
def test_leader_picker_keeps_the_rank_order_guarantee(t):
    smiles = _random_molecules(40, seed=int(t * 10))
    fps = D.fingerprints(smiles)
    kept = D.diverse_indices(smiles, t)
    assert kept[0] == 0 and kept == sorted(kept)
    for a, i in enumerate(kept):  # every kept molecule is below t to every better kept one
        assert all(DataStructs.TanimotoSimilarity(fps[i], fps[j]) < t for j in kept[:a])
    for i in set(range(len(smiles))) - set(kept):  # and every dropped one is at or above t to a better kept one
        assert any(DataStructs.TanimotoSimilarity(fps[i], fps[j]) >= t for j in kept if j < i)


def test_leader_picker_ties_at_the_threshold_are_dropped():
    # the pair's own similarity as the threshold: "below t" excludes equality
    a, b = "Oc1ccccc1", "COc1ccccc1"
    s = DataStructs.TanimotoSimilarity(*D.fingerprints([a, b]))
    assert D.diverse_indices([a, b], s) == [0]
    assert D.diverse_indices([a, b], s + 1e-9) == [0, 1]


def test_top_stops_early_with_the_same_answer():
    smiles = _random_molecules(300, seed=3)
    full = D.diverse_indices(smiles, 0.5)
    assert D.diverse_indices(smiles, 0.5, top=5) == full[:5]
    assert D.diverse_indices(smiles, 0.5, top=len(smiles)) == full


def test_scaffold_cap_keeps_the_best_of_each_scaffold():
    smiles = ["c1ccccc1O", "c1ccccc1N", "c1ccncc1C", "c1ccccc1C", "CCO", "c1ccncc1O", "CCN", "CCC"]
    keep = D.cap_per_scaffold(smiles, 2)
    # benzene: rows 0, 1 (row 3 is the third); pyridine: 2, 5; no ring (empty scaffold): 4, 6
    assert keep == [0, 1, 2, 4, 5, 6]
    df = pd.DataFrame({"smiles": smiles, "raw_score": range(8, 0, -1)})
    out = diverse_rows(df, top=None, column="smiles", max_per_scaffold=1, max_similarity=1.0)
    assert out.index.tolist() == [0, 2, 4]


def test_diverse_rows_with_top_equals_the_full_answer_cut():
    smiles = _random_molecules(350, seed=5)
    df = pd.DataFrame({"smiles": smiles})
    for cap, t in ((1, 1.0), (2, 0.5), (0, 0.4)):
        full = diverse_rows(df, None, "smiles", max_similarity=t, max_per_scaffold=cap).index.tolist()
        assert len(full) > 3
        assert diverse_rows(df, 3, "smiles", max_similarity=t, max_per_scaffold=cap).index.tolist() == full[:3]


def test_sequences_keep_the_levenshtein_rule():
    df = pd.DataFrame({"sequence": ["AAAA", "AAAT", "TTTT", "AATT", "TTTA"]})
    assert diverse_rows(df, None, "sequence", min_distance=2).sequence.tolist() == ["AAAA", "TTTT", "AATT"]
    assert diverse_rows(df, 2, "sequence", min_distance=2).sequence.tolist() == ["AAAA", "TTTT"]


# -- filters as constraints ------------------------------------------------------------------
# a tiny vocabulary in which one block carries an aldehyde (a Brenk alert) and one is a benzene
ALDEHYDE_BLOCKS = {
    "block_name": {"0": "benzene", "1": "ethanal", "2": "methyl"},
    "block_smi": {"0": "c1ccccc1", "1": "CC=O", "2": "C"},
    "block_r": {"0": [0, 3], "1": [0], "2": [0]},
}


class CountingTask(TinyFragTask):
    mask_alert_blocks = False  # ethanal's aldehyde would be masked as a block: here the end-of-build filter is checked

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.scored: list[str] = []

    def raw_scores(self, smiles):
        self.scored.extend(smiles)
        return [hashed_raw(s) for s in smiles]


def _tiny_task(tmp_path, filters):
    vocab = tmp_path / "v" / "tiny_blocks.json"
    vocab.parent.mkdir(exist_ok=True)
    vocab.write_text(json.dumps(ALDEHYDE_BLOCKS))
    return CountingTask(max_blocks=3, vocab=str(vocab), filters=filters)


def test_filtered_molecules_get_the_floor_without_an_oracle_call(tmp_path):
    task = _tiny_task(tmp_path, "brenk")
    cfg = TrainConfig(task="tiny-frag", rounds=3, batch_size=32, replay_size=8, grad_steps=1, hidden=16, n_layers=1,
                      seed=0, device="cpu", epsilon=0.5)
    tr = Trainer(cfg, task)
    tr.train()
    seen = [s for s in tr.seen.raw if task.is_valid(s)]
    aldehydes = [s for s in seen if Chem.MolFromSmiles(s).HasSubstructMatch(Chem.MolFromSmarts("[CX3H1](=O)[#6]"))]
    assert aldehydes and len(aldehydes) < len(seen)  # the run met both kinds
    for s in seen:
        if s in aldehydes:
            assert tr.seen.raw[s] == task.raw_floor and s not in task.scored and not task.is_candidate(s)
        else:
            assert tr.seen.raw[s] == pytest.approx(hashed_raw(s)) and task.is_candidate(s)
    # counted per reward call: every sampled aldehyde, and the metrics row says so
    sampled_aldehydes = sum(tr.seen.count[s] for s in aldehydes)
    assert task.filter_counts == {"filtered": sampled_aldehydes, "brenk": sampled_aldehydes}
    assert tr.metrics[-1]["filtered"] == sampled_aldehydes
    df = candidate_table(tr, tr.sample(64), top=50)
    assert len(df) and not any(s in aldehydes for s in df.smiles) and (df.brenk_alerts == "").all()
    assert set(D.DESCRIPTOR_COLUMNS) <= set(df.columns)
    # the counts survive a checkpoint
    task2 = _tiny_task(tmp_path, "brenk")
    task2.load_state_dict(task.state_dict())
    assert task2.filter_counts == task.filter_counts


def test_no_filters_means_no_change(tmp_path):
    task = _tiny_task(tmp_path, None)
    smi = task.env.to_strings(task.env.initial(1))
    assert task.filters == () and task.round_metrics() == {} and smi == [""]
    t = _tiny_task(tmp_path, None)
    assert t.filter_counts == {"filtered": 0}


def test_rich_table_never_wraps_a_smiles():
    from rich.console import Console

    import cli

    long = "CC(=O)Nc1ccc(-c2cc[nH]c2)cc1C(=O)N1CCN(c2ncccn2)CC1C(F)(F)F" * 2  # longer than the terminal
    df = D.add_descriptors(pd.DataFrame({"rank": [1, 2], "smiles": [long, "CCO"], "raw_score": [7.123456, 1.0],
                                         "reward": [0.9, 0.1], "times_sampled": [3, 1]}))
    buf = io.StringIO()
    Console(file=buf, width=80).print(cli._rich_table(df, 10)[0], crop=False)
    lines = buf.getvalue().splitlines()
    # each SMILES is whole on its row's line (copied, it is one piece; [nH] is not markup), after the numbers
    row1 = next(ln for ln in lines if long in ln)
    assert row1.split()[:2] == ["1", "7.123"] and row1.rstrip().endswith(long)
    assert next(ln for ln in lines if ln.rstrip().endswith("CCO")).split()[0] == "2"
    assert max(len(ln.replace(long, "")) for ln in lines) <= 80  # the rest still reads at 80 columns
    assert "…" not in buf.getvalue() and "pains_alerts" not in buf.getvalue()

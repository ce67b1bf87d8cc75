"""RNA modes: not tracked in training (no extra oracle calls), counted at evaluation."""

from __future__ import annotations

import pytest

pytest.importorskip("RNA", reason="ViennaRNA is absent: pip install ViennaRNA")

from molgfn.tasks import get_task, rna  # noqa: E402

from molgfn.config import TrainConfig  # noqa: E402
from molgfn.evaluation import evaluate_trainer  # noqa: E402
from molgfn.trainer import Trainer  # noqa: E402


def test_rna_training_spends_only_reward_calls_and_evaluate_counts_modes(monkeypatch):
    task = get_task("rna1", workers=1)
    cfg = TrainConfig(task="rna1", rounds=3, batch_size=16, replay_size=0, grad_steps=1, hidden=16, device="cpu")
    tr = Trainer(cfg, task)
    tr.train()
    assert task.oracle.calls <= tr.reward_calls == 48  # the oracle folded nothing beyond the batches
    seen = sorted(tr.seen.count)
    # a threshold that some seen sequences pass, so that the neighbour check has work to do
    raws = sorted(tr.seen.raw.values())
    threshold = raws[len(raws) // 2]
    monkeypatch.setitem(rna.mode_thresholds()["threshold"], "rna1", threshold)
    def neighbours(s):
        return [s[:i] + c + s[i + 1 :] for i in range(len(s)) for c in "ACGU" if c != s[i]]

    # make sure the run "saw" at least one mode: hill-climb from its best sequence to a local optimum
    x = max(tr.seen.raw, key=tr.seen.raw.get)
    while True:
        nbs = neighbours(x)
        vals = rna.binding_scores([task.target, *nbs])
        best = max(range(len(nbs)), key=vals.__getitem__)
        if vals[best] <= rna.binding_scores([task.target, x])[0]:
            break
        x = nbs[best]
    tr.seen.count.setdefault(x, 1)
    seen = sorted(tr.seen.count)
    expected = 0
    for s in seen:  # the definition, by brute force: above the threshold and no Hamming-1 neighbour beats it
        r = rna.binding_scores([task.target, s])[0]
        if r < threshold:
            continue
        expected += all(v <= r for v in rna.binding_scores([task.target, *neighbours(s)]))
    calls = tr.reward_calls
    out = evaluate_trainer(tr, n=8, k=4)
    assert expected >= 1 and out["modes_found"] == expected
    assert tr.reward_calls == calls  # evaluation is not charged to the budget
    task.close()

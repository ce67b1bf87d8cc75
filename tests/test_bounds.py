"""Sizes that could not finish are refused with their bound named (molgfn.limits); numbers that
would overflow are normalised safely or refused; the library checks its numbers as the CLI checks
its flags; objects an oracle marked invalid are never candidates."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app
from molgfn import FunctionTask
from molgfn.errors import InputError, OracleError

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line(r) -> str:
    return " ".join(r.output.split())


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "r"
    r = run("train", "--task", "custom", "--oracle", "tests.oracles:gc_content", "--length", 4, "--rounds", 2,
            "--batch-size", 4, "--replay-size", 0, "--device", "cpu", "--out", out, "--quiet")
    assert r.exit_code == 0, r.output
    return out


def _gc(seqs):
    return [0.1 + sum(c in "GC" for c in s) / len(s) for s in seqs]


# ---- samples ------------------------------------------------------------------------------------
@pytest.mark.parametrize("cmd", ["sample", "evaluate"])
def test_sample_and_evaluate_refuse_more_samples_than_the_bound(trained_run, cmd):
    from molgfn.limits import MAX_SAMPLES

    r = run(cmd, trained_run, "-n", 10**12)
    assert r.exit_code == 2 and f"[1, {MAX_SAMPLES}]" in one_line(r) and "Traceback" not in r.output, r.output
    r = run(cmd, trained_run, "-n", MAX_SAMPLES + 1)
    assert r.exit_code == 2 and "--num-samples" in one_line(r), r.output


def test_the_cli_reads_the_sample_bound_from_the_library(trained_run, monkeypatch):
    monkeypatch.setattr("molgfn.limits.MAX_SAMPLES", 5)
    assert run("sample", trained_run, "-n", 5).exit_code == 0
    r = run("sample", trained_run, "-n", 6)
    assert r.exit_code == 2 and "[1, 5]" in one_line(r), r.output


def test_library_sample_checks_n_as_the_cli_does(trained_run):
    from molgfn.api import load_run, sample

    task = FunctionTask(_gc, alphabet="ACGT", length=4)
    tr = load_run(trained_run, task, device="cpu")
    for bad in (-5, 0, 2.5, True, 10**12, math.nan):
        with pytest.raises(InputError, match="n must be"):
            sample(tr, n=bad)
    assert len(sample(tr, n=3)) == 3


# ---- memory ---------------------------------------------------------------------------------------
def test_a_policy_that_cannot_fit_in_memory_is_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "big"
    r = run("train", "--task", "custom", "--oracle", "tests.oracles:gc_content", "--length", 4, "--hidden", 16384,
            "--layers", 64, "--rounds", 1, "--device", "cpu", "--out", out)
    text = one_line(r)
    assert r.exit_code == 2 and "--hidden 16384 with --layers 64" in text and "available" in text, r.output
    assert "estimated" in text and "Traceback" not in r.output
    assert not out.exists()


def test_the_memory_bound_covers_the_batch_and_the_library(tmp_path, monkeypatch):
    from molgfn import api, limits
    from molgfn.config import TrainConfig

    task = FunctionTask(_gc, alphabet="ACGT", length=8)
    small, _ = limits.estimate_training_memory(TrainConfig(batch_size=32, replay_size=32), task.env)
    big, _ = limits.estimate_training_memory(TrainConfig(batch_size=4096, replay_size=4096), task.env)
    assert big > 50 * small  # the batch counts, not only the parameters
    monkeypatch.setattr(limits, "available_memory", lambda device="cpu": (small * 4, "a test's limit"))
    with pytest.raises(InputError, match="--batch-size 4096 .* available \\(a test's limit\\)"):
        api.train(task, tmp_path / "r", rounds=1, batch_size=4096, replay_size=4096, device="cpu")
    assert not (tmp_path / "r").exists()
    api.train(task, rounds=1, batch_size=32, replay_size=32, device="cpu")  # the default size fits


def test_available_memory_reads_meminfo_and_the_cgroup_limit(tmp_path):
    from molgfn import limits

    have, where = limits.available_memory()
    assert have is not None and have > 0 and where
    cg = tmp_path / "cg"
    cg.mkdir()
    (cg / "memory.max").write_text("1000000\n")
    (cg / "memory.current").write_text("400000\n")
    import unittest.mock

    with unittest.mock.patch("pathlib.Path.read_text", autospec=True,
                             side_effect=lambda p, *a, **k: "0::/\n" if str(p) == "/proc/self/cgroup"
                             else open(p).read()):
        assert limits._cgroup_free(cg) == 600000
    (cg / "memory.max").write_text("max\n")
    with unittest.mock.patch("pathlib.Path.read_text", autospec=True,
                             side_effect=lambda p, *a, **k: "0::/\n" if str(p) == "/proc/self/cgroup"
                             else open(p).read()):
        assert limits._cgroup_free(cg) is None


def test_fragment_molecules_are_bounded_in_blocks(tmp_path):
    from molgfn.api import MoleculeFunctionTask
    from molgfn.limits import MAX_BLOCKS

    from .fragment_helpers import write_vocab

    with pytest.raises(InputError, match=f"max_blocks must be a finite number in \\[1, {MAX_BLOCKS}\\]"):
        MoleculeFunctionTask(_gc, max_blocks=MAX_BLOCKS + 1, vocab=str(write_vocab(tmp_path)))


# ---- atoms per molecule in `score` ----------------------------------------------------------------
def test_score_refuses_molecules_larger_than_the_atom_bound(tmp_path):
    from molgfn.limits import MAX_ATOMS

    from .fragment_helpers import write_vocab

    vocab = write_vocab(tmp_path)
    f = tmp_path / "in.smi"
    f.write_text("CCO\n" + "C" * (MAX_ATOMS + 1) + "\n" + "C" * 10_000 + "\n")
    opts = ["--task", "custom-frag", "--oracle", "tests.bounds_oracles:chars", "--task-option", f"vocab={vocab}"]
    r = run("score", *opts, "--input", f, "--output", tmp_path / "o.csv")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(tmp_path / "o.csv")
    assert df["valid"].tolist() == [True, False, False]
    assert f"{MAX_ATOMS + 1} heavy atoms: molgfn scores molecules of at most {MAX_ATOMS}" in df["error"][1]
    assert "characters" in df["error"][2] and str(MAX_ATOMS) in df["error"][2]
    f.write_text("C" * 10_000 + "\n")
    r = run("score", *opts, "--input", f)
    assert r.exit_code == 2 and f"at most {MAX_ATOMS} heavy atoms" in one_line(r), r.output


# ---- numbers --------------------------------------------------------------------------------------
def test_huge_weights_are_normalised_without_overflow():
    from molgfn.moo import parse_preference

    t = FunctionTask(lambda s: [[1.0, 0.0] if x[0] == "A" else [0.0, 0.4] for x in s], alphabet="AB", length=3,
                     objectives="a,b", weights="1e308,1e308")
    assert t.raw_scores(["AAA", "BBB"]) == pytest.approx([0.5, 0.2])  # not a flat (NaN or 0) reward
    assert parse_preference("1e308,1e308", ["a", "b"]).tolist() == [0.5, 0.5]
    r = run("train", "--task", "custom", "--oracle", "tests.bounds_oracles:two_objectives", "--alphabet", "AB",
            "--length", 3, "--objectives", "a,b", "--weights", "1e308,1e308", "--rounds", 1, "--batch-size", 4,
            "--print-config")
    assert r.exit_code == 0, r.output


def test_a_reward_beyond_the_largest_float_is_refused_naming_the_bound():
    from molgfn.api import design

    from .bounds_oracles import huge

    with pytest.raises(OracleError, match="beyond the largest float .*reward exponent \\(now 2\\)"):
        design(FunctionTask(huge, alphabet="AB", length=3, reward_exponent=2), rounds=2, batch_size=4,
               replay_size=0, device="cpu", num_samples=4)
    df = design(FunctionTask(huge, alphabet="AB", length=3, reward_exponent=1), rounds=2, batch_size=4,
                replay_size=0, device="cpu", num_samples=4)  # R = 1e200 is a float: fine
    assert np.isfinite(df["reward"]).all()


@pytest.mark.parametrize("kwargs, name", [
    ({"length": 0}, "length"), ({"reward_exponent": math.nan}, "reward_exponent"), ({"reward_exponent": 0}, "> 0"),
    ({"r_max": -1.0}, "r_max"), ({"raw_max": math.inf}, "raw_max"), ({"workers": 0}, "workers"),
])
def test_library_tasks_check_their_numbers(kwargs, name):
    with pytest.raises(InputError, match=name):
        FunctionTask(_gc, **{"alphabet": "ACGT", "length": 4, **kwargs})


@pytest.mark.parametrize("kwargs, name", [
    ({"num_samples": -1}, "num_samples"), ({"num_samples": 10**12}, "num_samples"),
    ({"num_candidates": 0}, "num_candidates"), ({"min_distance": -1}, "min_distance"),
    ({"max_similarity": 0.0}, "max_similarity"), ({"max_similarity": math.nan}, "max_similarity"),
    ({"beta": 0.0}, "beta"), ({"beta": [1.0, -2.0]}, "beta"),
])
def test_library_design_checks_its_numbers_before_training(kwargs, name):
    from molgfn.api import design

    calls = []
    task = FunctionTask(lambda s: calls.append(s) or _gc(s), alphabet="ACGT", length=4)
    with pytest.raises(InputError, match=name):
        design(task, rounds=1, batch_size=4, device="cpu", **kwargs)
    assert calls == []  # refused before any oracle call


# ---- invalid objects are never candidates ---------------------------------------------------------
def test_objects_the_oracle_declared_invalid_are_never_candidates_however_short_the_list():
    from molgfn.api import design

    from .bounds_oracles import invalid_a

    df = design(FunctionTask(invalid_a, alphabet="AB", length=2), rounds=4, batch_size=8, replay_size=0,
                device="cpu", num_candidates=100, num_samples=32, seed=0)
    assert len(df) == 2 and sorted(df["sequence"]) == ["BA", "BB"]  # 4 objects, 2 invalid


def test_objects_kept_as_invalid_after_a_failure_are_never_candidates_in_the_cli(tmp_path):
    out = tmp_path / "d"
    r = run("design", "--task", "custom", "--oracle", "tests.oracles:returns_nan", "--alphabet", "AB", "--length", 2,
            "--rounds", 3, "--batch-size", 8, "--on-oracle-error", "invalid", "--executor", "local", "--num-samples",
            32, "--device", "cpu", "--out", out, "--quiet")
    assert r.exit_code == 0, r.output
    seqs = pd.read_csv(out / "candidates.csv")["sequence"].tolist()
    assert sorted(seqs) == ["BA", "BB"]  # AA and AB returned NaN: invalid, never listed
    r = run("design", "--task", "custom", "--oracle", "tests.oracles:returns_nan", "--alphabet", "AB", "--length", 2,
            "--rounds", 3, "--batch-size", 8, "--on-oracle-error", "invalid", "--executor", "local", "--num-samples",
            32, "--device", "cpu", "--out", out, "--resume", "--quiet")
    assert r.exit_code == 0, r.output  # a resumed run knows them from its score store
    assert sorted(pd.read_csv(out / "candidates.csv")["sequence"]) == ["BA", "BB"]


@pytest.mark.parametrize("settings", [{"rounds": 1.5}, {"lr": "0.1"}, {"local_search": 1}, {"batch_size": True}])
def test_library_training_settings_of_the_wrong_type_are_named(settings):
    from molgfn.api import train

    with pytest.raises(InputError, match=f"wrong type: {next(iter(settings))}="):
        train(FunctionTask(_gc, alphabet="ACGT", length=4), device="cpu", **settings)

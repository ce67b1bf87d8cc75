"""Torch threads: the CPUs this process may use (affinity, cgroup quota, Slurm, OMP_NUM_THREADS) and
the size of the work; --threads overrides; config.json records the number and why."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from cli import app
from molgfn.config import TrainConfig
from molgfn.envs import SequenceEnv
from molgfn.threads import pick_threads, usable_cpus

runner = CliRunner()


def test_usable_cpus_is_the_smallest_limit_set(tmp_path):
    import os

    affinity = len(os.sched_getaffinity(0))
    none = tmp_path / "no-cpu.max"
    assert usable_cpus({}, none) == (affinity, "the CPU affinity mask")
    assert usable_cpus({"SLURM_CPUS_PER_TASK": "1"}, none) == (1, "SLURM_CPUS_PER_TASK")
    assert usable_cpus({"OMP_NUM_THREADS": "1", "SLURM_CPUS_PER_TASK": "x"}, none) == (1, "OMP_NUM_THREADS")
    assert usable_cpus({"OMP_NUM_THREADS": "0"}, none)[0] == affinity  # not a usable value: ignored
    quota = tmp_path / "cpu.max"
    quota.write_text("50000 100000\n")  # half a CPU: rounded up to one
    n, why = usable_cpus({}, quota)
    assert n == 1 and "cgroup" in why
    quota.write_text("max 100000\n")
    assert usable_cpus({}, quota)[0] == affinity


def test_a_tfbind8_sized_model_runs_on_one_thread_and_a_large_one_on_the_usable_cpus():
    env = SequenceEnv("ACGT", 8)
    assert pick_threads(TrainConfig(), env, (16, "the CPU affinity mask"))[0] == 1
    n, why = pick_threads(TrainConfig(hidden=2048, batch_size=256, replay_size=256), env, (16, "SLURM_CPUS_PER_TASK"))
    assert n == 16 and "SLURM_CPUS_PER_TASK" in why
    assert pick_threads(TrainConfig(hidden=2048, batch_size=256), env, (1, "OMP_NUM_THREADS"))[0] == 1


def _train(tmp_path, *extra):
    out = tmp_path / "r"
    r = runner.invoke(app, [str(a) for a in ["train", "--task", "custom", "--oracle", "tests.oracles:gc_content",
                                             "--length", 4, "--rounds", 1, "--batch-size", 4, "--device", "cpu",
                                             "--out", out, "--quiet", *extra]])
    return r, out


def test_the_cli_sets_the_threads_it_picks_and_records_them(tmp_path, monkeypatch):
    monkeypatch.setattr("molgfn.threads.usable_cpus", lambda *a, **k: (3, "a test's mask"))
    torch.set_num_threads(2)
    r, out = _train(tmp_path, "--hidden", 512, "--batch-size", 64, "--replay-size", 64)
    assert r.exit_code == 0, r.output
    machine = json.loads((out / "config.json").read_text())["machine"]
    assert machine["torch_threads"] == 3
    assert torch.get_num_threads() == 2  # the command's choice ends with the command (tests, notebooks)
    assert "a test's mask" in machine["torch_threads_chosen_by"]
    r, out = _train(tmp_path, "--overwrite")  # a small model: one thread, whatever the CPUs
    assert r.exit_code == 0, r.output
    machine = json.loads((out / "config.json").read_text())["machine"]
    assert machine["torch_threads"] == 1
    assert "small model" in machine["torch_threads_chosen_by"]


def test_threads_flag_overrides_and_is_checked(tmp_path):
    r, out = _train(tmp_path, "--threads", 2)
    assert r.exit_code == 0, r.output
    machine = json.loads((out / "config.json").read_text())["machine"]
    assert machine["torch_threads"] == 2 and machine["torch_threads_chosen_by"] == "--threads"
    r, _ = _train(tmp_path, "--threads", 0, "--overwrite")
    assert r.exit_code == 2 and "--threads must be a finite number in [1, 4096]" in " ".join(r.output.split())


@pytest.fixture(autouse=True)
def _one_thread_after():
    yield
    torch.set_num_threads(1)

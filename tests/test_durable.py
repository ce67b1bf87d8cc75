"""Long runs reopen and resume exactly; the replay buffer's prioritised split stays exact as it grows."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from molgfn.replay import ReplayBuffer


def _brute_top(logr: list[float], frac: float) -> set[int]:
    k = max(1, int(round(frac * len(logr))))
    order = sorted(range(len(logr)), key=lambda i: (logr[i], i), reverse=True)
    return set(order[:k])


@pytest.mark.parametrize("batches", [[1] * 300, [7, 1, 50, 3, 200, 39], [300]])
def test_replay_top_set_matches_a_full_sort_whatever_the_batching(batches):
    g = torch.Generator().manual_seed(0)
    logr = torch.randn(sum(batches), generator=g, dtype=torch.float64)
    logr[::17] = 0.0  # ties are broken by insertion order, identically everywhere
    buf = ReplayBuffer((2,), capacity=4)
    i = 0
    for b in batches:
        buf.add(torch.arange(i, i + b).repeat(2, 1).T, logr[i : i + b])
        i += b
        assert set(buf.top_indices()) == _brute_top(logr[:i].tolist(), 0.1)
    # the same objects in one go give the same draws: the state depends on order only
    one = ReplayBuffer((2,))
    one.add(torch.arange(i).repeat(2, 1).T, logr)
    a = buf.sample(64, torch.Generator().manual_seed(5))
    b = one.sample(64, torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_replay_draws_half_from_the_top_tenth():
    buf = ReplayBuffer((1,))
    n = 10_000
    buf.add(torch.arange(n)[:, None], torch.arange(n, dtype=torch.float64))
    objs, logr = buf.sample(20_000, torch.Generator().manual_seed(1))
    top = objs[:, 0] >= n - 1000
    assert top.sum().item() == 10_000  # exactly half, as LS-GFN
    assert torch.equal(logr, objs[:, 0].double())
    # within each half the draw is uniform: every decile of the rest is hit about equally
    rest = objs[~top, 0]
    counts = torch.bincount(rest // 1000, minlength=9)[:9].double()
    assert (counts / counts.mean() - 1).abs().max() < 0.1


def test_replay_grows_past_any_capacity_and_reloads():
    buf = ReplayBuffer((3,), capacity=4096)
    x = torch.randint(0, 4, (11_019, 3))
    lr = torch.randn(11_019, dtype=torch.float64)
    buf.add(x[:8192], lr[:8192])
    buf.add(x[8192:], lr[8192:])  # the bug of issue 9: growth by at most n rows
    assert buf.size == 11_019 and torch.equal(buf.objects[: buf.size], x)
    again = ReplayBuffer((3,))
    again.load_state_dict(buf.state_dict())
    assert torch.equal(again.objects[: again.size], x) and again.top_indices() == buf.top_indices()


# ---- a long run, through the trainer -------------------------------------------------------------
def _trainer(run_dir, rounds, every=20, oracle="tests.oracles:gc_content"):
    from molgfn.tasks import get_task

    from molgfn.config import TrainConfig
    from molgfn.trainer import Trainer

    opts = {"oracle": oracle, "length": 10, "reward_exponent": 2.0}
    cfg = TrainConfig(task="custom", task_options=opts, rounds=rounds, checkpoint_every=every, device="cpu", seed=7,
                      batch_size=512, replay_size=64, grad_steps=1, hidden=16, n_layers=1, epsilon=0.5)
    return Trainer(cfg, get_task("custom", **opts), run_dir)


def _same_state(a, b) -> None:
    pa, pb = a.policy.state_dict(), b.policy.state_dict()
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert a.seen == b.seen and a.modes_found == b.modes_found
    assert a.buffer.size == b.buffer.size
    assert torch.equal(a.buffer.objects[: a.buffer.size], b.buffer.objects[: b.buffer.size])
    assert a.buffer.top_indices() == b.buffer.top_indices()
    cols = [c for c in a.metrics[0] if c != "round_ms"]
    pd.testing.assert_frame_equal(pd.DataFrame(a.metrics)[cols], pd.DataFrame(b.metrics)[cols])


@pytest.mark.slow  # a long run, by design
def test_run_of_over_50000_objects_saves_reopens_and_resumes_exactly(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "part").mkdir()
    full = _trainer(tmp_path / "full", 130)
    full.train()
    assert len(full.seen.count) > 50_000 and full.buffer.size == len(full.seen.count)
    # reopened from disk, it is the same run
    again = _trainer(tmp_path / "full", 130)
    assert again.resume() and again.round == 130
    _same_state(full, again)
    # stopped at round 70 (over 8,192 objects already), resumed to 130: bit-identical
    part = _trainer(tmp_path / "part", 70)
    part.train()
    assert part.buffer.size > 8192
    resumed = _trainer(tmp_path / "part", 130)
    assert resumed.resume() and resumed.round == 70
    resumed.train()
    _same_state(full, resumed)
    # the files a checkpoint does not rewrite are the same bytes as the uninterrupted run's
    for name in ("seen.jsonl", "metrics.csv"):
        a = (tmp_path / "full" / name).read_bytes()
        b = (tmp_path / "part" / name).read_bytes()
        if name == "metrics.csv":  # round_ms is wall time
            a, b = (pd.read_csv(tmp_path / d / name).drop(columns="round_ms") for d in ("full", "part"))
            pd.testing.assert_frame_equal(a, b)
        else:
            assert a == b


def test_a_crash_after_the_checkpoint_is_cut_from_the_logs_on_resume(tmp_path):
    full = _trainer(tmp_path / "f", 12, every=4)
    (tmp_path / "f").mkdir()
    full.train()
    (tmp_path / "c").mkdir()
    crashed = _trainer(tmp_path / "c", 12, every=4)
    crashed.train(rounds=8)

    def kill(row):  # rounds 9-10 reach the logs but no checkpoint: a kill -9 now
        if row["round"] == 10:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        crashed.train(rounds=12, on_round=kill)
    assert len(pd.read_csv(tmp_path / "c" / "metrics.csv")) == 10
    resumed = _trainer(tmp_path / "c", 12, every=4)
    assert resumed.resume() and resumed.round == 8 and len(resumed.metrics) == 8
    resumed.train()
    _same_state(full, resumed)
    assert (tmp_path / "f" / "seen.jsonl").read_bytes() == (tmp_path / "c" / "seen.jsonl").read_bytes()


def test_checkpoint_size_does_not_grow_with_the_run(tmp_path):
    tr = _trainer(tmp_path, 40, every=10)
    sizes = []
    for r in (10, 40):
        tr.train(rounds=r)
        sizes.append((tmp_path / "checkpoint.pt").stat().st_size)
    assert len(tr.seen.count) > 15_000
    assert abs(sizes[1] - sizes[0]) < 2048  # only the small counters differ


def test_an_older_checkpoint_holding_everything_still_resumes_exactly(tmp_path):
    from molgfn import runs

    full = _trainer(tmp_path / "f", 8, every=4)
    (tmp_path / "f").mkdir()
    full.train()
    (tmp_path / "o").mkdir()
    old = _trainer(tmp_path / "o", 4, every=4)
    old.train()
    # rewrite its checkpoint as molgfn wrote them before the logs existed (everything inside)
    sd = old.state_dict()
    del sd["logs"], sd["best_raw"], sd["format"]
    sd.update(buffer=old.buffer.state_dict(), seen=old.seen.__dict__, modes_found=sorted(old.modes_found),
              metrics=old.metrics)
    runs.atomic_torch_save(tmp_path / "o" / "checkpoint.pt", sd)
    (tmp_path / "o" / "seen.jsonl").unlink()
    resumed = _trainer(tmp_path / "o", 8, every=4)
    assert resumed.resume() and resumed.round == 4
    resumed.train()
    _same_state(full, resumed)
    reopened = _trainer(tmp_path / "o", 8, every=4)
    assert reopened.resume() and reopened.round == 8
    _same_state(full, reopened)

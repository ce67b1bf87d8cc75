"""Device benchmark: training rounds and the sEH proxy on ``--device cuda`` (or ``cpu``), with the
number of host-device synchronisations per round.

Measures, each after warm-up rounds, the median wall time of:
  * seh-frag training rounds (GNN width 128, 2 layers, TB, 1 gradient step, replay half the batch)
    at batch 64, 256 and 1,024;
  * the sEH proxy on fresh molecules (molecules/s, cache off);
  * tfbind8 (width 128) and qm9str (width 1,024) rounds: batch 32, no replay, 1 gradient step.

On CUDA, ``torch.cuda.set_sync_debug_mode("warn")`` makes every synchronising call (``.item()``,
``.tolist()``, ``nonzero``, a device-to-host copy, ...) emit a warning; the warnings are counted per
round and separately inside the forward rollout. On the CPU there is no device to wait for and the
counts are "n/a". Writes a markdown table (default bench/GPU.md).

    MOLGFN_DATA=../shared/data .venv/bin/python bench/gpu.py --device cuda
    MOLGFN_DATA=../shared/data .venv/bin/python bench/gpu.py --device cpu --quick   # a smoke run
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from molgfn import sampling, trainer  # noqa: E402
from molgfn.config import TrainConfig  # noqa: E402
from tasks import get_task  # noqa: E402


def _n_syncs(caught: list) -> int:
    return sum("synchroniz" in str(w.message).lower() for w in caught)


class SyncCounter:
    """Counts CUDA synchronisations (sync-debug warnings), in total and inside ``sample_forward``."""

    def __init__(self, device: torch.device) -> None:
        self.on = device.type == "cuda"
        self.total = self.rollout = 0
        self._caught: list = []
        self._orig = trainer.sample_forward

    def _wrapped(self, *a, **k):
        n0 = len(self._caught)
        try:
            return self._orig(*a, **k)
        finally:
            self.rollout += _n_syncs(self._caught[n0:])

    def run(self, fn):
        if not self.on:
            return fn()
        trainer.sample_forward = self._wrapped
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self._caught = caught
                out = fn()
            self.total += _n_syncs(caught)
            return out
        finally:
            torch.cuda.set_sync_debug_mode(0)
            trainer.sample_forward = self._orig


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_rounds(task_name: str, device: torch.device, rounds: int, warmup: int, **cfg) -> dict:
    task = get_task(task_name, device=str(device)) if task_name == "seh-frag" else get_task(task_name)
    tr = trainer.Trainer(TrainConfig(task=task_name, device=str(device), checkpoint_every=10**9,
                                     track_modes=False, **cfg), task)
    for _ in range(warmup):
        tr.train_round()
    times = []
    counter = SyncCounter(device)
    for _ in range(rounds):
        _sync(device)
        t0 = time.perf_counter()
        counter.run(tr.train_round)
        _sync(device)
        times.append(time.perf_counter() - t0)
    task.close()
    return {"ms": statistics.median(times) * 1e3, "syncs": counter.total / rounds if counter.on else None,
            "rollout_syncs": counter.rollout / rounds if counter.on else None}


def proxy_speed(device: torch.device, n: int) -> float:
    task = get_task("seh-frag", device=str(device))
    pol = task.env.make_policy(TrainConfig(hidden=32, n_layers=1))
    smiles: list[str] = []
    for _ in range(50):
        smiles = list(dict.fromkeys(smiles + task.env.to_strings(
            sampling.sample_forward(task.env, pol, torch.ones(256)).terminals)))
        if len(smiles) >= n + 32:
            break
    oracle = task.oracle
    oracle.cache_size = 0
    oracle.clear_cache()
    oracle.raw(smiles[n : n + 32])  # warm-up
    _sync(device)
    t0 = time.perf_counter()
    oracle.raw(smiles[:n])
    _sync(device)
    return n / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--rounds", type=int, default=10, help="timed rounds per configuration")
    ap.add_argument("--quick", action="store_true", help="smoke run: small batches, 2 rounds (tests, CPU)")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("GPU.md"))
    a = ap.parse_args(argv)
    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("bench/gpu.py: --device cuda but torch sees no CUDA GPU; use --device cpu")
    device = torch.device(a.device)
    if device.type == "cpu":
        torch.set_num_threads(1)  # steadier on a shared machine
    rounds, warmup = (1, 1) if a.quick else (a.rounds, 3)
    frag_batches = (4,) if a.quick else (64, 256, 1024)
    rows = []
    for b in frag_batches:
        r = time_rounds("seh-frag", device, rounds, warmup, batch_size=b, replay_size=b // 2, grad_steps=1,
                        hidden=128, n_layers=2)
        rows.append((f"seh-frag, batch {b} + {b // 2} replay, GNN width 128, TB, 1 grad step", r))
        print(rows[-1], flush=True)
    for task, hidden in (("tfbind8", 128), ("qm9str", 64 if a.quick else 1024)):
        r = time_rounds(task, device, rounds, warmup, batch_size=32, replay_size=0, grad_steps=1, hidden=hidden)
        rows.append((f"{task}, batch 32, width {hidden}, TB, 1 grad step", r))
        print(rows[-1], flush=True)
    mps = proxy_speed(device, 16 if a.quick else 1024)
    card = torch.cuda.get_device_name(0) if device.type == "cuda" else (platform.processor() or platform.machine())
    cmd = "MOLGFN_DATA=../shared/data .venv/bin/python bench/gpu.py " + " ".join(sys.argv[1:] if argv is None
                                                                                 else argv)

    def fmt(x):
        return "n/a" if x is None else f"{x:.1f}"

    lines = [f"# Device benchmark ({a.device}: {card}, torch {torch.__version__})", "",
             f"Made by `{cmd.strip()}`; medians of {rounds} rounds after {warmup} warm-up rounds. "
             "Synchronisations are counted with `torch.cuda.set_sync_debug_mode` (CUDA only).", "",
             "| configuration | ms / round | host-device syncs / round | of which in the rollout |",
             "|---|---|---|---|"]
    lines += [f"| {name} | {r['ms']:.1f} | {fmt(r['syncs'])} | {fmt(r['rollout_syncs'])} |" for name, r in rows]
    lines += ["", f"sEH proxy: {mps:.0f} molecules/s (fresh molecules, cache off)."]
    a.out.write_text("\n".join(lines) + "\n")
    print(f"-> {a.out}")


if __name__ == "__main__":
    main()

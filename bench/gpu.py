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

import platform
import sys
import time
import warnings
from pathlib import Path

import torch
from harness import command, median, parser
from molgfn.tasks import get_task

from molgfn import sampling, trainer
from molgfn.config import TrainConfig


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
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
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
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return {"ms": median(times) * 1e3, "syncs": counter.total / rounds if counter.on else None,
            "rollout_syncs": counter.rollout / rounds if counter.on else None, "peak_mib": peak}


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
    ap = parser(__doc__)
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--rounds", type=int, default=10, help="timed rounds per configuration")
    ap.add_argument("--quick", action="store_true", help="smoke run: small batches, 2 rounds (tests, CPU)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--frag-batches", default="64,256,1024", help="comma-separated seh-frag batch sizes")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("GPU.md"))
    a = ap.parse_args(argv)
    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("bench/gpu.py: --device cuda but torch sees no CUDA GPU; use --device cpu")
    device = torch.device(a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
    rounds, warmup = (1, 1) if a.quick else (a.rounds, 3)
    frag_batches = (4,) if a.quick else tuple(int(b) for b in a.frag_batches.split(",") if b)
    card = torch.cuda.get_device_name(0) if device.type == "cuda" else (platform.processor() or platform.machine())
    cmd = command("MOLGFN_DATA=../shared/data .venv/bin/python", argv, script="gpu.py")
    rows: list[tuple[str, dict | str]] = []
    proxy: list[str] = []

    def fmt(x):
        return "n/a" if x is None else f"{x:.1f}"

    def write() -> None:
        # rewritten after every row, so a run stopped part-way still leaves the rows it measured
        lines = [f"# Device benchmark ({a.device}: {card}, torch {torch.__version__})", "",
                 f"Made by `{cmd.strip()}`; medians of {rounds} rounds after {warmup} warm-up rounds, "
                 f"{torch.get_num_threads()} CPU threads. "
                 "Synchronisations are counted with `torch.cuda.set_sync_debug_mode` (CUDA only); peak memory "
                 "is `torch.cuda.max_memory_allocated` over the warm-up and timed rounds.", "",
                 "| configuration | ms / round | host-device syncs / round | of which in the rollout "
                 "| peak GPU memory (MiB) |",
                 "|---|---|---|---|---|"]
        for name, r in rows:
            if isinstance(r, str):
                lines.append(f"| {name} | failed: {r} | | | |")
            else:
                lines.append(f"| {name} | {r['ms']:.1f} | {fmt(r['syncs'])} | {fmt(r['rollout_syncs'])} "
                             f"| {fmt(r['peak_mib'])} |")
        lines += ["", *proxy]
        a.out.write_text("\n".join(lines) + "\n")

    def measure(name: str, fn) -> None:
        try:
            rows.append((name, fn()))
        except Exception as e:  # noqa: BLE001 - one failing configuration must not lose the others
            rows.append((name, f"{type(e).__name__}: {e}".replace("|", "/")[:200]))
        print(rows[-1], flush=True)
        write()

    for b in frag_batches:
        measure(f"seh-frag, batch {b} + {b // 2} replay, GNN width 128, TB, 1 grad step",
                lambda b=b: time_rounds("seh-frag", device, rounds, warmup, batch_size=b, replay_size=b // 2,
                                        grad_steps=1, hidden=128, n_layers=2))
    for task, hidden in (("tfbind8", 128), ("qm9str", 64 if a.quick else 1024)):
        measure(f"{task}, batch 32, width {hidden}, TB, 1 grad step",
                lambda task=task, hidden=hidden: time_rounds(task, device, rounds, warmup, batch_size=32,
                                                             replay_size=0, grad_steps=1, hidden=hidden))
    try:
        proxy.append(f"sEH proxy: {proxy_speed(device, 16 if a.quick else 1024):.0f} molecules/s "
                     "(fresh molecules, cache off).")
    except Exception as e:  # noqa: BLE001
        proxy.append(f"sEH proxy: failed: {type(e).__name__}: {e}")
    print(proxy[-1], flush=True)
    write()
    print(f"-> {a.out}")


if __name__ == "__main__":
    main()

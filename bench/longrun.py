"""Does a round (and a checkpoint) cost the same at round 20,000 as at round 1,000?

Trains one tfbind8 run (TB, default settings: 32 on-policy + 32 replayed trajectories, 3
gradient steps, width 128) and reports the median wall time of a round over the 100 rounds
before round 1,000 and before round 20,000 (a round measured from one `on_round` call to the
next, so the log writes count), and the median time of a checkpoint taken there (5 repeats).

    MOLGFN_DATA=../shared/data .venv/bin/python bench/longrun.py [--rounds 20000] [--early 1000]

Works on any molgfn version whose Trainer has ``train(rounds, on_round)`` and ``checkpoint()``,
so PYTHONPATH=<older tree> measures the code before the append-only logs for comparison.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20_000)
    ap.add_argument("--early", type=int, default=1_000)
    ap.add_argument("--window", type=int, default=100)
    ap.add_argument("--task", default="tfbind8")
    ap.add_argument("--label", default="this tree")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from molgfn.config import TrainConfig
    from molgfn.trainer import Trainer
    from tasks import get_task

    with tempfile.TemporaryDirectory() as d:
        run = Path(d)
        cfg = TrainConfig(task=args.task, rounds=args.rounds, checkpoint_every=10**9, device="cpu", seed=0)
        tr = Trainer(cfg, get_task(args.task), run)
        res = {}
        for mark in (args.early, args.rounds):
            tr.train(rounds=mark - args.window - 1)  # fast-forward (train() ends with a checkpoint: untimed)
            ms: list[float] = []
            t_prev = [time.perf_counter()]

            def on_round(row, ms=ms, t_prev=t_prev):
                now = time.perf_counter()
                ms.append((now - t_prev[0]) * 1e3)
                t_prev[0] = now

            tr.train(rounds=mark - 1, on_round=on_round)  # the window: rounds mark-100 .. mark-1
            ck = []
            for _ in range(5):
                t0 = time.perf_counter()
                tr.checkpoint()
                ck.append((time.perf_counter() - t0) * 1e3)
            size = sum(p.stat().st_size for p in run.iterdir() if p.is_file())
            ckpt = (run / "checkpoint.pt").stat().st_size
            res[mark] = (statistics.median(ms), statistics.median(ck), len(tr.seen.count), ckpt, size)
    print(f"command: {' '.join(['python'] + sys.argv)}  ({args.label}; 2-core machine shared with other jobs, "
          "1 torch thread; medians)")
    print()
    print("| round | ms per round (median of last 100) | ms per checkpoint (median of 5) | unique objects | "
          "checkpoint.pt | run folder |")
    print("|---|---|---|---|---|---|")
    for mark, (r, c, n, ck, sz) in res.items():
        print(f"| {mark:,} | {r:.1f} | {c:.1f} | {n:,} | {ck / 1e6:.2f} MB | {sz / 1e6:.2f} MB |")
    a, b = res[args.early], res[args.rounds]
    print(f"\nratio round {args.rounds:,} / round {args.early:,}: round {b[0] / a[0]:.2f}x, "
          f"checkpoint {b[1] / a[1]:.2f}x")


if __name__ == "__main__":
    main()

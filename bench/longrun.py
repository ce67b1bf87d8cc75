"""Does a round (and a checkpoint) cost the same at round 20,000 as at round 1,000?

Trains one tfbind8 run (TB, default settings: 32 on-policy + 32 replayed trajectories, 3
gradient steps, width 128) to round 20,000, keeping a copy of its folder at round 1,000; then
times the run at round 1,000 (resumed from the copy) and at round 20,000 in alternation (5 x
20 rounds each, so a shared machine's load falls on both alike): the median wall time of a
round (from one `on_round` call to the next, so the log writes count) and of a checkpoint.

    MOLGFN_DATA=../shared/data .venv/bin/python bench/longrun.py [--rounds 20000] [--early 1000]

Works on any molgfn version whose Trainer has ``train(rounds, on_round)`` and ``checkpoint()``,
so PYTHONPATH=<older tree> measures the code before the append-only logs for comparison.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch
from harness import median, parser, print_table


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--rounds", type=int, default=20_000)
    ap.add_argument("--early", type=int, default=1_000)
    ap.add_argument("--window", type=int, default=100, help="rounds timed at each mark")
    ap.add_argument("--repeats", type=int, default=5, help="alternations (and checkpoints timed) per mark")
    ap.add_argument("--task", default="tfbind8")
    ap.add_argument("--label", default="this tree")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--grad-steps", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from molgfn.tasks import get_task

    from molgfn.config import TrainConfig
    from molgfn.trainer import Trainer

    with tempfile.TemporaryDirectory() as d:
        run, early_dir = Path(d) / "run", Path(d) / "early"
        run.mkdir()
        cfg = TrainConfig(task=args.task, rounds=args.rounds, checkpoint_every=10**9, device="cpu", seed=0,
                          hidden=args.hidden, grad_steps=args.grad_steps)
        late = Trainer(cfg, get_task(args.task), run)
        late.train(rounds=args.early)
        shutil.copytree(run, early_dir)  # the run as it was at round `early`
        late.train(rounds=args.rounds)
        early = Trainer(TrainConfig(**{**asdict(cfg)}), get_task(args.task), early_dir)
        assert early.resume() and early.round == args.early
        # the two are timed in alternation, so that the load of a shared machine hits both alike
        times = {args.early: ([], []), args.rounds: ([], [])}
        for _ in range(args.repeats):
            for tr, mark in ((early, args.early), (late, args.rounds)):
                ms, ck = times[mark]
                t_prev = [time.perf_counter()]

                def on_round(row, ms=ms, t_prev=t_prev):
                    now = time.perf_counter()
                    ms.append((now - t_prev[0]) * 1e3)
                    t_prev[0] = now

                tr.train(rounds=tr.round + args.window // args.repeats, on_round=on_round)
                t0 = time.perf_counter()
                tr.checkpoint()
                ck.append((time.perf_counter() - t0) * 1e3)
        res = {}
        for tr, mark, folder in ((early, args.early, early_dir), (late, args.rounds, run)):
            ms, ck = times[mark]
            size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
            res[mark] = (median(ms), median(ck), len(tr.seen.count),
                         (folder / "checkpoint.pt").stat().st_size, size)
    print(f"command: {' '.join(['python'] + sys.argv)}  ({args.label}; 2-core machine shared with other jobs, "
          "1 torch thread; medians)")
    print()
    print_table(["round", f"ms per round (median of {args.window})", f"ms per checkpoint (median of {args.repeats})",
                 "unique objects", "checkpoint.pt", "run folder"],
                [(f"{mark:,}", f"{r:.1f}", f"{c:.1f}", f"{n:,}", f"{ck / 1e6:.2f} MB", f"{sz / 1e6:.2f} MB")
                 for mark, (r, c, n, ck, sz) in res.items()])
    a, b = res[args.early], res[args.rounds]
    print(f"\nratio round {args.rounds:,} / round {args.early:,}: round {b[0] / a[0]:.2f}x, "
          f"checkpoint {b[1] / a[1]:.2f}x")


if __name__ == "__main__":
    main()

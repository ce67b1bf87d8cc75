"""Cost of watching a run: time per round of each progress output and logger, beside the
time of a training round itself (tfbind8-sized MLP on a 4^8 custom task, 32 + 32 trajectories).

The metrics rows of a real run are replayed through each tracker (``molgfn.tracking``), so
the numbers are the callback's own cost (with the final flush); medians of ``--repeats`` passes.

    .venv/bin/python bench/tracking_overhead.py [--rounds 200] [--repeats 3]
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from pathlib import Path

from harness import median, parser, print_table


def gc(seqs):
    return [sum(c in "GC" for c in s) / len(s) for s in seqs]


def main() -> None:
    ap = parser(repeats=3)
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()
    import torch

    from molgfn import FunctionTask, train
    from molgfn.tracking import PlainProgress, Tracker, make_loggers

    torch.set_num_threads(1)
    rows: list[dict] = []
    tr = train(FunctionTask(gc, alphabet="ACGT", length=8, reward_exponent=3), rounds=args.rounds, device="cpu",
               on_round=rows.append)
    train_ms = median(r["round_ms"] for r in rows)
    del tr

    def plain(_d):
        return PlainProgress(len(rows), every=1, stream=io.StringIO())

    setups = {"plain lines (every round)": (plain, []), "tensorboard": (None, ["tensorboard"]),
              "mlflow (file store)": (None, ["mlflow"])}
    table = []
    for name, (prog, loggers) in setups.items():
        per = []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as d:
                try:
                    lg = make_loggers(loggers, Path(d))
                except Exception as e:  # an extra not installed
                    per = None
                    print(f"{name}: skipped ({e})", file=sys.stderr)
                    break
                tracker = Tracker(prog(d) if prog else None, lg)
                with tracker:
                    tracker.log_params({"rounds": len(rows)})
                    t0 = time.perf_counter()
                    for r in rows:
                        tracker(r)
                # closing flushes what a logger buffered: part of its cost
                per.append((time.perf_counter() - t0) / len(rows) * 1e3)
        if per:
            med = median(per)
            table.append((name, med, 100 * med / train_ms))
    print(f"command: `.venv/bin/python bench/tracking_overhead.py --rounds {args.rounds} --repeats {args.repeats}`")
    print(f"training round (median of {len(rows)}): {train_ms:.1f} ms; machine shared with other jobs, 1 torch thread")
    print()
    print_table(["tracker", "ms per round (median)", "% of a training round"],
                [(name, f"{med:.3f}", f"{pct:.1f}") for name, med, pct in table])


if __name__ == "__main__":
    main()

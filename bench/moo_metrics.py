"""Cost of the multi-objective metrics (molgfn.moo) on uniform random objective vectors:
Pareto front, Pareto ranks and exact hypervolume, medians of ``--repeats`` runs.

    .venv/bin/python bench/moo_metrics.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from molgfn.moo import hypervolume, pareto_front, pareto_rank

    print(f"command: `.venv/bin/python bench/moo_metrics.py --repeats {args.repeats}`")
    print("uniform random points in [0, 1]^k; shared 2-core machine, medians of repeats")
    print()
    print("| points | k | front size | front (s) | ranks (s) | hypervolume (s) |")
    print("|---|---|---|---|---|---|")
    for n, k in [(1000, 2), (5000, 2), (1000, 3), (1000, 4), (5000, 4)]:
        Y = np.random.default_rng(0).random((n, k))
        times = {"front": [], "ranks": [], "hv": []}
        for _ in range(args.repeats):
            for key, fn in (("front", pareto_front), ("ranks", pareto_rank), ("hv", hypervolume)):
                t0 = time.perf_counter()
                fn(Y)
                times[key].append(time.perf_counter() - t0)
        med = {key: statistics.median(v) for key, v in times.items()}
        print(f"| {n:,} | {k} | {len(pareto_front(Y))} | {med['front']:.3f} | {med['ranks']:.3f} | {med['hv']:.3f} |")


if __name__ == "__main__":
    main()

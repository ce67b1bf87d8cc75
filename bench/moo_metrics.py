"""Cost of the multi-objective metrics (molgfn.moo) on uniform random objective vectors:
Pareto front, Pareto ranks and exact hypervolume, medians of ``--repeats`` runs.

    .venv/bin/python bench/moo_metrics.py [--repeats 3]
"""

from __future__ import annotations

from functools import partial

import numpy as np
from harness import interleave, median, parser, print_row, print_table


def main() -> None:
    args = parser(repeats=3).parse_args()
    from molgfn.moo import hypervolume, pareto_front, pareto_rank

    print(f"command: `.venv/bin/python bench/moo_metrics.py --repeats {args.repeats}`")
    print_table(["points", "k", "front size", "front (s)", "ranks (s)", "hypervolume (s)"],
                head="uniform random points in [0, 1]^k; shared 2-core machine, medians of repeats")
    for n, k in [(1000, 2), (5000, 2), (1000, 3), (1000, 4), (5000, 4)]:
        Y = np.random.default_rng(0).random((n, k))
        times = interleave({"front": partial(pareto_front, Y), "ranks": partial(pareto_rank, Y),
                            "hv": partial(hypervolume, Y)}, args.repeats)
        med = {key: median(v) for key, v in times.items()}
        print_row(f"{n:,}", k, len(pareto_front(Y)), f"{med['front']:.3f}", f"{med['ranks']:.3f}", f"{med['hv']:.3f}")


if __name__ == "__main__":
    main()
